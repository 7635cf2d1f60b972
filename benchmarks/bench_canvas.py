"""Canvas benchmark: stroke-to-repaint latency on 2K, 8K and 16K images, undo memory.

Runs offscreen. For each size it opens a synthetic image in the real main window, then
drags a brush with QTest mouse events and measures, per mouse-move event, the time from
sending the event to the end of the overlay layer's paint of the dirty rectangle
(p50/p95/max), at 1:1 zoom and at fit-to-window zoom. Goal: p95 < 16 ms at 8K.
Then it records 500 undo steps (200 px strokes, 30 px brush) on the 8K mask and prints the
bytes they hold (budget 64 MB).

    python3 benchmarks/bench_canvas.py [--sizes 2048,8192,16384] [--moves 120]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

if "QT_QPA_PLATFORM" not in os.environ:   # offscreen, with a 1920×1200 screen (default is 800×600)
    _cfg = Path(tempfile.gettempdir()) / "segstudio-bench-screen.json"
    _cfg.write_text('{"screens": [{"name": "bench", "x": 0, "y": 0, "width": 1920, "height": 1200, '
                    '"logicalDpi": 96, "dpr": 1}]}')
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={_cfg}"
os.environ.setdefault("SEGSTUDIO_SETTINGS", str(Path(tempfile.gettempdir()) / "segstudio-bench-settings.ini"))

import numpy as np  # noqa: E402
from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from segstudio.core import paint  # noqa: E402
from segstudio.core.images import LoadedImage  # noqa: E402
from segstudio.core.project import Project  # noqa: E402
from segstudio.gui.app import create_application  # noqa: E402
from segstudio.gui.loader import LoadResult  # noqa: E402
from segstudio.gui.main_window import MainWindow  # noqa: E402
from segstudio.gui.settings import AppSettings  # noqa: E402


def synthetic(size: int) -> np.ndarray:
    y = (np.arange(size, dtype=np.uint32) * 255 // size).astype(np.uint8)
    rgb = np.empty((size, size, 3), np.uint8)
    rgb[..., 0] = y[:, None]
    rgb[..., 1] = y[None, :]
    rgb[..., 2] = 90
    return rgb


def open_synthetic(win: MainWindow, folder: Path, size: int) -> float:
    """Put a size×size image in the window as the loader would; returns preparation seconds."""
    doc = win.document
    if doc.project is None:
        project = Project(folder)
        doc.set_project(project)
        win.project = project
        win._show_workspace()
    labels = doc.labels
    rgb = synthetic(size)
    mask = np.full((size, size), labels.void_value, labels.dtype)
    mask[: size // 2, :] = 0
    res = LoadResult(0, f"synthetic{size}", folder / f"synthetic{size}.png", labels,
                     LoadedImage(rgb, folder / "x.png", "RGB", "uint8"), mask, "void")
    t = time.perf_counter()
    res.counts = paint.histogram(mask, labels.max_value + 1)
    win.canvas.prepare(res)          # done on the loader thread in the app
    prep = time.perf_counter() - t
    doc._on_loaded(res)
    QApplication.processEvents()
    return prep


def drag_latency(win: MainWindow, moves: int, step_px: int) -> list[float]:
    """Latency (ms) of each mouse-move: event sent -> overlay paint finished."""
    canvas = win.canvas
    vpw = canvas.viewport()
    overlay = canvas.overlay_layer
    rect = vpw.rect()
    y = rect.center().y()
    x = rect.left() + 40
    QTest.mouseMove(vpw, rect.center())
    QTest.mousePress(vpw, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, canvas.viewport().rect().center())
    QApplication.processEvents()
    out = []
    for i in range(moves):
        x = rect.left() + 40 + (i * step_px) % max(1, rect.width() - 80)
        yy = y + int(40 * np.sin(i / 7))
        t0 = time.perf_counter()
        QTest.mouseMove(vpw, rect.topLeft() + QPointF(x, yy).toPoint())
        deadline = t0 + 2.0
        while overlay.last_paint < t0 and time.perf_counter() < deadline:
            QApplication.processEvents()
        out.append((overlay.last_paint - t0) * 1000)
    QTest.mouseRelease(vpw, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    QApplication.processEvents()
    return out


def stats(ms: list[float]) -> str:
    a = np.array(ms)
    return f"p50 {np.percentile(a, 50):6.2f} ms  p95 {np.percentile(a, 95):6.2f} ms  max {a.max():6.2f} ms"


def undo_memory(win: MainWindow, steps: int = 500) -> tuple[int, float, int, int]:
    doc = win.document
    unchanged = 0
    rng = np.random.default_rng(0)
    h, w = doc.mask.shape
    t = time.perf_counter()
    for i in range(steps):
        x, y = rng.uniform(0, w - 250), rng.uniform(0, h - 250)
        doc.begin_stroke("Brush")
        for k in range(10):   # a 200 px stroke in 10 mouse moves
            doc.stroke((x + 20 * k, y + 8 * k), (x + 20 * (k + 1), y + 8 * (k + 1)), 30, 1 + i % 10)
        unchanged += doc.end_stroke() is None
    dt = (time.perf_counter() - t) / steps * 1000
    hist = doc.histories.get(doc.key)
    return doc.histories.nbytes, dt, len(hist), unchanged


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2048,8192,16384")
    ap.add_argument("--moves", type=int, default=120)
    args = ap.parse_args()
    app = create_application()
    tmp = Path(tempfile.mkdtemp(prefix="segstudio-bench-"))
    win = MainWindow(AppSettings(tmp / "settings.ini"), autosave_ms=3_600_000)
    win.resize(1600, 1000)
    win.show()
    QApplication.processEvents()
    win.tool_state.set_class(3)
    print(f"window {win.width()}×{win.height()}, platform {app.platformName()}, {args.moves} mouse moves per run")
    for size in [int(s) for s in args.sizes.split(",")]:
        prep = open_synthetic(win, tmp, size)
        vp = win.canvas.viewport()
        print(f"\n{size}×{size}: overlay + display buffers prepared in {prep * 1000:.0f} ms (loader thread); "
              f"canvas viewport {vp.width()}×{vp.height()}")
        win.canvas.actual_size()
        win.tool_state.set_brush_size(30)
        print(f"  1:1 zoom, 30 px brush     : {stats(drag_latency(win, args.moves, 9))}")
        win.canvas.fit()
        win.tool_state.set_brush_size(max(30, size // 50))
        print(f"  fit ({win.canvas.zoom * 100:.1f} %), {win.tool_state.brush_size} px brush: "
              f"{stats(drag_latency(win, args.moves, 9))}")
        if size == 8192:
            win.document.histories.clear()
            nbytes, per_step, kept, unchanged = undo_memory(win)
            print(f"  500 undo steps (200 px strokes, 30 px brush): {nbytes / 2**20:.2f} MB held, "
                  f"{kept} steps kept ({unchanged} strokes changed nothing), "
                  f"{per_step:.2f} ms per stroke (stamp+record+compress+journal)")
        win.document.histories.clear()
        win.document.saver.dirty.clear()
        win.document._clear_image()
        win.canvas.image_layer.set_buffer(None)
        win.canvas.overlay_layer.set_buffer(None)
    win.document.saver.timer.stop()
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
