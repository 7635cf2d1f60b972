"""Label panel: each class's colour swatch, name, shortcut key and pixel share in the open
image, and per-class *Hide* and *Lock* check boxes. Shares come from the document's
incrementally maintained counts, refreshed at most every 150 ms while painting. Clicking a
row makes that class current; "Edit labels…" opens the label editor.

The key shown is the one that works (``window.class_keymap.key_for``, else
``core.class_keys.class_key``). *Hide*: the class is not drawn in the overlay (view only).
*Lock*: no tool paints over the class's pixels (``Document.locked_classes``, the rule is
``core.paint.protect_table``). Both are per session and cleared when the label set changes ids.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QDockWidget, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableView, QVBoxLayout, QWidget)

AREA = Qt.DockWidgetArea.RightDockWidgetArea
COLUMNS = ("Class", "Key", "Share", "Hide", "Lock")
HIDE, LOCK = 3, 4


def swatch(color: tuple[int, int, int], size: int = 14) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(QColor(*color))
    return QIcon(pm)


class LabelTableModel(QAbstractTableModel):
    flagsChanged = Signal()   # hide / lock sets changed

    def __init__(self, doc, state, parent=None, key_for=None) -> None:
        super().__init__(parent)
        self.doc, self.state = doc, state
        self.key_for = key_for
        self.hidden: set[int] = set()
        self.locked: set[int] = set()
        self._labels = doc.labels
        self._shares = np.zeros(self._labels.num_classes)
        self._icons = [swatch(c.color) for c in self._labels.classes]

    def reset_labels(self) -> None:
        self.beginResetModel()
        self._labels = self.doc.labels
        self._icons = [swatch(c.color) for c in self._labels.classes]
        self._shares = np.zeros(self._labels.num_classes)
        n = self._labels.num_classes
        changed = any(c >= n for c in self.hidden | self.locked)
        self.hidden = {c for c in self.hidden if c < n}
        self.locked = {c for c in self.locked if c < n}
        self.endResetModel()
        self.refresh_counts()
        if changed:
            self.flagsChanged.emit()

    def refresh_keys(self) -> None:
        n = self._labels.num_classes
        if n:
            self.dataChanged.emit(self.index(0, 1), self.index(n - 1, 1), [Qt.ItemDataRole.DisplayRole])

    def key(self, cid: int) -> str:
        if self.key_for is not None:
            found = self.key_for(cid)
            if found is not None:
                return found
        from segstudio.core.class_keys import class_key
        return class_key(self._labels, cid)

    def refresh_counts(self) -> None:
        n = self._labels.num_classes
        counts = self.doc.counts
        total = int(counts.sum()) if counts.size else 0
        shares = np.zeros(n)
        if total:
            m = min(n, counts.size)
            shares[:m] = counts[:m] / total
        if not np.array_equal(shares, self._shares):
            self._shares = shares
            if n:
                self.dataChanged.emit(self.index(0, 2), self.index(n - 1, 2), [Qt.ItemDataRole.DisplayRole])

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._labels.num_classes

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, col = index.row(), index.column()
        c = self._labels.classes[r]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return c.name
            if col == 1:
                return self.key(c.id)
            if col >= HIDE:
                return None
            share = self._shares[r] if r < len(self._shares) else 0.0
            return f"{share * 100:.1f} %" if share >= 0.0005 or share == 0 else "<0.1 %"
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return self._icons[r]
        if role == Qt.ItemDataRole.CheckStateRole and col >= HIDE:
            on = c.id in (self.hidden if col == HIDE else self.locked)
            return Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.TextAlignmentRole and col > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == HIDE:
                return f"Hide {c.name} in the overlay (view only)"
            if col == LOCK:
                return f"Lock {c.name}: no tool paints over its pixels"
            return f"{c.id}: {c.name}  rgb{tuple(c.color)}"
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        if index.isValid() and index.column() >= HIDE:
            return base | Qt.ItemFlag.ItemIsUserCheckable
        return base

    def setData(self, index: QModelIndex | QPersistentModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() < HIDE or role != Qt.ItemDataRole.CheckStateRole:
            return False
        self.set_flag(index.column(), self._labels.classes[index.row()].id,
                      Qt.CheckState(value) == Qt.CheckState.Checked)
        return True

    def set_flag(self, column: int, cid: int, on: bool) -> None:
        target = self.hidden if column == HIDE else self.locked
        if (cid in target) == on:
            return
        (target.add if on else target.discard)(cid)
        ix = self.index(cid, column)
        self.dataChanged.emit(ix, ix, [Qt.ItemDataRole.CheckStateRole])
        self.flagsChanged.emit()

    def share(self, cid: int) -> float:
        return float(self._shares[cid])


class LabelPanel(QWidget):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.win = window
        self.doc, self.state = window.document, window.tool_state
        keymap = lambda cid: (window.class_keymap.key_for(cid) if hasattr(window, "class_keymap") else None)  # noqa: E731
        self.model = LabelTableModel(self.doc, self.state, self, key_for=keymap)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(HIDE, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(LOCK, QHeaderView.ResizeMode.ResizeToContents)
        self.edit_button = QPushButton("Edit labels…")
        self.void_label = QLabel("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addWidget(self.void_label, 1)
        row.addWidget(self.edit_button)
        layout.addLayout(row)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.refresh)
        self.doc.countsChanged.connect(self._counts_changed)
        self.doc.labelsChanged.connect(self._labels_changed)
        self.state.classChanged.connect(self._select)
        self.table.clicked.connect(lambda ix: ix.column() < HIDE and self.state.set_class(ix.row()))
        self.model.flagsChanged.connect(self._flags_changed)
        self.doc.imageChanged.connect(self._image_changed)
        self.edit_button.clicked.connect(window.edit_labels)
        self._select(self.state.current_class)

    def refresh(self) -> None:
        self.model.refresh_counts()
        counts, labels = self.doc.counts, self.doc.labels
        total = int(counts.sum()) if counts.size else 0
        void = int(counts[labels.void_value]) if total and labels.void_value < counts.size else 0
        self.void_label.setText(f"{labels.void_name}: {100 * void / total:.1f} %" if total else "")

    def _counts_changed(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _flags_changed(self) -> None:
        self.doc.locked_classes = set(self.model.locked)
        canvas = getattr(self.win, "canvas", None)
        if canvas is not None:
            canvas.overlay_layer.set_hidden(self.model.hidden, self.doc.mask, self.doc.labels)
        prediction = getattr(self.win, "prediction", None)
        if prediction is not None:
            prediction.refresh_display()

    def _image_changed(self, _key: str) -> None:
        if self.model.hidden:   # the loader prepared the new overlay with every class visible
            self._flags_changed()

    def _labels_changed(self) -> None:
        self.model.reset_labels()
        QTimer.singleShot(0, self.model.refresh_keys)   # the class keymap re-binds on the same signal
        if self.state.current_class >= self.doc.labels.num_classes:
            self.state.set_class(0)
        self._select(self.state.current_class)

    def _select(self, cid: int) -> None:
        if 0 <= cid < self.model.rowCount():
            self.table.selectRow(cid)


def create_panel(window) -> QDockWidget:
    panel = LabelPanel(window)
    dock = QDockWidget("Labels", window)
    dock.setObjectName("labels_dock")
    dock.setWidget(panel)
    window.label_panel = panel
    return dock
