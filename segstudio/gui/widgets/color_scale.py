"""A horizontal colour scale (legend) for a value map drawn through a 256-entry ARGB LUT, with
end labels — the key to the uncertainty overlay's colours."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget


class ColorScale(QWidget):
    def __init__(self, lut: np.ndarray, low: str = "0", high: str = "1", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low, self.high = low, high
        self._lut = np.ascontiguousarray(np.asarray(lut, np.uint32).reshape(1, -1))
        self._image = QImage(self._lut.data, self._lut.shape[1], 1, self._lut.shape[1] * 4,
                             QImage.Format.Format_ARGB32_Premultiplied)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        fm = QFontMetrics(self.font())
        return QSize(200, 14 + fm.height() + 4)

    def minimumSizeHint(self) -> QSize:
        return QSize(80, self.sizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        fm = QFontMetrics(self.font())
        bar = QRectF(1, 1, self.width() - 2, 12)
        for k in range(8):                                  # a checkerboard shows the rising opacity
            x = bar.x() + k * bar.width() / 8
            p.fillRect(QRectF(x, bar.y(), bar.width() / 8, 6), QColor(200, 200, 200) if k % 2 else QColor(255, 255, 255))
            p.fillRect(QRectF(x, bar.y() + 6, bar.width() / 8, 6), QColor(255, 255, 255) if k % 2 else QColor(200, 200, 200))
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(bar, self._image)
        p.setPen(self.palette().windowText().color())
        p.drawRect(bar)
        text_rect = QRectF(0, bar.bottom() + 2, self.width(), fm.height())
        p.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.low)
        p.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, self.high)
