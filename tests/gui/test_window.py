"""Main window: start page, recent folders, file list (lazy, filter, reviewed), errors, labels panel."""

import math

import pytest

import numpy as np
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt

from guihelpers import make_images
from guihelpers import drag, key
from segstudio.core.project import Project, Status


def test_start_page_and_recent_folders(make_window, demo_folder):
    win = make_window()
    assert win.stack.currentWidget() is win.start_page
    assert "CamVid" in win.start_page.model_note.text()
    win.open_folder(demo_folder)
    win.close_folder()
    assert win.stack.currentWidget() is win.start_page
    assert win.settings.recent_folders()[0] == str(demo_folder.resolve())
    assert win.start_page.recent.count() == 1


def test_file_list_statuses_filter_and_mark_reviewed(window, qtbot):
    model = window.file_model
    qtbot.waitUntil(lambda: model.rowCount() == 3)
    first = window.document.key
    window.mark_reviewed()
    assert Project(window.project.folder).status(first) == Status.REVIEWED
    assert window.project.mask_path(first).exists()
    window.file_panel.filter.setCurrentIndex(window.file_panel.filter.findData(Status.REVIEWED))
    assert model.rowCount() == 1 and model.key_at(0) == first
    window.file_panel.filter.setCurrentIndex(window.file_panel.filter.findData("todo"))
    assert model.rowCount() == 2 and first not in (model.key_at(0), model.key_at(1))


def test_large_folder_lists_lazily(make_window, tmp_path, qtbot):
    folder = tmp_path / "many"
    make_images(folder, n=1)
    for i in range(3000):
        (folder / f"x{i:05d}.png").touch()      # listed, never opened
    win = make_window(folder)
    model = win.file_model
    qtbot.waitUntil(lambda: len(model.keys) == 3001, timeout=10000)
    assert model.rowCount() == 500 and model.canFetchMore()
    assert model.row_of("x02999") >= 500        # fetches up to it on demand
    assert model.rowCount() > 2500


def test_unreadable_image_reported_app_stays_up(make_window, tmp_path, qtbot):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a_broken.png").write_bytes(b"not a png at all")
    Image.new("RGB", (40, 30)).save(folder / "b_good.png")
    win = make_window()
    win.open_folder(folder)
    qtbot.waitUntil(lambda: "a_broken" in win.status.currentMessage(), timeout=5000)
    assert win.document.mask is None
    win.open_image("b_good")
    qtbot.waitUntil(lambda: win.document.key == "b_good", timeout=5000)


def test_label_panel_shares_follow_painting(window, qtbot):
    panel = window.label_panel
    key(window, Qt.Key.Key_3)
    window.tool_state.set_brush_size(1000)
    drag(window, [(40, 30), (41, 30)])          # covers the whole 80×60 image
    qtbot.waitUntil(lambda: panel.model.share(3) == 1.0, timeout=3000)
    assert panel.model.index(3, 2).data() == "100.0 %"
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: panel.model.share(3) == 0.0, timeout=3000)


def test_class_panel_click_sets_current_class(window):
    window.label_panel.table.clicked.emit(window.label_panel.model.index(7, 0))
    assert window.tool_state.current_class == 7


