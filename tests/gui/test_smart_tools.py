"""Smart canvas tools driven by real mouse events on the canvas viewport (issue 15), and the tool
buttons / polygon / brush-ring fixes of issue 13 (items 6, 8, 9)."""

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage, QPainter, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from guihelpers import OBJECT_RECT, click, drag, key, object_mask, two_tone_folder, vp

VOID = 11


def tool_checked(win):
    return sorted(n[5:] for n, a in win.actions_.by_name.items() if n.startswith("tool_") and a.isChecked())


# -- issue 13 item 6: one source of truth for the active tool ------------------------------------
def test_eraser_then_digit_leaves_exactly_one_tool_checked(window):
    key(window, Qt.Key.Key_E)
    assert window.tool_state.tool == "eraser" and tool_checked(window) == ["eraser"]
    key(window, Qt.Key.Key_3)
    assert window.tool_state.tool == "brush"
    assert tool_checked(window) == ["brush"]
    key(window, Qt.Key.Key_W)
    key(window, Qt.Key.Key_E)
    key(window, Qt.Key.Key_B)
    assert tool_checked(window) == ["brush"] and window.tool_state.tool == "brush"
    window.tool_state.set_tool("grabcut")            # from code: the buttons follow
    assert tool_checked(window) == ["grabcut"]


# -- a structured image: dark background, a red rectangle ------------------------------------------
RECT = OBJECT_RECT


@pytest.fixture
def two_tone(make_window, tmp_path):
    return make_window(two_tone_folder(tmp_path))


rect_mask = object_mask


def services(win):
    return win.canvas.tools["grabcut"].services


def wait_jobs(qtbot, win):
    qtbot.waitUntil(lambda: services(win).wait(0), timeout=10000)
    QApplication.processEvents()


