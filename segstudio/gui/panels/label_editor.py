"""Label editor dialog: add, rename, recolour, merge and delete classes, or load a preset.

The dialog edits a working copy; each row remembers which old ids feed it (``sources``),
so :meth:`LabelEditor.result` gives the new label set plus what the label controller needs
to rewrite masks (merging and deleting renumber ids; renaming/recolouring/adding do not).
Adding a class whose id would collide with the void value moves void to 255.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QColorDialog, QDialog, QDialogButtonBox, QHBoxLayout,
                               QHeaderView, QInputDialog, QLabel, QMessageBox, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from segstudio.core.errors import LabelSetError
from segstudio.core.labels import PRESETS, LabelClass, LabelSet, preset, voc_color


@dataclass
class Row:
    name: str
    color: tuple[int, int, int]
    key: str | None
    sources: set[int] = field(default_factory=set)


def _free_color(i: int) -> tuple[int, int, int]:
    return voc_color(i + 1)


class LabelEditor(QDialog):
    def __init__(self, labels: LabelSet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit labels")
        self.resize(560, 520)
        self.old = labels
        self.base = labels   # template for name/void of the result (a preset replaces it)
        self.rows = [Row(c.name, tuple(c.color), c.key, {c.id}) for c in labels.classes]  # type: ignore[misc]
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Colour", "Name", "Key", "Was"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.itemChanged.connect(self._item_changed)
        self.table.cellDoubleClicked.connect(self._double_clicked)

        buttons = QHBoxLayout()
        for text, slot in (("Add class", self._add_clicked), ("Merge selected…", self._merge_clicked),
                           ("Delete selected", self._delete_clicked)):
            b = QPushButton(text)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        buttons.addStretch(1)
        presets = QHBoxLayout()
        presets.addWidget(QLabel("Presets:"))
        self.preset_buttons: dict[str, QPushButton] = {}
        for name in PRESETS:
            b = QPushButton(name)
            b.clicked.connect(lambda _=False, n=name: self.load_preset(n))
            presets.addWidget(b)
            self.preset_buttons[name] = b
        presets.addStretch(1)
        self.note = QLabel("Double-click a colour to change it. Merging or deleting classes rewrites masks.")
        self.note.setWordWrap(True)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(presets)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.note)
        layout.addWidget(box)
        self._fill()

    # -- table -----------------------------------------------------------------------------
    def _renumber_keys(self) -> None:
        """Digit keys follow the class id (keys 0–9 pick the class with that id)."""
        for i, row in enumerate(self.rows):
            if row.key is None or row.key.isdigit():
                row.key = str(i) if i < 10 else None

    def _fill(self) -> None:
        self._renumber_keys()
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            sw = QTableWidgetItem("")
            sw.setBackground(QColor(*row.color))
            sw.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            self.table.setItem(r, 0, sw)
            self.table.setItem(r, 1, QTableWidgetItem(row.name))
            self.table.setItem(r, 2, QTableWidgetItem(row.key or ""))
            was = " + ".join(self.old.classes[s].name for s in sorted(row.sources) if s < self.old.num_classes)
            item = QTableWidgetItem(was or "new")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            self.table.setItem(r, 3, item)
        self.table.blockSignals(False)

    def _item_changed(self, item: QTableWidgetItem) -> None:
        r = item.row()
        if item.column() == 1:
            self.rows[r].name = item.text().strip()
        elif item.column() == 2:
            self.rows[r].key = item.text().strip() or None

    def _double_clicked(self, r: int, col: int) -> None:
        if col == 0:
            c = QColorDialog.getColor(QColor(*self.rows[r].color), self, "Class colour")
            if c.isValid():
                self.recolour(r, (c.red(), c.green(), c.blue()))

    def _selected_rows(self) -> list[int]:
        return sorted({ix.row() for ix in self.table.selectionModel().selectedRows()})

    def _add_clicked(self) -> None:
        self.add_class()
        self.table.editItem(self.table.item(len(self.rows) - 1, 1))

    def _merge_clicked(self) -> None:
        rows = self._selected_rows()
        if len(rows) < 2:
            QMessageBox.information(self, "Merge classes", "Select two or more classes to merge.")
            return
        names = [self.rows[r].name for r in rows]
        target, ok = QInputDialog.getItem(self, "Merge classes", "Merge the selected classes into:", names, 0, False)
        if ok:
            self.merge(rows, rows[names.index(target)])

    def _delete_clicked(self) -> None:
        rows = self._selected_rows()
        if rows and len(rows) < len(self.rows):
            self.delete(rows)

    # -- operations (also used by tests) ----------------------------------------------------
    def add_class(self, name: str | None = None, color: tuple[int, int, int] | None = None) -> int:
        i = len(self.rows)
        taken = {r.name for r in self.rows}
        name = name or next(f"class {n}" for n in range(i, i + 1000) if f"class {n}" not in taken)
        self.rows.append(Row(name, color or _free_color(i), None, set()))
        self._fill()
        return i

    def rename(self, r: int, name: str) -> None:
        self.rows[r].name = name
        self._fill()

    def recolour(self, r: int, color: tuple[int, int, int]) -> None:
        self.rows[r].color = tuple(color)  # type: ignore[assignment]
        self._fill()

    def merge(self, rows: list[int], into: int) -> None:
        for r in rows:
            if r != into:
                self.rows[into].sources |= self.rows[r].sources
        self.rows = [row for i, row in enumerate(self.rows) if i == into or i not in rows]
        self._fill()

    def delete(self, rows: list[int]) -> None:
        """Remove classes; their pixels become void."""
        self.rows = [row for i, row in enumerate(self.rows) if i not in rows]
        self._fill()

    def load_preset(self, name: str) -> None:
        p = preset(name)
        self.base = p
        self.rows = [Row(c.name, tuple(c.color), c.key, {c.id} if c.id < self.old.num_classes else set())
                     for c in p.classes]  # type: ignore[misc]
        self._fill()

    def result(self) -> tuple[LabelSet, list[set[int]]]:
        """The edited label set and, per new class, the old ids it takes over."""
        n = len(self.rows)
        classes = tuple(LabelClass(i, r.name, r.color, r.key) for i, r in enumerate(self.rows))
        ignore = self.base.ignore_index
        if ignore is not None and ignore < n:
            ignore = 255 if n <= 255 else 65535
        labels = LabelSet(classes, ignore, self.base.void_name, self.base.void_color, self.base.name)
        return labels, [set(r.sources) for r in self.rows]

    def accept(self) -> None:
        try:
            self.result()
        except LabelSetError as exc:
            QMessageBox.warning(self, "Edit labels", str(exc))
            return
        super().accept()
