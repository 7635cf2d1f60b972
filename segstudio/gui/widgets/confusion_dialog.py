"""The confusion matrix enlarged: a resizable window with the full heat map (class names on
both axes, counts and row-normalised rates in the cells), kept live by the metrics panel."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from segstudio.gui.widgets.heat_map import HeatMap


class ConfusionDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Confusion matrix")
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.heat = HeatMap()
        note = QLabel("Rows: ground truth · columns: predicted · colour and % : share of the row "
                      "(recall) · hover a cell for exact counts")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(self.heat, 1)
        layout.addWidget(note)
        self.resize(820, 760)

    def set_matrix(self, matrix: np.ndarray, names: Sequence[str], caption: str = "") -> None:
        self.heat.set_matrix(matrix, names)
        self.caption.setText(caption)
