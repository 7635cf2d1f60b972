"""Accept all predictions (dialog, worker, undo), Help ▸ Keyboard shortcuts, per-class hide/lock,
view-only adjustments, file-list thumbnails and "next image needing attention"."""

import threading

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction

from segstudio.core import accept, attention, thumbs
from segstudio.core.project import Project, Status


def predicted_folder(folder):
    """img0..img3 predicted (class 1 at the top, 2 below); img3 also has the user's own mask."""
    from guihelpers import make_images

    make_images(folder, n=4)
    proj = Project(folder)
    pred = np.full((60, 80), 2, np.uint8)
    pred[:30] = 1
    for i in range(4):
        proj.write_prediction(f"img{i}", pred)
    user = np.full((60, 80), 5, np.uint8)
    proj.write_mask("img3", user)
    return folder, pred, user


def open_dialog(win, qtbot):
    win.actions_["accept_all"].trigger()
    dlg = _find(win, "acceptDialog")
    qtbot.waitUntil(lambda: dlg.plan is not None, timeout=5000)
    return dlg


def _find(win, name):
    from PySide6.QtWidgets import QDialog

    found = [d for d in win.findChildren(QDialog) if d.objectName() == name and d.isVisible()]
    assert found, f"{name} not shown"
    return found[-1]


def test_accept_all_writes_masks_never_over_user_and_undoes(make_window, qtbot, tmp_path):
    folder, pred, user = predicted_folder(tmp_path / "imgs")
    win = make_window(folder)
    assert win.document.key == "img0"
    dlg = open_dialog(win, qtbot)
    assert dlg.plan.keys == ["img0", "img1", "img2"]
    assert "3 images will be accepted" in dlg.plan_label.text() and "1 with your masks" in dlg.plan_label.text()
    qtbot.mouseClick(dlg.accept_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.result_ is not None, timeout=10000)
    win.wait_idle()
    proj = Project(folder)
    for k in ("img0", "img1", "img2"):
        assert np.array_equal(proj.read_mask(k), pred), k
        assert proj.status(k) == Status.EDITED
    assert np.array_equal(proj.read_mask("img3"), user)            # the user's mask is untouched
    qtbot.waitUntil(lambda: all(win.file_model.status_of(i) == Status.EDITED for i in range(4)), timeout=5000)
    # the open image got the accepted mask as one undo step of its own history
    assert np.array_equal(win.document.mask, pred)
    assert win.document.history().can_undo()
    # "Undo this accept" removes the masks that are still as accepted and restores the statuses
    assert dlg.undo_button.isVisible()
    qtbot.mouseClick(dlg.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.undo_button.isVisible(), timeout=5000)
    proj = Project(folder)
    assert not proj.has_mask("img1") and proj.status("img1") == Status.PREDICTED
    assert np.array_equal(proj.read_mask("img3"), user)


def test_accept_selected_scope_and_cancel(make_window, qtbot, tmp_path, monkeypatch):
    folder, pred, _ = predicted_folder(tmp_path / "imgs")
    win = make_window(folder)
    view = win.file_panel.view
    view.selectionModel().clearSelection()
    for row in (1, 2):
        view.selectionModel().select(win.file_model.index(row),
                                     view.selectionModel().SelectionFlag.Select)
    dlg = open_dialog(win, qtbot)
    assert dlg.scope_selected.isEnabled() and "(2)" in dlg.scope_selected.text()
    dlg.scope_selected.setChecked(True)
    qtbot.waitUntil(lambda: dlg.plan is not None and dlg.plan.keys == ["img1", "img2"], timeout=5000)
    gate, entered = threading.Event(), threading.Event()
    real = accept.accepted_mask

    def slow(project, key, crf=None):             # worker thread: hold the first image until cancelled
        entered.set()
        gate.wait(5)
        return real(project, key, crf)

    monkeypatch.setattr(accept, "accepted_mask", slow)
    qtbot.mouseClick(dlg.accept_button, Qt.MouseButton.LeftButton)
    assert dlg.running and dlg.cancel_button.text() == "Cancel"
    assert entered.wait(5)
    qtbot.mouseClick(dlg.cancel_button, Qt.MouseButton.LeftButton)
    gate.set()
    qtbot.waitUntil(lambda: dlg.result_ is not None, timeout=10000)
    assert dlg.result_.cancelled and dlg.result_.accepted == ["img1"]
    proj = Project(folder)
    assert proj.has_mask("img1") and not proj.has_mask("img2") and not proj.has_mask("img0")


def test_shortcuts_dialog_is_generated_from_the_actions(make_window, qtbot, tmp_path):
    from segstudio.gui.dialogs.shortcuts_dialog import shortcut_rows

    win = make_window()
    extra = QAction("Late panel action", win)
    extra.setShortcut("Ctrl+Alt+K")
    win.addAction(extra)
    win.actions_["shortcuts"].trigger()
    dlg = _find(win, "shortcutsDialog")
    rows = {(name, keys) for _menu, name, keys in dlg.rows}
    assert ("Undo", "Ctrl+Z") in rows and ("Late panel action", "Ctrl+Alt+K") in rows
    assert ("Next image needing attention", "Ctrl+J") in rows
    assert dlg.rows == shortcut_rows(win)
    menus = {name: menu for menu, name, _ in dlg.rows}
    assert menus["Undo"] == "Edit" and menus["Late panel action"] == "Canvas / keys"
    dlg.filter.setText("ctrl+z")
    shown = [dlg.table.item(r, 0).text() for r in range(dlg.table.rowCount()) if not dlg.table.isRowHidden(r)]
    assert "Undo" in shown and "Save" not in shown


