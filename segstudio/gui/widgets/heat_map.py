"""Confusion matrix as a heat map, painted with QPainter.

Rows are ground-truth classes, columns predicted classes; each cell's colour is its share of
its row (row-normalised: recall), so the diagonal reads as per-class accuracy whatever the
class frequencies. Both axes are labelled: in a narrow dock rows show "id name" and columns the
ids; with room (the enlarged view, :mod:`segstudio.gui.widgets.confusion_dialog`) columns show
the names, rotated. Cells show the count and the row rate when they are large enough, the rate
alone when smaller; hovering shows both in full. Double-click asks for the enlarged view.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget


def cell_color(share: float) -> QColor:
    """White (0) -> deep blue (1)."""
    s = max(0.0, min(1.0, share)) ** 0.6
    return QColor(int(255 - 225 * s), int(255 - 185 * s), int(255 - 80 * s))


def short_count(v: int) -> str:
    """1234 -> 1.2k, 123456 -> 123k, 1234567 -> 1.2M."""
    v = int(v)
    for div, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if v >= div:
            x = v / div
            return f"{x:.1f}{suffix}" if x < 10 else f"{x:.0f}{suffix}"
    return str(v)


class HeatMap(QWidget):
    enlargeRequested = Signal()

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

    def _row_label(self, i: int, rotated: bool) -> str:
        return self.names[i] if rotated else f"{i} {self.names[i]}"

    def _geometry(self) -> tuple[float, float, float, bool]:
        """(left margin, top margin, cell size, column names rotated)."""
        n = max(1, len(self.names))
        fm = QFontMetrics(self.font())
        longest = max((fm.horizontalAdvance(nm) for nm in self.names), default=fm.horizontalAdvance("Building"))
        for rotated in (True, False):
            left = min(longest + fm.horizontalAdvance("00 ") + 8, self.width() * (0.35 if rotated else 0.3))
            top = min(longest + 8, self.height() * 0.35) if rotated else fm.height() + 4
            cell = max(4.0, min((self.width() - left - 2) / n, (self.height() - top - 2) / n))
            if not rotated or cell >= 2.2 * fm.height():
                return left, top, cell, rotated
        raise AssertionError("unreachable")

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
        left, top, cell, rotated = self._geometry()
        shares = self.shares()
        p.setPen(text)
        p.drawText(QRectF(0, 0, left - 4, top - 2), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                   "GT ↓ pred →")
        step = 1 if rotated else max(1, math.ceil((fm.horizontalAdvance(str(n - 1)) + 2) / cell))
        for j in range(0, n, step):                          # column (predicted) labels, never overlapping
            x = left + j * cell
            if rotated:
                p.save()
                p.translate(x + cell / 2 + fm.ascent() / 2 - 1, top - 4)
                p.rotate(-90)
                p.drawText(QPointF(0, 0), self._short(self.names[j], top - 8, fm))
                p.restore()
            else:
                p.drawText(QRectF(x, 0, cell, top - 2), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                           str(j))
        two_lines = cell >= 2 * fm.height() + 2
        for i in range(n):
            y = top + i * cell
            p.setPen(text)
            p.drawText(QRectF(0, y, left - 4, cell), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       self._short(self._row_label(i, rotated), left - 4, fm))
            for j in range(n):
                r = QRectF(left + j * cell, y, cell - 1, cell - 1)
                s, count = float(shares[i, j]), int(self.matrix[i, j])
                p.fillRect(r, cell_color(s))
                if count > 0:
                    rate, num = f"{100 * s:.0f}%", short_count(count)
                    p.setPen(QColor(255, 255, 255) if s > 0.5 else QColor(40, 40, 40))
                    if two_lines and cell >= max(fm.horizontalAdvance(num), fm.horizontalAdvance(rate)) + 4:
                        p.drawText(r, Qt.AlignmentFlag.AlignCenter, f"{num}\n{rate}")
                    elif cell >= fm.horizontalAdvance("100") + 2:
                        p.drawText(r, Qt.AlignmentFlag.AlignCenter, f"{100 * s:.0f}")
            p.setPen(QColor(200, 60, 60))
            p.drawRect(QRectF(left + i * cell, y, cell - 1, cell - 1))  # the diagonal, outlined

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        left, top, cell, _ = self._geometry()
        n = len(self.names)
        i, j = int((pos.y() - top) // cell), int((pos.x() - left) // cell)
        if pos.x() < left or pos.y() < top or not (0 <= i < n and 0 <= j < n):
            return None
        return i, j

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        self.enlargeRequested.emit()

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