def test_overlay_toggle_opacity_outline_and_zoom(window):
    canvas = window.canvas
    key(window, Qt.Key.Key_Tab)
    assert not canvas.overlay_layer.isVisible()
    key(window, Qt.Key.Key_Tab)
    assert canvas.overlay_layer.isVisible()
    window.actions_.opacity.setValue(80)
    assert math.isclose(canvas.overlay_layer.opacity(), 0.8)
    key(window, Qt.Key.Key_2)
    drag(window, [(10, 10), (30, 10)])
    canvas.set_outline(True)
    buf = canvas.overlay_layer.buffer
    assert buf[10, 20] == 0 and buf[10 - 7, 20] != 0   # interior transparent, boundary coloured
    canvas.set_outline(False)
    assert canvas.overlay_layer.buffer[10, 20] != 0
    z = canvas.zoom
    from PySide6.QtTest import QTest
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtCore import QPoint
    pos = canvas.mapFromScene(QPointF(20, 20))
    ev = QWheelEvent(QPointF(pos), QPointF(canvas.viewport().mapToGlobal(pos)), QPoint(), QPoint(0, 240),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QTest.qWait(1)
    canvas.wheelEvent(ev)
    assert canvas.zoom > z
    after = canvas.mapToScene(pos)
    assert abs(after.x() - 20) < 1 and abs(after.y() - 20) < 1     # zoomed about the cursor
    canvas.actual_size()
    assert canvas.zoom == 1.0
    canvas.fit()
    assert canvas.zoom == z


def test_layout_and_opacity_remembered(make_window, demo_folder):
    win = make_window(demo_folder)
    win.actions_.opacity.setValue(33)
    win.close()
    win2 = make_window()
    assert win2.actions_.opacity.value() == 33


def test_status_bar_shows_class_under_cursor(window):
    key(window, Qt.Key.Key_4)
    drag(window, [(20, 20), (21, 20)])
    window.canvas.cursorMoved.emit(20.5, 20.5)
    assert "Pavement" in window.status.class_label.text()
    window.canvas.cursorMoved.emit(70.5, 50.5)
    assert "Unlabelled" in window.status.class_label.text()
    assert "%" in window.status.zoom_label.text()


def test_fast_scan_matches_project_keys(tmp_path):
    import os
    from segstudio.gui.panels.file_list import scan_folder
    for n in ("a.jpg", "a.png", "b10.png", "b9.PNG", ".hidden.png", "c.txt", "img2.tif"):
        (tmp_path / n).touch()
    os.mkdir(tmp_path / "dir.png")
    keys, paths, skipped, empty = scan_folder(tmp_path)
    assert empty == ""
    proj = Project(tmp_path)
    assert keys == list(proj.images) == ["a.jpg", "a.png", "b9", "b10", "img2"]
    assert [str(p) for p in paths] == [str(p) for p in proj.images.values()]
    assert len(skipped) == 1 and str(tmp_path / "dir.png") in skipped[0]     # the folder named like an image


def test_skipped_folder_entries_are_reported_in_the_window(make_window, tmp_path, qtbot):
    import os

    folder = make_images(tmp_path / "imgs", n=2)
    os.symlink("loop.png", folder / "loop.png")                 # a symlink loop
    win = make_window(folder)
    qtbot.waitUntil(lambda: "skipped" in win.status.currentMessage(), timeout=10000)
    assert str(folder / "loop.png") in win.status.currentMessage()
    assert win.file_model.rowCount() == 2


def test_pan_with_middle_drag_and_space_drag(window):
    from PySide6.QtTest import QTest
    canvas = window.canvas
    canvas.set_zoom(8.0)
    vpw = canvas.viewport()
    c = vpw.rect().center()
    before = canvas.mapToScene(c)
    QTest.mousePress(vpw, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, c)
    QTest.mouseMove(vpw, c + QPoint(40, 0))
    QTest.mouseRelease(vpw, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, c + QPoint(40, 0))
    assert canvas.mapToScene(c).x() < before.x() - 3          # content followed the pointer
    mask_before = window.document.mask.copy()
    y_before = canvas.mapToScene(c).y()
    QTest.keyPress(canvas, Qt.Key.Key_Space)
    QTest.mousePress(vpw, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, c)
    QTest.mouseMove(vpw, c + QPoint(0, 40))
    QTest.mouseRelease(vpw, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, c + QPoint(0, 40))
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    assert np.array_equal(window.document.mask, mask_before)  # panning does not paint
    assert canvas.mapToScene(c).y() < y_before - 3


@pytest.mark.camvid
def test_real_camvid_image_paint_and_autosave(make_window, camvid_dir, tmp_path, qtbot):
    import shutil
    src = sorted((camvid_dir / "val").glob("*.png"))[0]
    folder = tmp_path / "camvid"
    folder.mkdir()
    shutil.copy(src, folder / src.name)          # a copy in tmp: never into the repo
    win = make_window(folder, autosave_ms=50)
    h, w = win.document.mask.shape
    assert (h, w) == win.document.image.size
    key(win, Qt.Key.Key_8)                       # Car
    drag(win, [(w // 4, h // 2), (3 * w // 4, h // 2)])
    k = win.document.key
    qtbot.waitUntil(lambda: win.project.mask_path(k).exists(), timeout=5000)
    saved = Project(folder).read_mask(k)
    assert (saved[h // 2, w // 4:3 * w // 4] == 8).all()


def test_a_folder_without_images_says_why_and_where_images_are(make_window, qtbot, tmp_path):
    from guihelpers import make_images

    top = tmp_path / "camvid"
    make_images(top / "val", n=2)
    win = make_window()
    assert win.open_folder(top)
    qtbot.waitUntil(lambda: "these hold images: val/" in win.statusBar().currentMessage(), timeout=5000)
    assert f"{top}: no image files" in win.statusBar().currentMessage()
    assert win.file_panel.count_label.text() == "0 images"
    assert "val/" in win.file_panel.count_label.toolTip()
    assert "these hold images: val/" in win.canvas._message.text()     # in place of an image, too
    assert win.open_folder(top / "val")                        # the folder it points at opens as usual
    qtbot.waitUntil(lambda: win.document.mask is not None, timeout=10000)
    assert win.file_panel.count_label.toolTip() == "" and win.canvas._message.text() == ""
