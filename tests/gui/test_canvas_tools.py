"""Canvas tools driven by real mouse and key events; the class-index mask is checked."""

import numpy as np
from PySide6.QtCore import Qt

from guihelpers import click, drag, key

VOID = 11  # CamVid, the default label set


def test_default_labels_are_camvid_and_mask_starts_void(window):
    assert window.document.labels.name == "camvid"
    assert (window.document.mask == VOID).all()


def test_brush_stroke_paints_current_class(window):
    key(window, Qt.Key.Key_2)
    assert window.tool_state.current_class == 2
    window.tool_state.set_brush_size(5)
    drag(window, [(10, 20), (30, 20), (50, 22)])
    m = window.document.mask
    assert (m[20, 10:31] == 2).all()          # continuous along the stroke
    assert m[22, 50] == 2 and m[5, 5] == VOID and m[40, 40] == VOID


def test_undo_redo_restore_exact_arrays(window):
    doc = window.document
    window.tool_state.set_brush_size(7)
    states = [doc.mask.copy()]
    for cls, y in ((1, 10), (4, 14), (8, 40)):
        key(window, getattr(Qt.Key, f"Key_{cls}"))
        drag(window, [(5, y), (60, y + 5)])
        states.append(doc.mask.copy())
    for i in (2, 1, 0):
        key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert np.array_equal(doc.mask, states[i])
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(doc.mask, states[1])
    key(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(doc.mask, states[2])


def test_eraser_writes_void(window):
    doc = window.document
    window.tool_state.set_brush_size(9)
    key(window, Qt.Key.Key_3)
    drag(window, [(10, 30), (70, 30)])
    key(window, Qt.Key.Key_E)
    window.tool_state.set_brush_size(3)
    drag(window, [(40, 20), (40, 40)])
    assert doc.mask[30, 40] == VOID and doc.mask[30, 20] == 3


def test_brush_size_keys_and_clamp(window):
    s = window.tool_state
    s.set_brush_size(20)
    key(window, Qt.Key.Key_BracketRight)
    assert s.brush_size > 20
    key(window, Qt.Key.Key_BracketLeft)
    key(window, Qt.Key.Key_BracketLeft)
    assert s.brush_size < 20
    s.set_brush_size(5000)
    assert s.brush_size == 1000


def test_flood_fill_contiguous_region(window):
    doc = window.document
    key(window, Qt.Key.Key_1)
    window.tool_state.set_brush_size(3)
    drag(window, [(40, 0), (40, 59)])          # a wall splitting the image
    key(window, Qt.Key.Key_5)
    key(window, Qt.Key.Key_F)
    click(window, 10, 10)
    m = doc.mask
    assert (m[:, :38] == 5).all() and (m[:, 43:] == VOID).all() and m[30, 40] == 1


def test_polygon_fill_with_enter_and_double_click(window):
    doc = window.document
    key(window, Qt.Key.Key_6)
    key(window, Qt.Key.Key_P)
    for p in ((10, 10), (50, 10), (50, 40)):
        click(window, *p)
    assert (doc.mask == VOID).all()            # not closed yet
    key(window, Qt.Key.Key_Return)
    assert doc.mask[15, 40] == 6 and doc.mask[35, 15] == VOID
    from PySide6.QtTest import QTest
    from guihelpers import vp
    key(window, Qt.Key.Key_7)
    click(window, 60, 45)
    click(window, 75, 45)
    QTest.mouseDClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(window, 75, 58))
    assert doc.mask[50, 72] == 7


def test_replace_class_in_rectangle(window):
    doc = window.document
    window.tool_state.set_brush_size(5)
    key(window, Qt.Key.Key_2)
    drag(window, [(5, 30), (75, 30)])
    key(window, Qt.Key.Key_8)
    window.tool_state.set_tool("replace")
    drag(window, [(20, 30), (50, 26)])         # starts on class 2: 2 -> 8 inside the rectangle
    m = doc.mask
    assert (m[30, 20:51] == 8).all() and m[30, 10] == 2 and m[30, 60] == 2
    assert (m[31, 20:51] == 2).all() and (m[26, 20:51] == VOID).all()


def test_alt_click_picks_class(window):
    window.tool_state.set_brush_size(9)
    key(window, Qt.Key.Key_4)
    drag(window, [(30, 30), (31, 30)])
    key(window, Qt.Key.Key_0)
    click(window, 30, 30, Qt.KeyboardModifier.AltModifier)
    assert window.tool_state.current_class == 4
    assert window.document.mask[30, 30] == 4   # alt-click did not paint


def test_preserve_labels_paints_only_void(window):
    doc = window.document
    window.tool_state.set_brush_size(5)
    key(window, Qt.Key.Key_1)
    drag(window, [(40, 5), (40, 55)])
    key(window, Qt.Key.Key_L)
    assert window.tool_state.preserve
    key(window, Qt.Key.Key_9)
    drag(window, [(10, 30), (70, 30)])
    assert doc.mask[30, 40] == 1 and doc.mask[30, 20] == 9 and doc.mask[30, 60] == 9


def test_fixed_pixels_track_painting_not_erasing(window):
    doc = window.document
    window.tool_state.set_brush_size(3)
    key(window, Qt.Key.Key_2)
    drag(window, [(10, 10), (20, 10)])
    fixed = window.fixed_pixels()
    assert fixed.shape == doc.mask.shape and fixed[10, 15] and not fixed[40, 40]
    assert fixed.sum() == (doc.mask == 2).sum()


def test_press_right_after_a_click_still_paints(window):
    """Qt turns a quick second press into a double-click event; the brush must still paint."""
    from PySide6.QtTest import QTest
    from guihelpers import vp
    window.tool_state.set_brush_size(3)
    key(window, Qt.Key.Key_1)
    click(window, 20, 20)
    viewport = window.canvas.viewport()
    QTest.mouseDClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(window, 20, 20))
    QTest.mouseMove(viewport, vp(window, 40, 20))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(window, 60, 20))
    assert (window.document.mask[20, 20:61] == 1).all()
