"""Extra canvas layers: the model's prediction (hatched), an uncertainty heat map and the
false-positive / false-negative error map. Each is a :class:`BufferLayer` (numpy-backed
premultiplied ARGB32 image, exposed-area painting) added to the canvas scene above the
user's mask overlay (z 1):

* :class:`PredictionLayer` (z 1.5) — class colours in diagonal stripes, so it never looks
  like the user's own (solid) labels; void pixels transparent;
* :class:`ErrorLayer` (z 2) — FP red, FN blue (see :mod:`segstudio.core.error_map`),
  refreshable by dirty box;
* :class:`HeatLayer` (z 2.5) — uncertainty 0..1 as a dark-purple→orange→yellow ramp whose
  opacity grows with the uncertainty (confident pixels stay clear).

The colouring functions are numpy and thread-safe.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyleOptionGraphicsItem, QWidget

from segstudio.core.error_map import FALSE_NEGATIVE, FALSE_POSITIVE
from segstudio.core.labels import LabelSet
from segstudio.gui.canvas.layers import BufferLayer, overlay_lut

FP_COLOR = (235, 40, 40)
FN_COLOR = (40, 110, 255)
_HEAT_STOPS = ((0.0, (40, 10, 90)), (0.5, (220, 60, 40)), (0.8, (250, 150, 20)), (1.0, (255, 255, 120)))


def _argb(r: int, g: int, b: int, a: int = 255) -> int:
    """Premultiplied ARGB32 value."""
    return (a << 24) | ((r * a // 255) << 16) | ((g * a // 255) << 8) | (b * a // 255)


def stripe_period(shape: tuple[int, int]) -> int:
    return max(6, min(shape) // 48)


def hatched(labels_arr: np.ndarray, labels: LabelSet, hidden=()) -> np.ndarray:
    """ARGB32 buffer of ``labels_arr`` in class colours, every other diagonal band clear;
    ``hidden`` classes (hidden in the label panel) are not drawn."""
    out = overlay_lut(labels, labels_arr.dtype, hidden)[labels_arr]
    h, w = labels_arr.shape
    period = stripe_period((h, w))
    diag = (np.arange(h)[:, None] + np.arange(w)[None, :]) // period
    out[(diag & 1).astype(bool)] = 0
    return out


def heat_lut() -> np.ndarray:
    """256 premultiplied ARGB32 colours for uncertainty 0..1 (alpha rising with it)."""
    xs = np.linspace(0.0, 1.0, 256)
    pos = np.array([s[0] for s in _HEAT_STOPS])
    rgb = np.stack([np.interp(xs, pos, [s[1][c] for s in _HEAT_STOPS]) for c in range(3)], axis=1)
    alpha = np.clip(xs * 1.6, 0.0, 0.9) * 255
    lut = np.zeros(256, np.uint32)
    for i in range(256):
        a = int(alpha[i])
        lut[i] = _argb(int(rgb[i, 0]), int(rgb[i, 1]), int(rgb[i, 2]), a)
    return lut


_HEAT = heat_lut()
_ERR = np.zeros(256, np.uint32)
_ERR[FALSE_POSITIVE] = _argb(*FP_COLOR, 235)
_ERR[FALSE_NEGATIVE] = _argb(*FN_COLOR, 235)


def heat_colors(values: np.ndarray) -> np.ndarray:
    """ARGB32 buffer of an ``H×W`` float map in ``[0, 1]``."""
    idx = np.clip(np.nan_to_num(values, nan=0.0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return _HEAT[idx]


def error_colors(codes: np.ndarray) -> np.ndarray:
    return _ERR[codes]


class _Layer(BufferLayer):
    def __init__(self, z: float, opacity: float) -> None:
        super().__init__(QImage.Format.Format_ARGB32_Premultiplied, z)
        self.setOpacity(opacity)
        self.setVisible(False)

    def clear(self) -> None:
        self.set_buffer(None)
        self.setVisible(False)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        super().paint(painter, option, widget)


class PredictionLayer(_Layer):
    def __init__(self) -> None:
        super().__init__(1.5, 0.85)

    def show_labels(self, labels_arr: np.ndarray | None, labels: LabelSet, hidden=()) -> None:
        self.set_buffer(None if labels_arr is None else hatched(labels_arr, labels, hidden))


class HeatLayer(_Layer):
    def __init__(self) -> None:
        super().__init__(2.5, 1.0)

    def show_values(self, values: np.ndarray | None) -> None:
        self.set_buffer(None if values is None else heat_colors(values))


class ErrorLayer(_Layer):
    def __init__(self) -> None:
        super().__init__(2.0, 0.85)

    def show_codes(self, codes: np.ndarray | None) -> None:
        self.set_buffer(None if codes is None else error_colors(codes))

    def refresh(self, codes_patch: np.ndarray, bbox: tuple[int, int, int, int]) -> None:
        buf = self.buffer
        if buf is None:
            return
        x0, y0, x1, y1 = bbox
        buf[y0:y1, x0:x1] = error_colors(codes_patch)
        self.update(QRectF(x0, y0, x1 - x0, y1 - y0))
