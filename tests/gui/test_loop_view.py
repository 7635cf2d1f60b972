"""Issue 13 item 9: the window around the loop — the left dock keeps its width when the error
legend appears, Fit and 1:1 stay visible at 1280×720, the confusion matrix opens enlarged with
names, counts and rates, the folder table refreshes after a batch, Undo/Redo name their step,
and the uncertainty overlay explains itself (note when blank, colour scale when shown)."""

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDockWidget

from guihelpers import drag, key
from predhelpers import load_and_wait, run_and_wait, tiny_checkpoint
from segstudio.core.labels import preset
from segstudio.core.masks import write_mask
from segstudio.core.project import Project
from segstudio.gui.prediction.engine import ModelSpec
from test_metrics_panel import _attach, labelled  # noqa: F401 - the fixture


def test_error_legend_does_not_widen_the_left_dock(make_window, labelled, qtbot):
    folder, gt_dir = labelled
    win = make_window(folder)
    win.resize(1280, 720)
    panel = _attach(win, qtbot, gt_dir)
    dock = win.findChild(QDockWidget, "metrics_dock")
    win.resizeDocks([dock], [290], Qt.Orientation.Horizontal)       # as narrow as the dock
    QApplication.processEvents()
    width, zoom = dock.width(), win.canvas.zoom
    panel.error_box.setCurrentIndex(panel.error_box.findData(9))      # the longest legend: one class
    assert "false negative" in panel.legend.text()
    qtbot.wait(100)                                                 # let the layout settle
    assert dock.minimumSizeHint().width() <= width                  # nothing forces it wider …
    assert dock.width() == width and win.canvas.zoom == zoom        # … and it did not widen


def test_fit_and_actual_size_visible_at_1280x720(window, qtbot):
    window.resize(1280, 720)
    QApplication.processEvents()
    for name in ("fit", "actual_size"):
        act = window.actions_[name]
        bars = [tb for tb in window.actions_.toolbars if act in tb.actions()]
        assert bars, name
        button = bars[0].widgetForAction(act)
        assert button is not None and button.isVisible(), f"{name} is hidden in the tool bar overflow"


def test_confusion_matrix_enlarged_with_names_counts_and_rates(make_window, labelled, qtbot):
    folder, gt_dir = labelled
    win = make_window(folder)
    panel = _attach(win, qtbot, gt_dir)
    small = panel.heat
    small.resize(290, 290)
    left, top, cell, rotated = small._geometry()
    assert left > 40 and top > 0 and not rotated                   # dock: "id name" rows, id columns
    panel.enlarge_button.click()
    dlg = panel.confusion_dialog
    assert dlg is not None and dlg.isVisible()
    np.testing.assert_array_equal(dlg.heat.matrix, panel.live.matrix)
    assert dlg.heat.names == win.document.labels.names
    dlg.heat.resize(800, 700)
    _, _, big_cell, big_rotated = dlg.heat._geometry()
    assert big_rotated and big_cell > 2 * dlg.heat.fontMetrics().height()  # names on both axes, two lines
    drag(win, [(5, 5), (70, 50)])                                   # follows live
    qtbot.waitUntil(lambda: np.array_equal(dlg.heat.matrix, panel.live.matrix), timeout=3000)


def test_folder_table_refreshes_after_a_batch(make_window, demo_folder, tmp_path, qtbot):
    labels = preset("camvid")
    gt_dir = tmp_path / "gt"
    for k in Project(demo_folder).keys():
        write_mask(gt_dir / f"{k}.png", np.zeros((60, 80), np.uint8), labels)
    win = make_window(demo_folder)
    assert win.metrics_panel.attach_ground_truth(gt_dir)
    folder = win.metrics_panel.folder
    folder.evaluate()
    qtbot.waitUntil(lambda: folder.result is not None and not folder.running, timeout=10000)
    assert folder.model.rowCount() == 0                             # nothing predicted yet
    win.model_panel.select_file(tiny_checkpoint(tmp_path / "tiny.pt"))
    panel = win.batch_panel
    assert panel.start("all")
    qtbot.waitUntil(lambda: panel.summary is not None, timeout=30000)
    qtbot.waitUntil(lambda: folder.model.rowCount() == 3 and not folder.running, timeout=10000)
    assert {r.source for r in folder.model.rows} == {"prediction"}


def test_undo_and_redo_name_their_step(window):
    undo, redo = window.actions_["undo"], window.actions_["redo"]
    assert not undo.isEnabled()
    key(window, Qt.Key.Key_2)
    drag(window, [(5, 5), (40, 5)])
    assert undo.text().replace("&", "") == "Undo Brush"
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "Brush" in redo.text() and redo.isEnabled()
    assert undo.text().replace("&", "") == "Undo"


def test_uncertainty_note_when_blank_and_scale_when_shown(make_window, demo_folder, tmp_path, qtbot):
    win = make_window(demo_folder)
    mp = win.model_panel
    box = mp.uncertainty_box
    box.setCurrentIndex(box.findData("entropy"))
    assert not mp.uncertainty_note.isHidden() and "run the model" in mp.uncertainty_note.text()
    assert mp.uncertainty_scale.isHidden()
    load_and_wait(win, qtbot, ModelSpec(str(tiny_checkpoint(tmp_path / "tiny.pt")), device="cpu"), prefetch=False)
    run_and_wait(win, qtbot)
    assert mp.uncertainty_note.isHidden() and not mp.uncertainty_scale.isHidden()
