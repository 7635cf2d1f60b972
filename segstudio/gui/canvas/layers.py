"""Canvas layers: the photo and the class-colour overlay, each drawn only where exposed.

The overlay is a persistent ``H×W`` uint32 buffer (premultiplied ARGB32, shared with a
QImage) filled from the mask through a colour lookup table. An edit recolours only its
dirty box (:func:`render_region`), never the whole image. Layer opacity is applied at paint
time, so the opacity slider costs nothing. "Outline" mode shows class boundaries only.
Hidden classes (label panel) get a transparent LUT entry, so they are not drawn at all.
The photo can be shown through a view-only brightness/contrast/gamma table
(``core.view_adjust``): only the displayed copy changes, never the image data.
The numpy helpers here are thread-safe, so the loader can prepare buffers off the GUI thread.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from segstudio.core.labels import LabelSet
from segstudio.core.paint import BBox, clip_bbox
from segstudio.core.view_adjust import apply_lut


# -- numpy side (thread-safe) ------------------------------------------------------------------
def overlay_lut(labels: LabelSet, dtype: np.dtype, hidden=()) -> np.ndarray:
    """value -> opaque ARGB32 colour of its class; void, unknown and ``hidden`` values -> transparent."""
    size = 256 if np.dtype(dtype) == np.uint8 else 65536
    lut = np.zeros(size, np.uint32)
    for c in labels.classes[:size]:
        r, g, b = c.color
        lut[c.id] = 0xFF000000 | (r << 16) | (g << 8) | b
    for cid in hidden:
        if 0 <= cid < size:
            lut[cid] = 0
    return lut


def boundaries(mask: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour of another value."""
    b = np.zeros(mask.shape, bool)
    dx = mask[:, 1:] != mask[:, :-1]
    dy = mask[1:, :] != mask[:-1, :]
    b[:, 1:] |= dx
    b[:, :-1] |= dx
    b[1:, :] |= dy
    b[:-1, :] |= dy
    return b


def colorize(mask: np.ndarray, lut: np.ndarray, outline: bool = False) -> np.ndarray:
    """The whole overlay buffer for ``mask``."""
    out = lut[mask]
    if outline:
        out[~boundaries(mask)] = 0
    return out


def render_region(mask: np.ndarray, overlay: np.ndarray, bbox: BBox, lut: np.ndarray,
                  outline: bool = False) -> BBox:
    """Recolour ``overlay`` inside ``bbox`` from ``mask``; returns the box actually redrawn
    (one pixel larger in outline mode, where neighbours' boundaries change too)."""
    if outline:
        box = clip_bbox((bbox[0] - 1, bbox[1] - 1, bbox[2] + 1, bbox[3] + 1), mask.shape)
        if box is None:
            return bbox
        ctx = clip_bbox((box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1), mask.shape)
        assert ctx is not None
        m = mask[ctx[1]:ctx[3], ctx[0]:ctx[2]]
        edge = boundaries(m)
        ox, oy = box[0] - ctx[0], box[1] - ctx[1]
        h, w = box[3] - box[1], box[2] - box[0]
        m, edge = m[oy:oy + h, ox:ox + w], edge[oy:oy + h, ox:ox + w]
        colours = lut[m]
        colours[~edge] = 0
        overlay[box[1]:box[3], box[0]:box[2]] = colours
        return box
    x0, y0, x1, y1 = bbox
    overlay[y0:y1, x0:x1] = lut[mask[y0:y1, x0:x1]]
    return bbox


def display_buffer(rgb: np.ndarray) -> np.ndarray:
    """The photo as a contiguous RGB888 array QImage can share without copying."""
    return np.ascontiguousarray(rgb, dtype=np.uint8)


# -- Qt side ----------------------------------------------------------------------------------
class BufferLayer(QGraphicsItem):
    """A QGraphicsItem showing a numpy-backed QImage at 1 scene unit per pixel.

    ``paint`` draws only the exposed part (``option.exposedRect``), so a small dirty rect
    costs a small blit whatever the image size. ``last_paint`` (perf_counter) is for benchmarks.
    """

    def __init__(self, fmt: QImage.Format, z: float) -> None:
        super().__init__()
        self._fmt = fmt
        self._buf: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._rect = QRectF()
        self.last_paint = 0.0
        self.setZValue(z)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    @property
    def buffer(self) -> np.ndarray | None:
        return self._buf

    def set_buffer(self, buf: np.ndarray | None) -> None:
        self.prepareGeometryChange()
        self._buf = buf
        if buf is None:
            self._qimage, self._rect = None, QRectF()
        else:
            h, w = buf.shape[:2]
            self._qimage = QImage(buf.data, w, h, buf.strides[0], self._fmt)
            self._rect = QRectF(0, 0, w, h)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._qimage is None:
            return
        exposed = option.exposedRect.intersected(self._rect)  # type: ignore[attr-defined]
        if exposed.isEmpty():
            return
        src = exposed.toAlignedRect().adjusted(-1, -1, 1, 1).intersected(self._rect.toRect())
        painter.drawImage(QRectF(src), self._qimage, QRectF(src))
        self.last_paint = time.perf_counter()


class ImageLayer(BufferLayer):
    def __init__(self) -> None:
        super().__init__(QImage.Format.Format_RGB888, 0)

    def show_adjusted(self, rgb: np.ndarray | None, lut: np.ndarray | None) -> None:
        """Display ``rgb`` through ``lut`` (a new buffer; None: the photo as it is)."""
        if rgb is None:
            self.set_buffer(None)
        else:
            self.set_buffer(display_buffer(rgb) if lut is None else apply_lut(rgb, lut))


class OverlayLayer(BufferLayer):
    """The class colours; keeps the LUT and outline flag used to refresh dirty boxes."""

    def __init__(self) -> None:
        super().__init__(QImage.Format.Format_ARGB32_Premultiplied, 1)
        self.lut: np.ndarray | None = None
        self.outline = False
        self.hidden: set[int] = set()
        self.setOpacity(0.5)

    def set_hidden(self, hidden, mask: np.ndarray | None, labels: LabelSet | None) -> None:
        """Classes not drawn; the overlay is rebuilt (a mask edit keeps them hidden: same LUT)."""
        self.hidden = set(int(c) for c in hidden)
        self.rebuild(mask, labels)

    def refresh(self, mask: np.ndarray, bbox: BBox) -> BBox | None:
        if self._buf is None or self.lut is None:
            return None
        box = render_region(mask, self._buf, bbox, self.lut, self.outline)
        self.update(QRectF(box[0], box[1], box[2] - box[0], box[3] - box[1]))
        return box

    def rebuild(self, mask: np.ndarray | None, labels: LabelSet | None) -> None:
        if mask is None or labels is None:
            self.set_buffer(None)
            return
        self.lut = overlay_lut(labels, mask.dtype, self.hidden)
        self.set_buffer(colorize(mask, self.lut, self.outline))

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        if self.outline:
            painter.setOpacity(1.0)   # outlines stay crisp whatever the fill opacity
        super().paint(painter, option, widget)

