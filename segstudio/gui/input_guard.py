"""Which widget gets a key or a wheel turn: window shortcuts yield to the widget being typed in.

The canvas keys are plain window shortcuts (``Tab``, digits, letters, ``[``/``]``, ``Enter``:
keys without Ctrl/Alt/Meta). One application event filter decides, for every such key, whether
the focused widget keeps it (the shortcut is overridden, Qt then delivers the key to the
widget) — instead of a rule per widget:

* text fields (line edits, spin boxes, editable combo boxes, text edits) keep every plain key,
  ``Tab`` and ``Enter`` included (typing in a CRF field and pressing Tab moves the focus);
* other input widgets (combo boxes, buttons, check boxes, sliders) keep ``Tab`` / ``Shift+Tab``,
  and combo boxes their type-ahead letters and digits; ``Enter`` still reaches the window (it
  accepts the prediction from anywhere except a text field);
* the canvas and item views (the image list) keep nothing: the canvas keys work there.

The same filter stops the mouse wheel from changing combo boxes, spin boxes and sliders in
the docks unless they have the focus: the turn scrolls the dock instead, and those widgets
take the focus on click or Tab only, never on the wheel.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QWheelEvent
from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QAbstractScrollArea, QAbstractSlider,
                               QAbstractSpinBox, QApplication, QComboBox, QDockWidget, QKeySequenceEdit, QLineEdit,
                               QPlainTextEdit, QScrollBar, QTextEdit, QWidget)

_COMMAND_MODS = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                 | Qt.KeyboardModifier.MetaModifier)
_TABS = (Qt.Key.Key_Tab, Qt.Key.Key_Backtab)
_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
_WHEEL_GUARDED = (QComboBox, QAbstractSpinBox, QAbstractSlider)


def is_text_field(w: QWidget | None) -> bool:
    if w is None:
        return False
    if isinstance(w, (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit, QKeySequenceEdit)):
        return not (isinstance(w, (QTextEdit, QPlainTextEdit)) and w.isReadOnly())
    return isinstance(w, QComboBox) and w.isEditable()


def keeps_key(w: QWidget | None, event: QKeyEvent) -> bool:
    """True when the focused widget ``w`` should get this plain key rather than a window shortcut."""
    if w is None or event.modifiers() & _COMMAND_MODS:
        return False
    if is_text_field(w):
        return True
    key = event.key()
    if isinstance(w, (QComboBox, QAbstractButton, QAbstractSlider)):
        if key in _TABS:
            return True
        return isinstance(w, QComboBox) and key not in _ENTER and bool(event.text().strip())
    return False


def _in_dock(w: QWidget) -> bool:
    p = w.parentWidget()
    while p is not None:
        if isinstance(p, QDockWidget):
            return True
        p = p.parentWidget()
    return False


def _wheel_guarded(w: QObject) -> bool:
    return isinstance(w, _WHEEL_GUARDED) and not isinstance(w, QScrollBar) and _in_dock(w)  # type: ignore[arg-type]


class InputGuard(QObject):
    """Installed once per main window on the application (removed with the window)."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.win = window
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def guard_wheel_focus(self) -> None:
        """Docked combo/spin/slider widgets that exist now take the focus by click or Tab only."""
        for cls in _WHEEL_GUARDED:
            for w in self.win.findChildren(cls):
                if _wheel_guarded(w):
                    self._strong_focus(w)

    @staticmethod
    def _strong_focus(w: QWidget) -> None:
        if w.focusPolicy() == Qt.FocusPolicy.WheelFocus:
            w.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        t = event.type()
        if t == QEvent.Type.ShortcutOverride:
            if isinstance(obj, QWidget) and obj.window() is self.win and keeps_key(obj, event):  # type: ignore[arg-type]
                event.accept()          # the focused widget gets the key, not the window shortcut
                return True
        elif t == QEvent.Type.Polish:
            if isinstance(obj, QWidget) and _wheel_guarded(obj):
                self._strong_focus(obj)
        elif t == QEvent.Type.Wheel:
            if isinstance(obj, QWidget) and not obj.hasFocus() and _wheel_guarded(obj) and obj.window() is self.win:
                return self._scroll_dock(obj, event)  # type: ignore[arg-type]
        return False

    @staticmethod
    def _scroll_dock(w: QWidget, event: QWheelEvent) -> bool:
        """Hand the turn to the scroll area around ``w`` (if any); ``w`` itself never changes."""
        p = w.parentWidget()
        while p is not None and not isinstance(p, QAbstractScrollArea):
            p = p.parentWidget()
        if p is not None:
            bar = p.verticalScrollBar()
            if bar is not None and bar.isVisible():
                QApplication.sendEvent(bar, event)
        return True
