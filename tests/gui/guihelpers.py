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


OBJECT_RECT = (20, 15, 50, 40)   # x0, y0, x1, y1 of the red object in :func:`two_tone_folder`


def two_tone_folder(root, name="two_tone"):
    """A folder with one 80×60 image: a dark background and a red rectangle (OBJECT_RECT), light noise."""
    rng = np.random.default_rng(1)
    rgb = np.full((60, 80, 3), (30, 40, 50), np.int16)
    x0, y0, x1, y1 = OBJECT_RECT
    rgb[y0:y1, x0:x1] = (220, 60, 40)
    rgb = np.clip(rgb + rng.integers(-4, 5, rgb.shape), 0, 255).astype(np.uint8)
    folder = root / name
    folder.mkdir()
    Image.fromarray(rgb).save(folder / "a.png")
    return folder


def object_mask():
    m = np.zeros((60, 80), bool)
    x0, y0, x1, y1 = OBJECT_RECT
    m[y0:y1, x0:x1] = True
    return m
