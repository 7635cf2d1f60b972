"""GUI test helpers: drive the canvas with real mouse/key events (QTest on the viewport), make images."""

import numpy as np
from PIL import Image

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest


def vp(win, x, y):
    """Viewport point of image point (x, y) (pixel centre)."""
    return win.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))


def drag(win, points, modifier=Qt.KeyboardModifier.NoModifier):
    viewport = win.canvas.viewport()
    first = vp(win, *points[0])
    QTest.mouseMove(viewport, first)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, modifier, first)
    for p in points[1:]:
        QTest.mouseMove(viewport, vp(win, *p))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifier, vp(win, *points[-1]))


def click(win, x, y, modifier=Qt.KeyboardModifier.NoModifier):
    QTest.mouseClick(win.canvas.viewport(), Qt.MouseButton.LeftButton, modifier, vp(win, x, y))


def key(win, k, modifier=Qt.KeyboardModifier.NoModifier):
    QTest.keyClick(win.canvas, k, modifier)


def make_images(folder, n=3, size=(80, 60), seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"img{i}.png")
    return folder
