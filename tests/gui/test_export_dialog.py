"""File > Export… dialog: a real export on a worker thread, progress to 100 %, cancel, validation errors."""

import numpy as np
import pytest
from PIL import Image

from segstudio.core.project import Project, Status


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "proj"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(folder / f"im{i}.png")
    p = Project(folder)
    for i in range(2):
        mask = np.zeros((32, 48), np.uint8)
        mask[:, 24:] = 3
        mask[4:10, 4:10] = 11 if i else 5      # void in one of them
        p.write_mask(f"im{i}", mask, Status.EDITED)
    return p


def make_dialog(qtbot, project, **kw):
    from segstudio.gui.dialogs.export_dialog import ExportDialog

    dlg = ExportDialog(project, **kw)
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def finish(qtbot, dlg):
    qtbot.waitUntil(lambda: dlg.outcome is not None, timeout=10000)


def test_export_runs_with_progress_and_report(qtbot, project, tmp_path):
    saved = []
    dlg = make_dialog(qtbot, project, before_export=lambda: saved.append(True))
    dlg.format.setCurrentIndex(dlg.format.findData("coco"))
    out = tmp_path / "exports" / "coco"
    dlg.out_edit.setText(str(out))
    dlg.split_box.setChecked(True)
    dlg.train_pct.setValue(50)
    dlg.val_pct.setValue(50)
    assert dlg.test_label.text() == "test 0 %"
    seen = []
    dlg.progress.valueChanged.connect(lambda v: seen.append((v, dlg.progress.maximum())))
    assert dlg.start()
    assert dlg.close_btn.text() == "Cancel" and not dlg.export_btn.isEnabled()
    finish(qtbot, dlg)
    assert saved == [True]
    assert dlg.outcome == "done", dlg.result.toPlainText()
    assert dlg.progress.value() == dlg.progress.maximum() == 100
    assert any(0 < v < m for v, m in seen)          # intermediate progress arrived from the worker
    assert (out / "annotations.json").is_file() and (out / "segstudio-export.json").is_file()
    text = dlg.result.toPlainText()
    assert "train: 1 image(s)" in text and "val: 1 image(s)" in text
    assert dlg.open_btn.isEnabled() and dlg.export_btn.isEnabled() and dlg.close_btn.text() == "Close"


def test_export_shows_warnings(qtbot, project, tmp_path):
    dlg = make_dialog(qtbot, project)
    dlg.format.setCurrentIndex(dlg.format.findData("yolo-seg"))
    dlg.out_edit.setText(str(tmp_path / "yolo"))
    dlg.split_box.setChecked(True)
    dlg.train_pct.setValue(100)
    dlg.val_pct.setValue(0)
    assert dlg.split_spec() == {"train": 1.0}
    dlg.start()
    finish(qtbot, dlg)
    assert dlg.outcome == "done"
    text = dlg.result.toPlainText()
    assert "warning(s):" in text and "yolo-seg: polygons differ" in text     # the squares are holes


def test_cancel_leaves_nothing(qtbot, project, tmp_path):
    dlg = make_dialog(qtbot, project)
    out = tmp_path / "deep" / "voc"
    dlg.out_edit.setText(str(out))

    def hook(done, total, message):          # runs on the worker thread, before the GUI hears of it
        if message.startswith("writing"):
            dlg.cancel_event.set()

    dlg.worker_progress_hook = hook
    dlg.start()
    finish(qtbot, dlg)
    assert dlg.outcome == "cancelled"
    assert "nothing was written" in dlg.status.text()
    assert not out.exists() and not (tmp_path / "deep").exists()
    assert list(tmp_path.glob("**/*.partial-*")) == []


def test_cancel_button_sets_the_event(qtbot, project, tmp_path):
    dlg = make_dialog(qtbot, project)
    dlg.out_edit.setText(str(tmp_path / "png"))
    gate = []

    def hook(done, total, message):
        if message.startswith("writing") and not gate:
            gate.append(True)
            while not dlg.cancel_event.is_set():     # wait for the GUI thread's Cancel
                import time
                time.sleep(0.005)

    dlg.worker_progress_hook = hook
    dlg.start()
    qtbot.waitUntil(lambda: bool(gate), timeout=5000)
    dlg.close_btn.click()                            # "Cancel" while running
    finish(qtbot, dlg)
    assert dlg.outcome == "cancelled" and not (tmp_path / "png").exists()


def test_validation_problems_are_shown_not_raised(qtbot, project, tmp_path):
    dlg = make_dialog(qtbot, project)
    dlg.only.setCurrentIndex(dlg.only.findData("reviewed"))     # nothing is reviewed
    dlg.out_edit.setText(str(project.store / "inside"))         # inside the project's store: refused
    dlg.split_box.setChecked(True)
    dlg.train_pct.setValue(90)
    dlg.val_pct.setValue(30)                                    # adds up to 120 %
    assert "exceed" in dlg.test_label.text()
    dlg.start()
    finish(qtbot, dlg)
    assert dlg.outcome == "failed"
    text = dlg.result.toPlainText()
    assert "problem(s)" in dlg.status.text()
    assert text.count("  • ") >= 3, text
    assert "'test' must be >= 0" in text and "no image selected" in text
    assert not (project.store / "inside").exists()
    assert dlg.isVisible() and dlg.export_btn.isEnabled()


def test_existing_folder_hint(qtbot, project, tmp_path):
    other = tmp_path / "taken"
    other.mkdir()
    (other / "file.txt").write_text("x")
    dlg = make_dialog(qtbot, project)
    dlg.out_edit.setText(str(other))
    assert "not empty" in dlg.status.text()


def test_menu_opens_export_dialog(make_window, project, qtbot, monkeypatch):
    from segstudio.gui.dialogs.export_dialog import ExportDialog

    win = make_window()
    assert not win.actions_["export"].isEnabled() and not win.actions_["retrain"].isEnabled()
    assert win.actions_["export"] in win.menus["file"].actions()
    assert win.actions_["retrain"] in win.menus["model"].actions()
    assert win.actions_["about"] in win.menus["help"].actions()
    win.open_folder(project.folder)
    qtbot.waitUntil(lambda: win.document.mask is not None, timeout=5000)
    assert win.actions_["export"].isEnabled()
    win.actions_["export"].trigger()
    dialogs = [w for w in win.findChildren(ExportDialog) if w.isVisible()]
    assert len(dialogs) == 1
    dialogs[0].close()
    shown = []
    monkeypatch.setattr("segstudio.gui.about.show_about", lambda parent=None, device=None: shown.append(parent))
    win.actions_["about"].trigger()
    assert shown == [win]