def test_locked_class_is_never_painted_and_hidden_class_not_drawn(make_window, qtbot, tmp_path):
    folder, pred, _ = predicted_folder(tmp_path / "imgs")
    win = make_window(folder)
    doc, model = win.document, win.label_panel.model
    doc.apply_mask(pred, "Accept prediction")
    lock_col, hide_col = 4, 3
    assert model.setData(model.index(1, lock_col), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert doc.locked_classes == {1}
    doc.begin_stroke("Brush")
    doc.stroke((0.0, 25.0), (80.0, 35.0), 20, 7)             # across class 1 (top) and class 2 (bottom)
    doc.end_stroke()
    assert (doc.mask[:30] == 1).all()                        # locked: untouched
    assert (doc.mask[30:] == 7).any()
    assert doc.fill_polygon([(0, 0), (80, 0), (80, 10)], 4) is False
    model.setData(model.index(1, lock_col), Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert doc.locked_classes == set()
    model.setData(model.index(1, hide_col), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    overlay = win.canvas.overlay_layer.buffer
    assert (overlay[:10] == 0).all() and (overlay[50:] != 0).all()
    doc.begin_stroke("Brush")
    doc.stroke((40.0, 5.0), (41.0, 5.0), 4, 3)               # edits keep the hidden class hidden
    doc.end_stroke()
    overlay = win.canvas.overlay_layer.buffer
    assert overlay[5, 40] != 0 and overlay[0, 0] == 0
    key_col = [model.index(r, 1).data() for r in range(model.rowCount())]
    assert key_col[:3] == ["0", "1", "2"] and all(key_col[:model.rowCount()])


def test_view_adjustments_change_the_display_only(window, qtbot):
    rgb_before = window.document.image.rgb.copy()
    panel = window.view_panel
    panel.gamma.setValue(200)
    panel.brightness.setValue(10)
    shown = window.canvas.image_layer.buffer
    assert not np.array_equal(shown, rgb_before)
    assert np.array_equal(shown, panel.adjust().lut()[rgb_before])
    assert np.array_equal(window.document.image.rgb, rgb_before)     # the data is unchanged
    panel.reset_all()
    assert np.array_equal(window.canvas.image_layer.buffer, rgb_before)


def test_thumbnails_only_for_painted_rows_made_off_thread_and_cached(make_window, qtbot, tmp_path):
    from guihelpers import make_images

    folder = make_images(tmp_path / "many", n=40, size=(64, 48))
    win = make_window(folder)
    model = win.file_model
    win.file_panel.view.resize(200, 120)                     # a few rows on screen
    qtbot.waitUntil(lambda: model.thumbs.made >= 1, timeout=5000)
    model.wait()
    made = model.thumbs.made
    assert 1 <= made < 40                                    # only what the view painted
    key = model.key_at(0)
    assert thumbs.cache_path(Project(folder).store, key, 48).exists()
    ix = model.index(0)
    # the pool being done does not mean its results were delivered: they come back to the GUI
    # thread through queued signals, so the row shows its status dot until the event loop runs
    qtbot.waitUntil(lambda: ix.data(Qt.ItemDataRole.DecorationRole).actualSize(
        win.file_panel.view.iconSize()).width() == 48, timeout=5000)
    for row in range(model.rowCount()):                      # asking never waits: work is queued
        model.index(row).data(Qt.ItemDataRole.DecorationRole)
    assert len(model.thumbs._queue) <= model.thumbs.MAX_QUEUE
    qtbot.waitUntil(lambda: model.thumbs.made >= 40, timeout=20000)


def test_sort_and_next_image_needing_attention(make_window, qtbot, tmp_path):
    from guihelpers import make_images

    folder = make_images(tmp_path / "imgs", n=4)
    proj = Project(folder)
    attention.record_scores(proj, {"img0": 0.1, "img2": 0.9, "img3": 0.5})
    win = make_window(folder)
    panel = win.file_panel
    panel.sort.setCurrentIndex(panel.sort.findData("uncertainty"))
    qtbot.waitUntil(lambda: win.file_model.key_at(0) == "img2", timeout=5000)
    assert [win.file_model.key_at(r) for r in range(4)] == ["img2", "img3", "img0", "img1"]
    act = next(a for a in win.actions() if a.objectName() == "next_attention")
    win.open_image("img1")
    qtbot.waitUntil(lambda: win.document.key == "img1", timeout=5000)
    act.trigger()
    qtbot.waitUntil(lambda: win.document.key == "img2", timeout=5000)
    act.trigger()
    qtbot.waitUntil(lambda: win.document.key == "img3", timeout=5000)
    panel.sort.setCurrentIndex(panel.sort.findData(None))
    qtbot.waitUntil(lambda: win.file_model.key_at(0) == "img0", timeout=5000)
