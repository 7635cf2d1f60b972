"""Horizontal bar chart of values in ``[0, 1]`` (e.g. per-class IoU), painted with QPainter.

One row per item: name, a bar in the item's colour, the value as a percentage (``n/a`` for
NaN). An optional reference line (e.g. the mean) is drawn across the bars.
"""

from __future__ import annotations

import math
from typing import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class BarChart(QWidget):
    ROW = 18

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names: list[str] = []
        self.values: list[float] = []
        self.colors: list[tuple[int, int, int]] = []
        self.reference: float | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(160)

    def set_data(self, names: Sequence[str], values: Sequence[float], colors: Sequence[tuple[int, int, int]],
                 reference: float | None = None) -> None:
        self.names, self.values, self.colors = list(names), [float(v) for v in values], list(colors)
        self.reference = reference
        self.setToolTip("\n".join(f"{n}: {'n/a' if math.isnan(v) else f'{100 * v:.2f} %'}"
                                  for n, v in zip(self.names, self.values)))
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(240, max(40, self.ROW * len(self.names) + 8))

    def minimumSizeHint(self) -> QSize:
        return QSize(160, max(40, self.ROW * len(self.names) + 8))

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        pal = self.palette()
        text = pal.windowText().color()
        fm = QFontMetrics(self.font())
        if not self.names:
            p.setPen(text)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no data")
            return
        name_w = min(self.width() // 3, max(fm.horizontalAdvance(n) for n in self.names) + 8)
        value_w = fm.horizontalAdvance("100.0 %") + 6
        x0 = name_w
        bar_w = max(10, self.width() - name_w - value_w - 4)
        track = QColor(text)
        track.setAlpha(30)
        for i, (name, value) in enumerate(zip(self.names, self.values)):
            y = 4 + i * self.ROW
            p.setPen(text)
            p.drawText(QRectF(0, y, name_w - 6, self.ROW), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       fm.elidedText(name, Qt.TextElideMode.ElideRight, name_w - 6))
            p.fillRect(QRectF(x0, y + 3, bar_w, self.ROW - 6), track)
            if not math.isnan(value):
                r, g, b = self.colors[i] if i < len(self.colors) else (90, 140, 220)
                p.fillRect(QRectF(x0, y + 3, bar_w * max(0.0, min(1.0, value)), self.ROW - 6), QColor(r, g, b))
            label = "n/a" if math.isnan(value) else f"{100 * value:.1f} %"
            p.drawText(QRectF(x0 + bar_w + 4, y, value_w, self.ROW),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
        if self.reference is not None and not math.isnan(self.reference):
            x = x0 + bar_w * max(0.0, min(1.0, self.reference))
            pen = QPen(text, 1, Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.drawLine(int(x), 2, int(x), 4 + self.ROW * len(self.names))