def test_magic_wand_fills_the_coloured_object_and_undo_restores(two_tone):
    doc = two_tone.document
    before = doc.mask.copy()
    key(two_tone, Qt.Key.Key_2)
    key(two_tone, Qt.Key.Key_W)
    assert two_tone.tool_state.tool == "wand"
    click(two_tone, 30, 25)
    assert np.array_equal(doc.mask == 2, rect_mask())
    assert (doc.mask[~rect_mask()] == VOID).all()
    key(two_tone, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(doc.mask, before)


def test_shift_wheel_changes_the_wand_tolerance(two_tone):
    key(two_tone, Qt.Key.Key_W)
    s = two_tone.tool_state
    t0, zoom0 = s.tolerance, two_tone.canvas.zoom
    viewport = two_tone.canvas.viewport()
    pos = QPointF(vp(two_tone, 30, 25))
    ev = QWheelEvent(pos, viewport.mapToGlobal(pos), QPointF(0, 0).toPoint(), QPointF(0, 120).toPoint(),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.ShiftModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, ev)
    assert s.tolerance == t0 + 2 and two_tone.canvas.zoom == zoom0
    assert two_tone.actions_.tolerance_box.value() == s.tolerance


def test_region_relabel_takes_the_connected_region_in_one_undo_step(two_tone):
    doc = two_tone.document
    key(two_tone, Qt.Key.Key_1)
    two_tone.tool_state.set_brush_size(3)
    drag(two_tone, [(60, 0), (60, 59)])            # a wall of class 1 splitting the void
    painted = doc.mask.copy()
    key(two_tone, Qt.Key.Key_4)
    key(two_tone, Qt.Key.Key_N)
    click(two_tone, 10, 10)
    from segstudio.core import paint
    (x0, y0, x1, y1), region = paint.region_at(painted, 10, 10)
    expected = painted.copy()
    expected[y0:y1, x0:x1][region] = 4
    assert x1 <= 60 and np.array_equal(doc.mask, expected)
    assert (doc.mask[:, 63:] == VOID).all()
    key(two_tone, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(doc.mask, painted)


def test_superpixel_brush_fills_whole_superpixels(two_tone, qtbot):
    doc = two_tone.document
    key(two_tone, Qt.Key.Key_3)
    key(two_tone, Qt.Key.Key_S)
    two_tone.tool_state.set_brush_size(1)
    sv = services(two_tone)
    qtbot.waitUntil(lambda: sv.current_superpixels(start=False) is not None, timeout=10000)
    sp = sv.current_superpixels()
    drag(two_tone, [(25, 20), (45, 20)])
    from segstudio.core import paint
    st = paint.stroke_stamp((25.5, 20.5), (45.5, 20.5), 1, doc.mask.shape)
    expected = np.isin(sp.labels, sp.ids_in(st))
    assert np.array_equal(doc.mask == 3, expected)
    assert (doc.mask == 3).sum() > 21                 # more than the 1-px line itself
    assert len(doc.history().undo_stack) == 1         # the whole stroke: one undo step


def test_grabcut_box_labels_the_object(two_tone, qtbot):
    doc = two_tone.document
    key(two_tone, Qt.Key.Key_5)
    key(two_tone, Qt.Key.Key_G)
    drag(two_tone, [(14, 10), (40, 30), (56, 46)])
    wait_jobs(qtbot, two_tone)
    assert np.array_equal(doc.mask == 5, rect_mask())
    assert len(doc.history().undo_stack) == 1


def test_scribble_crf_follows_the_object_edge(two_tone, qtbot):
    from segstudio.core.crf_params import CRFParams

    doc = two_tone.document
    two_tone.tool_state.crf_params = CRFParams(bilateral_sxy=30, bilateral_srgb=10, bilateral_compat=10,
                                               iterations=10)
    key(two_tone, Qt.Key.Key_1)
    key(two_tone, Qt.Key.Key_F)
    click(two_tone, 5, 5)                              # everything class 1 (a wrong label on the object)
    assert (doc.mask == 1).all()
    key(two_tone, Qt.Key.Key_2)
    key(two_tone, Qt.Key.Key_C)
    drag(two_tone, [(26, 27), (35, 27), (44, 27)])
    wait_jobs(qtbot, two_tone)
    assert np.array_equal(doc.mask == 2, rect_mask())
    key(two_tone, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (doc.mask == 1).all()


# -- issue 13 item 8: the polygon closes within a radius in screen pixels -------------------------
def test_polygon_closes_within_eight_screen_pixels_at_any_zoom(two_tone):
    doc = two_tone.document
    canvas = two_tone.canvas
    key(two_tone, Qt.Key.Key_6)
    key(two_tone, Qt.Key.Key_P)
    for zoom in (canvas.zoom, 2.0):
        canvas.set_zoom(zoom)
        canvas.centerOn(40, 30)
        viewport = canvas.viewport()
        pts = [(10, 10), (30, 10), (30, 30)]
        for x, y in pts:
            QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(two_tone, x, y))
        first = vp(two_tone, 10, 10)
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         first + QPointF(6, 0).toPoint())          # 6 screen px away: closes
        assert not canvas.tool.points, zoom
        assert doc.mask[12, 25] == 6
        key(two_tone, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        for x, y in pts:
            QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(two_tone, x, y))
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         first + QPointF(14, 0).toPoint())         # 14 screen px away: a new vertex
        assert len(canvas.tool.points) == 4, zoom
        key(two_tone, Qt.Key.Key_Escape)
        canvas.tool.cancel()


# -- issue 13 item 9: the brush ring shows the class colour ---------------------------------------
def test_brush_ring_is_drawn_in_the_class_colour(two_tone):
    canvas = two_tone.canvas
    key(two_tone, Qt.Key.Key_8)
    key(two_tone, Qt.Key.Key_B)
    two_tone.tool_state.set_brush_size(20)
    centre = vp(two_tone, 40, 8)
    QTest.mouseMove(canvas.viewport(), centre)
    QApplication.processEvents()
    img = canvas.viewport().grab().toImage()
    want = two_tone.document.labels.color_of(8)
    r = 10 * canvas.zoom
    ring = [img.pixelColor(int(centre.x() + r + d), centre.y()) for d in (-1, 0, 1)]
    assert any(abs(c.red() - want[0]) + abs(c.green() - want[1]) + abs(c.blue() - want[2]) < 40 for c in ring), \
        [(c.red(), c.green(), c.blue()) for c in ring]
