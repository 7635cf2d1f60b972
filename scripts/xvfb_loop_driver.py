"""Screenshots of the labelling-loop additions in the real window (run by scripts/xvfb_loop.sh).

Usage: xvfb_loop_driver.py FOLDER SHOT_DIR. At 1600×1000 and 1280×720 it shows: the file list
with thumbnails sorted by uncertainty, a hidden and a locked class, the view adjustments, the
Accept all predictions dialog (after undoing the headless accept, so there is something to
accept) and Help ▸ Keyboard shortcuts. Screens are grabbed whole (dialogs over the window).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog

from segstudio.core import accept
from segstudio.core.project import Project
from segstudio.gui.app import create_application
from segstudio.gui.main_window import MainWindow
from segstudio.gui.settings import AppSettings


def pump(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def shot(path: Path) -> None:
    pump(0.4)
    QApplication.primaryScreen().grabWindow(0).save(str(path))
    print("screenshot:", path)


def dialog(win, name: str) -> QDialog:
    for _ in range(200):
        found = [d for d in win.findChildren(QDialog) if d.objectName() == name and d.isVisible()]
        if found:
            return found[-1]
        pump(0.05)
    raise SystemExit(f"{name} did not open")


def main() -> int:
    folder, shots = Path(sys.argv[1]), Path(sys.argv[2])
    shots.mkdir(parents=True, exist_ok=True)
    proj = Project(folder)
    if accept.last_record(proj) is not None:
        res = accept.revert_accept(proj)          # give the dialog something to accept
        print(f"undid the headless accept: {len(res.accepted)} masks removed")
    create_application()
    win = MainWindow(AppSettings(Path(str(folder) + ".driver.ini")))
    win.show()
    win.open_folder(folder)
    pump(3)
    for w, h in ((1600, 1000), (1280, 720)):
        win.setWindowState(Qt.WindowState.WindowNoState)
        win.move(0, 0)
        win.resize(w, h)
        pump(1)
        panel = win.file_panel
        panel.sort.setCurrentIndex(panel.sort.findData("uncertainty"))
        labels = win.label_panel.model
        labels.set_flag(3, 0, True)               # hide Sky
        labels.set_flag(4, 3, True)               # lock Road
        win.view_panel.gamma.setValue(160)
        win.view_panel.brightness.setValue(5)
        pump(2)
        shot(shots / f"loop_window_{w}x{h}.png")
        win.actions_["accept_all"].trigger()
        dlg = dialog(win, "acceptDialog")
        pump(1)
        shot(shots / f"loop_accept_{w}x{h}.png")
        dlg.close()
        win.actions_["shortcuts"].trigger()
        sd = dialog(win, "shortcutsDialog")
        shot(shots / f"loop_shortcuts_{w}x{h}.png")
        sd.close()
        labels.set_flag(3, 0, False)
        win.view_panel.reset_all()
    win.close()
    pump(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
