"""Help ▸ Keyboard shortcuts: a table generated from the window's own QActions, so it never drifts.

Every action of the window (and of its canvas) that has a shortcut is listed with its key(s)
and the menu it is in; actions added later by panels or re-bound (class keys after a label
edit) appear because the table is built when the dialog opens. A filter box narrows it.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLineEdit, QMenu,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)


def _clean(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip(".…").strip()


def _menu_paths(win) -> dict[QAction, str]:
    """Action -> "File ▸ Open recent"-style path of the first menu that holds it."""
    out: dict[QAction, str] = {}

    def walk(menu: QMenu, path: str) -> None:
        for act in menu.actions():
            sub = act.menu()
            if sub is not None:
                walk(sub, f"{path} ▸ {_clean(act.text())}")
            elif not act.isSeparator():
                out.setdefault(act, path)

    for act in win.menuBar().actions():
        if act.menu() is not None:
            walk(act.menu(), _clean(act.text()))
    return out


def shortcut_rows(win) -> list[tuple[str, str, str]]:
    """(menu, action, shortcuts) for every action of ``win`` with a shortcut, menus first, sorted."""
    menus = _menu_paths(win)
    acts: list[QAction] = list(win.actions())
    canvas = getattr(win, "canvas", None)
    if canvas is not None:
        acts += [a for a in canvas.actions() if a not in acts]
    acts += [a for a in menus if a not in acts]
    rows, seen = [], set()
    for act in acts:
        keys = [s.toString(QKeySequence.SequenceFormat.NativeText) for s in act.shortcuts() if not s.isEmpty()]
        if not keys or id(act) in seen:
            continue
        seen.add(id(act))
        rows.append((menus.get(act, "Canvas / keys"), _clean(act.text()), ", ".join(keys)))
    return sorted(rows, key=lambda r: (r[0] == "Canvas / keys", r[0], r[1].lower()))


class ShortcutsDialog(QDialog):
    def __init__(self, win, parent: QWidget | None = None) -> None:
        super().__init__(parent or win)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = shortcut_rows(win)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter (action, key or menu)")
        self.table = QTableWidget(len(self.rows), 3)
        self.table.setHorizontalHeaderLabels(["Action", "Shortcut", "Menu"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for r, (menu, name, keys) in enumerate(self.rows):
            for c, text in enumerate((name, keys, menu)):
                self.table.setItem(r, c, QTableWidgetItem(text))
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.filter)
        lay.addWidget(self.table, 1)
        lay.addWidget(buttons)
        self.filter.textChanged.connect(self._filter)
        self.resize(620, 560)

    def _filter(self, text: str) -> None:
        t = text.strip().lower()
        for r, row in enumerate(self.rows):
            self.table.setRowHidden(r, bool(t) and not any(t in cell.lower() for cell in row))


def open_shortcuts_dialog(win) -> ShortcutsDialog:
    dlg = ShortcutsDialog(win)
    dlg.finished.connect(dlg.deleteLater)
    dlg.show()
    return dlg
