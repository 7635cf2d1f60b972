"""File > Import labels… dialog: checks on a worker, asks about unknown class names, imports, reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from importhelpers import make_images
from segstudio.core.labels import preset
from segstudio.core.project import Project

pytest.importorskip("pytestqt")


def _labelme(src, key, label):
    (src / f"{key}.json").write_text(json.dumps({
        "shapes": [{"label": label, "points": [[0, 0], [9, 9]], "shape_type": "rectangle"}],
        "imagePath": f"{key}.png", "imageHeight": 24, "imageWidth": 32}))


@pytest.fixture
def setup(tmp_path):
    folder = tmp_path / "proj"
    make_images(folder, 2, jpeg_every=0)
    project = Project(folder)
    project.set_labels(preset("camvid"))
    src = tmp_path / "lm"
    src.mkdir()
    _labelme(src, "img00", "car")
    _labelme(src, "img01", "Zebra crossing")
    return project, src


def make_dialog(qtbot, project, **kw):
    from segstudio.gui.dialogs.import_dialog import ImportDialog

    dlg = ImportDialog(project, **kw)
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def test_asks_about_unknown_names_then_imports(qtbot, setup):
    project, src = setup
    reports, saved = [], []
    dlg = make_dialog(qtbot, project, before_import=lambda: saved.append(1), after_import=reports.append)
    dlg.format.setCurrentIndex(dlg.format.findData("labelme"))
    dlg.source.setText(str(src))
    assert dlg.start()
    qtbot.waitUntil(lambda: dlg.outcome is not None, timeout=10000)
    assert dlg.outcome == "asking", dlg.result.toPlainText()
    assert saved == [1] and list(dlg.choices) == ["Zebra crossing"] and dlg.ask_box.isVisible()
    assert not (project.store / "masks").exists()                        # nothing written while asking
    combo = dlg.choices["Zebra crossing"]
    combo.setCurrentIndex(combo.findData("Road"))                          # merge into Road
    assert dlg.start()
    qtbot.waitUntil(lambda: dlg.outcome in ("done", "failed"), timeout=10000)
    assert dlg.outcome == "done", dlg.result.toPlainText()
    assert len(reports) == 1 and sorted(reports[0].written) == ["img00", "img01"]
    fresh = Project(project.folder)
    assert fresh.labels == preset("camvid")
    assert (fresh.read_mask("img01")[:10, :10] == preset("camvid").by_name("Road").id).all()
    assert "Zebra crossing -> Road" in dlg.result.toPlainText()


def test_problems_are_listed_and_nothing_written(qtbot, setup):
    project, src = setup
    project.write_mask("img00", np.zeros((24, 32), np.uint8))
    dlg = make_dialog(qtbot, project)
    dlg.source.setText(str(src))
    assert dlg.start()
    qtbot.waitUntil(lambda: dlg.outcome is not None, timeout=10000)
    assert dlg.outcome == "failed"
    assert "already have a mask of yours: img00" in dlg.result.toPlainText()
    assert not Project(project.folder).has_mask("img01")
    dlg.existing.setCurrentIndex(dlg.existing.findData("skip"))
    assert dlg.start()
    qtbot.waitUntil(lambda: dlg.outcome == "asking", timeout=10000)
    dlg.choices["Zebra crossing"].setCurrentIndex(0)                       # add as a new class
    dlg.start()
    qtbot.waitUntil(lambda: dlg.outcome == "done", timeout=10000)
    fresh = Project(project.folder)
    assert fresh.labels.names[-1] == "Zebra crossing" and fresh.labels.ignore_index == 255
    assert (fresh.read_mask("img00") == 0).all()                          # yours, kept (void 11 -> 255 unaffected)


def test_file_menu_import_reopens_the_folder(qtbot, setup, tmp_path):
    from PySide6.QtWidgets import QApplication

    from segstudio.gui.app import create_application
    from segstudio.gui.main_window import MainWindow
    from segstudio.gui.settings import AppSettings

    project, src = setup
    create_application()
    win = MainWindow(AppSettings(tmp_path / "settings.ini"), autosave_ms=100, confirm=lambda text: True)
    qtbot.addWidget(win)
    win.show()
    assert win.open_folder(project.folder)
    qtbot.waitUntil(lambda: win.document.mask is not None, timeout=5000)
    action = win.actions_.by_name["import"]
    assert action.isEnabled() and action in win.actions_.menus["file"].actions()
    before = win.project
    action.trigger()
    dlg = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "importDialog" and w.isVisible())
    dlg.source.setText(str(src))
    dlg.start()
    qtbot.waitUntil(lambda: dlg.outcome == "asking", timeout=10000)
    dlg.start()                                                           # Zebra crossing: added
    qtbot.waitUntil(lambda: dlg.outcome == "done", timeout=10000)
    assert win.project is not before and win.project.labels.names[-1] == "Zebra crossing"
    qtbot.waitUntil(lambda: win.document.mask is not None, timeout=5000)
    dlg.close()
    win.close()
