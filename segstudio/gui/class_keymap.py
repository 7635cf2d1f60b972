"""Class keys bound as window shortcuts, re-bound whenever the label set changes.

What key picks which class is decided in :mod:`segstudio.core.class_keys` (the user's key from
the label editor, else ``0``–``9`` / ``Shift+0``–``Shift+9``); keys other commands already own
are reserved, taken from the window's own actions so the two never drift. The label panel
shows :meth:`ClassKeymap.key_for` (what actually works); ``window.class_keymap`` is the one
instance of a main window.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

from segstudio.core.class_keys import class_keys


def key_sequence(key: str) -> QKeySequence | None:
    """A single-key QKeySequence for a canonical key name, None when Qt cannot bind it."""
    seq = QKeySequence(key)
    if seq.isEmpty() or seq.count() != 1 or seq[0].key() == Qt.Key.Key_unknown:
        return None
    return seq


class ClassKeymap(QObject):
    def __init__(self, window, pick: Callable[[int], None]) -> None:
        super().__init__(window)
        self.win = window
        self.pick = pick
        self.actions: dict[int, QAction] = {}
        self.keys: dict[int, str] = {}
        window.document.labelsChanged.connect(self.rebind)

    def reserved(self) -> list[str]:
        """Shortcuts of every other action of the window (and of its canvas)."""
        own = set(self.actions.values())
        out = []
        for act in self.win.actions() + self.win.canvas.actions():
            if act not in own:
                out += [s.toString(QKeySequence.SequenceFormat.PortableText) for s in act.shortcuts()]
        return out

    def rebind(self) -> None:
        for act in self.actions.values():
            self.win.removeAction(act)
            act.deleteLater()
        self.actions, self.keys = {}, {}
        labels = self.win.document.labels
        for cid, key in class_keys(labels, self.reserved()).items():
            seq = key_sequence(key)
            if seq is None:
                continue
            act = QAction(f"Class {cid}: {labels.classes[cid].name}", self.win)
            act.setShortcut(seq)
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.triggered.connect(lambda _=False, n=cid: self.pick(n))
            self.win.addAction(act)
            self.actions[cid] = act
            self.keys[cid] = seq.toString(QKeySequence.SequenceFormat.NativeText)

    def key_for(self, cid: int) -> str:
        """The key bound to class ``cid`` ("" when none)."""
        return self.keys.get(int(cid), "")
