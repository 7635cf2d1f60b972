"""Drive the SegStudio window through the prediction demo under X (used by xvfb_predict.sh).

Runs the real app in this process and steps through: open a folder, choose the model, Ctrl+R
(a real X key press via xdotool), CRF toggle (real mouse click), attach ground truth (click +
typing into the folder dialog), error overlay, confusion matrix, uncertainty heat map, accept
with Enter, batch over the unlabelled images, folder table — taking a screenshot of the X screen after each step.

Usage: python3 scripts/xvfb_predict_driver.py FOLDER MODEL.pt GT_FOLDER SHOT_DIR SETTINGS.ini
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog

from segstudio.gui.app import create_application
from segstudio.gui.main_window import MainWindow
from segstudio.gui.settings import AppSettings

FOLDER, MODEL, GT, SHOTS, SETTINGS = sys.argv[1:6]
app = create_application()
win = MainWindow(AppSettings(SETTINGS))
win.move(0, 0)
win.resize(1600, 1000)
win.show()
win.open_folder(FOLDER)
t_start = time.perf_counter()


def log(text: str) -> None:
    print(f"[{time.perf_counter() - t_start:6.1f} s] {text}", flush=True)


def sh(*cmd: str) -> None:
    subprocess.run(list(cmd), check=False)


def shot(n: int, what: str) -> None:
    path = Path(SHOTS) / f"shot8_{n}.png"
    sh("import", "-window", "root", str(path))
    log(f"{path}: {what}")


def click(widget) -> None:
    p = widget.mapToGlobal(widget.rect().center())
    sh("xdotool", "mousemove", str(p.x()), str(p.y()), "click", "1")


def focus_canvas() -> None:
    sh("xdotool", "windowfocus", "--sync", str(int(win.winId())))
    win.activateWindow()
    win.canvas.setFocus()


def dock(name: str):
    return win.docks[f"segstudio.gui.panels.{name}"]


def pause(seconds: float):
    end = time.perf_counter() + seconds
    return lambda: time.perf_counter() >= end


def script():
    ctl = win.prediction
    yield lambda: win.document.mask is not None
    win.model_panel.select_file(MODEL)            # what Browse… does
    yield pause(1.0)
    shot(1, f"opened {win.document.key}; model chosen: {Path(MODEL).name}")
    focus_canvas()
    yield pause(0.3)
    t = time.perf_counter()
    sh("xdotool", "key", "ctrl+r")
    yield lambda: ctl.current is not None and not ctl.busy
    log(f"Ctrl+R -> prediction shown after {time.perf_counter() - t:.1f} s (includes loading the model)")
    yield pause(0.5)
    shot(2, "prediction shown (hatched) after Ctrl+R")
    dock("crf_panel").raise_()
    yield pause(0.5)
    t = time.perf_counter()
    click(win.crf_panel.enable)
    yield lambda: ctl.crf_enabled and ctl.current.crf_labels is not None and not ctl.busy
    log(f"CRF toggled -> refined after {time.perf_counter() - t:.1f} s")
    yield pause(0.5)
    shot(3, "CRF on")
    metrics = win.metrics_panel
    click(metrics.attach_button)
    yield lambda: isinstance(QApplication.activeModalWidget(), QFileDialog)
    yield pause(0.8)
    sh("xdotool", "type", "--delay", "15", GT)
    yield pause(0.5)
    sh("xdotool", "key", "Return")
    yield lambda: metrics.live.ready or time.perf_counter() - t_start > 600
    dlg = QApplication.activeModalWidget()
    if isinstance(dlg, QFileDialog):               # some dialogs navigate on Enter: accept explicitly
        log("folder dialog still open after Enter; accepting it")
        dlg.accept()
    yield lambda: metrics.live.ready
    s = metrics.scores()
    log(f"metrics: source={metrics.source_used} mIoU={100 * s.miou:.2f} % pixel acc={100 * s.pixel_accuracy:.2f} %")
    yield pause(0.5)
    shot(4, "ground truth attached: per-class IoU")
    metrics.error_box.setCurrentIndex(metrics.error_box.findData("all"))
    ctl.set_show_prediction(False)
    yield pause(0.5)
    shot(5, "error overlay, all classes (red wrong class, blue void)")
    metrics.error_box.setCurrentIndex(0)
    metrics.tabs.setCurrentIndex(1)
    mp = win.model_panel
    dock("model_panel").raise_()
    mp.uncertainty_box.setCurrentIndex(mp.uncertainty_box.findData("entropy"))
    yield lambda: ctl.heat_layer.isVisible()
    yield pause(0.5)
    shot(6, "confusion matrix + entropy heat map")
    mp.uncertainty_box.setCurrentIndex(0)
    ctl.set_show_prediction(True)
    focus_canvas()
    yield pause(0.3)
    sh("xdotool", "key", "Return")
    yield lambda: win.document.history() is not None and win.document.history().can_undo()
    metrics.tabs.setCurrentIndex(0)
    yield pause(0.8)
    s = metrics.scores()
    log(f"accepted with Enter; metrics now on the mask: mIoU={100 * s.miou:.2f} %")
    shot(7, "prediction accepted into the mask (Enter)")
    batch = win.batch_panel
    dock("batch_panel").raise_()
    batch.scope_box.setCurrentIndex(batch.scope_box.findData("unlabelled"))
    t = time.perf_counter()
    click(batch.start_button)
    yield lambda: batch.summary is not None
    log(f"batch (unlabelled images): {batch.summary.text()} (wall {time.perf_counter() - t:.1f} s)")
    metrics.tabs.setCurrentIndex(2)
    metrics.folder.evaluate()
    yield lambda: metrics.folder.result is not None
    yield pause(0.5)
    shot(8, "batch over the unlabelled images, then the folder table (worst first)")
    win.close()
    app.quit()


steps = script()
deadline = [time.perf_counter() + 300]
current = [next(steps)]


def tick() -> None:
    try:
        if current[0]():
            current[0] = next(steps)
            deadline[0] = time.perf_counter() + 300
        elif time.perf_counter() > deadline[0]:
            log("step timed out")
            app.exit(3)
    except StopIteration:
        timer.stop()


timer = QTimer()
timer.timeout.connect(tick)
timer.start(100)
sys.exit(app.exec())
