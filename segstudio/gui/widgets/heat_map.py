"""Confusion matrix as a heat map, painted with QPainter.

Rows are ground-truth classes, columns predicted classes; each cell's colour is its share of
its row (recall-normalised), so the diagonal reads as per-class accuracy whatever the class
frequencies. Cells show the percentage when large enough; hovering shows the raw counts.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget


def cell_color(share: float) -> QColor:
    """White (0) -> deep blue (1)."""
    s = max(0.0, min(1.0, share)) ** 0.6
    return QColor(int(255 - 225 * s), int(255 - 185 * s), int(255 - 80 * s))


class HeatMap(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.matrix = np.zeros((0, 0), np.int64)
        self.names: list[str] = []
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 160)

    def set_matrix(self, matrix: np.ndarray, names: Sequence[str]) -> None:
        self.matrix = np.asarray(matrix, np.int64)
        self.names = list(names)
        self.update()

    def shares(self) -> np.ndarray:
        rows = self.matrix.sum(axis=1, keepdims=True).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(rows > 0, self.matrix / np.where(rows > 0, rows, 1), 0.0)

    def sizeHint(self) -> QSize:
        return QSize(280, 280)

    def _geometry(self) -> tuple[float, float, float]:
        """(left margin, top margin, cell size)."""
        n = max(1, len(self.names))
        fm = QFontMetrics(self.font())
        margin = min(fm.horizontalAdvance("Building") + 8, self.width() * 0.3)
        cell = max(4.0, min((self.width() - margin - 2) / n, (self.height() - fm.height() - 6) / n))
        return margin, fm.height() + 4, cell

    def _short(self, name: str, width: float, fm: QFontMetrics) -> str:
        return fm.elidedText(name, Qt.TextElideMode.ElideRight, int(width))

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        text = self.palette().windowText().color()
        n = len(self.names)
        if n == 0 or self.matrix.size == 0:
            p.setPen(text)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no data")
            return
        fm = QFontMetrics(self.font())
        left, top, cell = self._geometry()
        shares = self.shares()
        p.setPen(text)
        p.drawText(QRectF(left, 0, cell * n, top - 2), Qt.AlignmentFlag.AlignCenter, "predicted →")
        for i in range(n):
            y = top + i * cell
            p.setPen(text)
            p.drawText(QRectF(0, y, left - 4, cell), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       self._short(self.names[i], left - 4, fm))
            for j in range(n):
                r = QRectF(left + j * cell, y, cell - 1, cell - 1)
                s = float(shares[i, j])
                p.fillRect(r, cell_color(s))
                if cell >= fm.horizontalAdvance("100") + 2 and self.matrix[i, j] > 0:
                    p.setPen(QColor(255, 255, 255) if s > 0.5 else QColor(40, 40, 40))
                    p.drawText(r, Qt.AlignmentFlag.AlignCenter, f"{100 * s:.0f}")
            p.setPen(QColor(200, 60, 60))
            p.drawRect(QRectF(left + i * cell, y, cell - 1, cell - 1))  # the diagonal, outlined

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        left, top, cell = self._geometry()
        n = len(self.names)
        i, j = int((pos.y() - top) // cell), int((pos.x() - left) // cell)
        if pos.x() < left or pos.y() < top or not (0 <= i < n and 0 <= j < n):
            return None
        return i, j

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        hit = self.cell_at(event.position())
        if hit is None:
            QToolTip.hideText()
            return
        i, j = hit
        count = int(self.matrix[i, j])
        share = float(self.shares()[i, j])
        QToolTip.showText(event.globalPosition().toPoint(),
                          f"GT {self.names[i]} → predicted {self.names[j]}: {count:,} px "
                          f"({100 * share:.1f} % of {self.names[i]})", self)
