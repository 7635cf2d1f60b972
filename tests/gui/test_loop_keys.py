"""Issue 13 items 5 and 7: canvas keys yield to text fields and combo boxes (one event filter),
Enter accepts from anywhere but a text field, the wheel leaves unfocused dock widgets alone,
and class keys cover classes past ten and any key set in the label editor."""

from dataclasses import replace

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDockWidget, QLineEdit

from guihelpers import key
from segstudio.core.class_keys import class_key, class_keys, normalize_key
from segstudio.core.labels import preset
from segstudio.core.project import Project

SHIFT = Qt.KeyboardModifier.ShiftModifier


def _show_dock(win, name):
    dock = win.findChild(QDockWidget, name)
    dock.show()
    dock.raise_()
    QApplication.processEvents()
    return dock


def _focus(qtbot, w):
    w.window().activateWindow()
    w.setFocus(Qt.FocusReason.OtherFocusReason)
    qtbot.waitUntil(w.hasFocus, timeout=2000)


def test_tab_and_digits_in_a_crf_field_stay_in_the_field(window, qtbot):
    _show_dock(window, "crf_dock")
    spin = window.crf_panel.spins["iterations"]
    overlay = window.actions_["toggle_overlay"]
    cls = window.tool_state.current_class
    _focus(qtbot, spin)
    spin.lineEdit().selectAll()
    QTest.keyClick(spin, Qt.Key.Key_7)
    assert window.tool_state.current_class == cls            # the digit went into the field
    assert spin.lineEdit().text().startswith("7")
    QTest.keyClick(spin, Qt.Key.Key_Tab)
    assert overlay.isChecked()                               # Tab did not hide the overlay …
    assert not spin.hasFocus()                               # … it moved the focus


def test_tool_letters_go_into_a_line_edit(window, qtbot):
    dock = QDockWidget("Notes", window)
    dock.setObjectName("notes_dock")
    edit = QLineEdit()
    dock.setWidget(edit)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.show()
    _focus(qtbot, edit)
    window.tool_state.set_tool("eraser")
    QTest.keyClicks(edit, "bf[")
    assert edit.text() == "bf[" and window.tool_state.tool == "eraser"
    key(window, Qt.Key.Key_B)                                # on the canvas the letter still is a tool key
    assert window.tool_state.tool == "brush"


def _with_saved_prediction(make_window, demo_folder):
    proj = Project(demo_folder)
    k = proj.keys()[0]
    h, w = proj.read_image(k).size
    proj.write_prediction(k, np.full((h, w), 5, np.uint8))
    win = make_window(demo_folder)
    assert win.prediction.current is not None
    return win


def test_enter_accepts_from_a_dock_button_but_not_from_a_text_field(make_window, demo_folder, qtbot):
    win = _with_saved_prediction(make_window, demo_folder)
    _show_dock(win, "crf_dock")
    spin = win.crf_panel.spins["iterations"]
    _focus(qtbot, spin)
    QTest.keyClick(spin, Qt.Key.Key_Return)
    assert (win.document.mask == win.document.labels.void_value).all()   # the text field kept Enter
    _show_dock(win, "model_dock")
    box = win.model_panel.prefetch_box
    _focus(qtbot, box)
    QTest.keyClick(box, Qt.Key.Key_Return)                               # no click on the canvas first
    assert (win.document.mask == 5).all()


def test_wheel_does_not_change_an_unfocused_dock_combo(window, qtbot):
    _show_dock(window, "model_dock")
    box = window.model_panel.tile_box
    assert box.focusPolicy() == Qt.FocusPolicy.StrongFocus
    before = box.currentIndex()
    centre = QPointF(box.rect().center())
    ev = QWheelEvent(centre, QPointF(box.mapToGlobal(box.rect().center())), QPoint(0, 0), QPoint(0, -120),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(box, ev)
    assert box.currentIndex() == before and not box.hasFocus()


def test_eleventh_camvid_class_has_a_key(window):
    assert window.class_keymap.key_for(10)
    key(window, Qt.Key.Key_0, SHIFT)
    assert window.tool_state.current_class == 10


def test_key_set_in_the_label_editor_works_and_is_rebound(window):
    labels = window.document.labels
    classes = list(labels.classes)
    classes[3] = replace(classes[3], key="q")
    classes[4] = replace(classes[4], key="b")                 # taken by the brush: default 4 stays
    window.labels.apply(replace(labels, classes=tuple(classes)), [{i} for i in range(labels.num_classes)])
    key(window, Qt.Key.Key_Q)
    assert window.tool_state.current_class == 3
    assert window.class_keymap.key_for(4) == "4"
    key(window, Qt.Key.Key_B)
    assert window.tool_state.tool == "brush"


def test_class_keys_rule():
    vocl = preset("voc")
    keys = class_keys(vocl)
    assert keys[0] == "0" and keys[10] == "Shift+0" and keys[19] == "Shift+9" and 20 not in keys
    assert class_key(vocl, 3, reserved=["3"]) == ""          # a reserved default is not handed out
    assert normalize_key(" shift+a ") == "Shift+A" and normalize_key("f5") == "F5" and normalize_key("") is None
    with_keys = replace(vocl, classes=(replace(vocl.classes[0], key="x"),) + vocl.classes[1:])
    assert class_key(with_keys, 0) == "X"
