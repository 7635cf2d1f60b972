"""The Segment Anything canvas tool (A): point and box prompts → a previewed mask → Enter applies it.

Thin binding of :mod:`segstudio.models.promptable`: the model is loaded from the weights folder
(``SEGSTUDIO_SAM_DIR``, default ``~/.local/share/segstudio/sam/``) on a worker the first time the
tool is chosen; the image embedding is computed on the same worker as soon as the tool is active
on an image (once per image, cached by the model); each prompt runs only the decoder, also on
that worker, and the answer is drawn as a preview in the current class colour. Click: a
foreground point; Shift+click: a background point; drag: a box; Enter: apply the preview as
ONE undo step (locked classes and preserve labels respected by the Document); Esc: clear.
Without weights the tool says where to put them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QKeyEvent, QPainter

from segstudio.core.tools import stamp_from_full
from segstudio.gui.canvas.tools import Tool, ToolState, _pen

if TYPE_CHECKING:
    from segstudio.gui.document import Document

SAM = "sam"
DRAG_PX = 5          # a press-release farther apart than this (screen pixels) is a box


def _load_model():
    from segstudio.models.promptable import load
    return load()


def _embed(model, rgb: np.ndarray, key: Any):
    model.set_image(rgb, key=key)
    return key


def _predict(model, rgb: np.ndarray, key: Any, points, labels, box):
    model.set_image(rgb, key=key)          # cache hit unless the embedding was evicted
    return model.predict(points or None, labels or None, box)


class SamTool(Tool):
    name = SAM

    def __init__(self, doc: "Document", state: ToolState, services: Any) -> None:
        # services: the canvas's SmartServices (gui.canvas.smart_tools, which imports this module)
        super().__init__(doc, state)
        self.services = services
        self.model: Any = None
        self.error: str | None = None
        self._loading = False
        self.embedded: set[Any] = set()
        self.points: list[tuple[float, float]] = []
        self.labels: list[int] = []
        self.box: tuple[float, float, float, float] | None = None
        self.preview: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._buf: np.ndarray | None = None
        self._start: QPointF | None = None
        self._gen = 0
        doc.imageChanged.connect(lambda _k: (self.cancel(), self.prepare()))
        state.changed.connect(self.prepare)

    # -- model and embedding (worker) ----------------------------------------------------------
    def _key(self):
        return (self.doc.key, id(self.doc.image)) if self.doc.image is not None else None

    def prepare(self) -> None:
        if self.state.tool != SAM:
            return
        if self.model is None:
            if not self._loading and self.error is None:
                self._loading = True
                self.services.message("Loading Segment Anything…")
                self.services.workers.submit(_load_model, on_done=self._loaded, on_error=self._load_failed)
            elif self.error is not None:
                self.services.message(self.error)
            return
        key = self._key()
        if key is not None and key not in self.embedded:
            self.services.message("Segment Anything: computing the image embedding…")
            self.services.workers.submit(_embed, self.model, self.doc.image.rgb, key,
                                         on_done=self._embedded, on_error=self._failed)

    def _loaded(self, model) -> None:
        self._loading = False
        self.model = model
        self.services.message(f"{model.name} loaded")
        self.prepare()

    def _load_failed(self, exc: BaseException) -> None:
        self._loading = False
        self.error = f"Segment Anything: {exc}"
        self.services.message(self.error)

    def _embedded(self, key) -> None:
        self.embedded.add(key)
        self.services.message("Segment Anything ready: click the object (Shift+click: background, drag: box)")

    def _failed(self, exc: BaseException) -> None:
        self.services.message(f"Segment Anything failed: {exc}")

    @property
    def ready(self) -> bool:
        return self.model is not None and self._key() in self.embedded

    # -- prompts ------------------------------------------------------------------------------
    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        if self.doc.mask is None:
            return
        if self.model is None:
            self.prepare()
            self.services.message(self.error or "Segment Anything is still loading")
            return
        self._start = QPointF(pos)
        self._shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)

    def release(self, pos: QPointF) -> None:
        if self._start is None:
            return
        start, self._start = self._start, None
        if (abs(pos.x() - start.x()) + abs(pos.y() - start.y())) * self.scale > DRAG_PX:
            x0, x1 = sorted((start.x(), pos.x()))
            y0, y1 = sorted((start.y(), pos.y()))
            self.box = (x0, y0, x1, y1)
        else:
            self.points.append((pos.x(), pos.y()))
            self.labels.append(0 if self._shift else 1)
        self._ask()

    def _ask(self) -> None:
        if self.model is None or self.doc.image is None:
            return
        self._gen += 1
        gen = self._gen
        self.services.workers.submit(_predict, self.model, self.doc.image.rgb, self._key(), list(self.points),
                                     list(self.labels), self.box,
                                     on_done=lambda res, g=gen: self._answer(g, res), on_error=self._failed)

    def _answer(self, gen: int, result) -> None:
        if gen != self._gen or self.doc.mask is None:
            return
        mask, score = result
        self.preview = mask
        self._buf = np.zeros(mask.shape + (4,), np.uint8)
        r, g, b = self.doc.labels.color_of(self.state.current_class)
        self._buf[mask] = (b, g, r, 130)                  # QImage ARGB32 is BGRA in memory
        h, w = mask.shape
        self._qimage = QImage(self._buf.data, w, h, 4 * w, QImage.Format.Format_ARGB32)
        self.services.message(f"Segment Anything: score {score:.2f} — Enter applies, Esc clears")
        self.services.notify()

    def apply(self) -> bool:
        if self.preview is None:
            return False
        stamp = stamp_from_full(self.preview)
        ok = self.doc.apply_stamp("Segment Anything", stamp, self.state.current_class, self.state.preserve)
        self.cancel()
        return ok

    def key(self, event: QKeyEvent) -> bool:
        k = event.key()
        if k in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.preview is not None:
            self.apply()
            return True
        if k == Qt.Key.Key_Escape and self.busy:
            self.cancel()
            return True
        return False

    def cancel(self) -> None:
        self._gen += 1
        self.points, self.labels, self.box = [], [], None
        self.preview = self._qimage = self._buf = None
        self._start = None

    @property
    def busy(self) -> bool:
        return bool(self.points) or self.box is not None or self.preview is not None

    # -- preview ------------------------------------------------------------------------------
    def preview_rect(self, scale: float) -> QRectF:
        if self.preview is not None:
            h, w = self.preview.shape
            return QRectF(0, 0, w, h)
        if self.pos is None:
            return QRectF()
        m = 8 / max(scale, 1e-6)
        r = QRectF(self.pos.x() - m, self.pos.y() - m, 2 * m, 2 * m)
        if self._start is not None:
            r = r.united(QRectF(self._start, self.pos).normalized().adjusted(-m, -m, m, m))
        return r

    def draw_preview(self, painter: QPainter, scale: float) -> None:
        if self._qimage is not None:
            h, w = self.preview.shape
            painter.drawImage(QRectF(0, 0, w, h), self._qimage)
        if self._start is not None and self.pos is not None:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(_pen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine))
            painter.drawRect(QRectF(self._start, self.pos).normalized())
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            painter.setPen(_pen(QColor(255, 255, 0), 2))
            painter.drawRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for (x, y), lab in zip(self.points, self.labels):
            painter.setPen(_pen(QColor(0, 0, 0), 1))
            painter.setBrush(QColor(60, 220, 60) if lab else QColor(230, 60, 60))
            painter.drawEllipse(QPointF(x, y), 4 / scale, 4 / scale)
