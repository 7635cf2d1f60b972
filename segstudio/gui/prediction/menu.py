"""The Model menu of the main window: Run (Ctrl+R), Cancel, Accept (Enter), Show prediction, CRF.

:func:`build_actions` creates the window-wide actions for a
:class:`~segstudio.gui.prediction.controller.PredictionController` and stores them on it
(``run_action``, ``cancel_action``, ``accept_action``, ``show_action``, ``crf_action``, ``menu``).
:class:`EnterGuard` lets Enter reach a busy canvas tool (polygon close) instead of Accept.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence


class EnterGuard(QObject):
    """Lets Enter reach the canvas tool (polygon close) instead of the Accept shortcut while busy."""

    def __init__(self, canvas) -> None:
        super().__init__(canvas)
        self.canvas = canvas

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if (event.type() == QEvent.Type.ShortcutOverride
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.canvas.tool.busy):
            event.accept()
            return True
        return False


def _action(win, menu, text: str, slot, shortcut=None, checkable: bool = False) -> QAction:
    act = QAction(text, win)
    if shortcut:
        act.setShortcuts([QKeySequence(s) for s in (shortcut if isinstance(shortcut, list) else [shortcut])])
    if checkable:
        act.setCheckable(True)
        act.toggled.connect(slot)
    else:
        act.triggered.connect(lambda _=False: slot())
    act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    win.addAction(act)
    menu.addAction(act)
    return act


def build_actions(ctl) -> None:
    """The Model menu (created if the window has none yet) and its actions, stored on ``ctl``."""
    win = ctl.win
    menu = win.menus.get("model")
    if menu is None:
        menu = win.menuBar().addMenu("&Model")
        win.menus["model"] = menu
    elif not menu.isEmpty():
        menu.addSeparator()
    ctl.menu = menu
    ctl.run_action = _action(win, menu, "Run model on &this image", ctl.run_current, "Ctrl+R")
    ctl.cancel_action = _action(win, menu, "Ca&ncel prediction", ctl.cancel)
    # a window shortcut: Enter accepts from anywhere but a text field (gui.input_guard)
    ctl.accept_action = _action(win, menu, "&Accept prediction into the mask", ctl.accept, ["Return", "Enter"])
    menu.addSeparator()
    ctl.show_action = _action(win, menu, "&Show prediction", ctl.set_show_prediction, checkable=True)
    ctl.show_action.setChecked(True)
    ctl.crf_action = _action(win, menu, "Refine with dense &CRF", ctl.set_crf_enabled, checkable=True)
    ctl.cancel_action.setEnabled(False)
    win.canvas.installEventFilter(EnterGuard(win.canvas))
