"""Status bar: cursor position, class under the cursor, zoom, image size, save state, messages."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget


class StatusBar(QStatusBar):
    def __init__(self, doc, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.pos_label = QLabel("")
        self.class_label = QLabel("")
        self.zoom_label = QLabel("")
        self.save_label = QLabel("")
        for w in (self.class_label, self.pos_label, self.zoom_label, self.save_label):
            w.setMinimumWidth(60)
            self.addPermanentWidget(w)

    def cursor_moved(self, x: float, y: float) -> None:
        if math.isnan(x) or self.doc.mask is None:
            self.pos_label.setText("")
            self.class_label.setText("")
            return
        ix, iy = int(x), int(y)
        self.pos_label.setText(f"x {ix}  y {iy}")
        value = self.doc.value_at(x, y)
        labels = self.doc.labels
        if value is None:
            self.class_label.setText("")
        elif value < labels.num_classes:
            self.class_label.setText(f"{value}: {labels.classes[value].name}")
        else:
            self.class_label.setText(f"{labels.void_name} ({value})")

    def zoom_changed(self, z: float) -> None:
        self.zoom_label.setText(f"{z * 100:.0f} %")

    def set_saved(self, dirty: bool) -> None:
        self.save_label.setText("● unsaved" if dirty else "saved")

    def error(self, text: str) -> None:
        self.showMessage(text, 15000)
