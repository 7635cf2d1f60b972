"""Smart canvas tools: thin bindings from the pointer to ``core.tools`` and back to the Document.

Each tool turns a click, drag or stroke into a ``core.tools`` call that *proposes* pixels, and
hands the proposal to :meth:`Document.apply_stamp` (one undo step; locked classes and preserve
labels respected there). Slow work runs on a :class:`~segstudio.gui.workers.Workers` pool:
superpixels (computed once per image and cached, started as soon as a tool that needs them is
chosen), GrabCut and the scribble CRF (the result is applied when it comes back, unless the
image changed meanwhile), and the SAM image embedding (``segstudio.gui.canvas.sam_tool``).

* Region relabel (N): click → the connected region of the mask (or, where the mask is void,
  of the shown prediction) takes the current class; snapped to superpixels when enabled.
* Superpixel brush (S): a stroke fills every superpixel it touches.
* Magic wand (W): colour-tolerance flood fill; Shift+wheel changes the tolerance.
* GrabCut box (G): drag a box → the object in it; Shift+drag first adds foreground
  scribbles, Ctrl+drag background scribbles (kept until the box is drawn or Esc).
* Scribble + CRF (C): a stroke of the current class; the dense CRF re-runs around it on the
  model's cached probabilities (or, without a prediction, on the current mask).
* Segment Anything (A): point / box prompts, see :mod:`segstudio.gui.canvas.sam_tool`.
* Learning brush (K): paints like the brush (same size), then a per-image classifier refitted
  on everything painted in this image extends the stroke over the connected pixels it now gives
  the class, and the result's outline is snapped onto the nearest colour edge
  (``core.tools.learn_brush``, ``core.tools.edge_snap``; on a worker, one undo step with the stroke).
* Class swap (X): click a wrongly labelled region → its connected part where the model's
  cached probabilities find the current class likely (``core.tools.prob_region``); Shift+wheel
  changes τ. Needs a prediction of the open image (Ctrl+R); without one the status bar says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPainterPath, QPen

from segstudio.core import paint
from segstudio.core.tools import (grabcut, keep_unchanged, learn_brush, prob_region, region, scribble_crf,
                                  superpixel, wand)
from segstudio.gui.canvas.sam_tool import SamTool
from segstudio.gui.canvas.tools import Tool, ToolState, _pen
from segstudio.gui.workers import Workers

if TYPE_CHECKING:
    from segstudio.gui.document import Document

REGION, SUPERPIXEL, WAND, GRABCUT, SCRIBBLE, SAM = "region", "superpixel", "wand", "grabcut", "scribble_crf", "sam"
CLASS_SWAP, LEARN = "class_swap", "learn_brush"
SMART_NAMES = {REGION: "Region relabel", SUPERPIXEL: "Superpixel brush", WAND: "Magic wand",
               GRABCUT: "GrabCut box", SCRIBBLE: "Scribble + CRF", SAM: "Segment Anything", CLASS_SWAP: "Class swap",
               LEARN: "Learning brush"}
SMART_SHORT = {REGION: "Region", SUPERPIXEL: "Superpixel", WAND: "Wand", GRABCUT: "GrabCut", SCRIBBLE: "Scribble",
               SAM: "SAM", CLASS_SWAP: "Swap", LEARN: "Learn"}
SCRIBBLE_WIDTH = 3


class SmartServices(QObject):
    """What the smart tools share: a worker pool, the superpixel cache, status messages and the
    shown prediction (looked up on the window that owns the document, when there is one)."""

    def __init__(self, doc: "Document", state: ToolState) -> None:
        super().__init__(doc)
        self.doc, self.state = doc, state
        self.workers = Workers(self, threads=1)
        self.superpixels = superpixel.SuperpixelCache(capacity=3)
        self._pending: set[tuple] = set()
        self.on_ready: list[Callable[[], None]] = []
        doc.imageChanged.connect(lambda _k: self.prepare())
        state.changed.connect(self.prepare)

    # -- superpixels ------------------------------------------------------------------------
    def _sp_key(self) -> tuple | None:
        if self.doc.key is None or self.doc.image is None:
            return None
        return (self.doc.key, id(self.doc.image))

    def needs_superpixels(self) -> bool:
        s = self.state
        return s.tool == SUPERPIXEL or (s.tool == REGION and s.snap_superpixels)

    def prepare(self) -> None:
        """Start computing what the active tool needs for the open image (background)."""
        if self.needs_superpixels():
            self.current_superpixels(start=True)

    def current_superpixels(self, start: bool = True) -> superpixel.Superpixels | None:
        key = self._sp_key()
        if key is None:
            return None
        method, size = self.state.sp_method, self.state.sp_size
        sp = self.superpixels.peek(key, method, size)
        if sp is None and start and (key, method, size) not in self._pending:
            self._pending.add((key, method, size))
            rgb = self.doc.image.rgb
            self.message(f"Computing superpixels ({method}, {size} px)…")
            self.workers.submit(superpixel.compute, rgb, method, size,
                                on_done=lambda res, k=(key, method, size): self._sp_done(k, res),
                                on_error=lambda exc, k=(key, method, size): self._failed(k, exc))
        return sp

    def _sp_done(self, k: tuple, sp: superpixel.Superpixels) -> None:
        self._pending.discard(k)
        self.superpixels.put(k[0], sp)
        self.message(f"Superpixels ready: {sp.count}")
        self.notify()

    def _failed(self, k: Any, exc: BaseException) -> None:
        if isinstance(k, tuple):
            self._pending.discard(k)
        self.message(f"Smart tool failed: {exc}")

    # -- background jobs whose results are applied if the image is unchanged ---------------
    def run(self, description: str, fn: Callable, *args: Any, value: int, base: np.ndarray | None = None) -> None:
        """Run ``fn(*args)`` on a worker; apply its stamp if the image is still open. ``base``: the mask the
        proposal was computed on; pixels edited since then are left out (the newer edit wins)."""
        key = self.doc.key
        self.message(f"{description}…")

        def done(stamp, k=key) -> None:
            if k != self.doc.key:
                return
            if base is not None and self.doc.mask is not None:
                stamp = keep_unchanged(stamp, base, self.doc.mask)
            if stamp is None or not self.doc.apply_stamp(description, stamp, value, self.state.preserve):
                self.message(f"{description}: nothing changed")
            else:
                self.message(f"{description}: done")
            self.notify()

        self.workers.submit(fn, *args, on_done=done, on_error=lambda exc: self._failed(None, exc))

    # -- the window around the document -----------------------------------------------------
    def _prediction(self):
        return getattr(self.doc.parent(), "prediction", None)

    def shown_labels(self) -> np.ndarray | None:
        pred = self._prediction()
        return pred.display_labels(self.doc.key) if pred is not None else None

    def probs(self) -> np.ndarray | None:
        """Model probabilities of the open image in project ids, None when there is none."""
        pred = self._prediction()
        probs = pred.display_probs() if pred is not None and pred.current is not None else None
        if probs is None or pred.current.key != self.doc.key or probs.shape[0] != self.doc.labels.num_classes:
            return None
        return probs

    def notify(self) -> None:
        """A background result arrived: run the listeners and repaint the canvas (tool previews)."""
        for fn in list(self.on_ready):
            fn()
        canvas = getattr(self.doc.parent(), "canvas", None)
        if canvas is not None:
            canvas.viewport().update()

    def message(self, text: str) -> None:
        win = self.doc.parent()
        bar = win.statusBar() if win is not None and hasattr(win, "statusBar") else None
        if bar is not None:
            bar.showMessage(text, 5000)

    def wait(self, msecs: int = -1) -> bool:
        return self.workers.wait(msecs)


class _ServicedTool(Tool):
    """A tool that uses the canvas's shared per-image services (superpixels, probabilities, messages)."""

    def __init__(self, doc: "Document", state: ToolState, services: SmartServices) -> None:
        super().__init__(doc, state)
        self.services = services


class RegionTool(_ServicedTool):
    name = REGION
    cursor = Qt.CursorShape.PointingHandCursor

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        doc = self.doc
        if doc.mask is None:
            return
        source = _labels_at(doc, self.services, pos)
        sp = self.services.current_superpixels() if self.state.snap_superpixels else None
        if self.state.snap_superpixels and sp is None:
            self.services.message("Superpixels are still being computed; region not snapped")
        stamp = region.region_stamp(source, pos.x(), pos.y(), superpixels=sp)
        doc.apply_stamp("Region relabel", stamp, self.state.current_class, self.state.preserve)


class WandTool(Tool):
    name = WAND
    cursor = Qt.CursorShape.PointingHandCursor

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        if self.doc.image is None or self.doc.mask is None:
            return
        stamp = wand.wand_stamp(self.doc.image.rgb, pos.x(), pos.y(), self.state.tolerance)
        self.doc.apply_stamp("Magic wand", stamp, self.state.current_class, self.state.preserve)

    def wheel(self, delta: int, modifiers: Qt.KeyboardModifier) -> bool:
        return _shift_wheel(delta, modifiers, self.state.set_tolerance, self.state.tolerance)


class ClassSwapTool(_ServicedTool):
    """Click: the clicked label's connected region where the model finds the current class likely."""

    name = CLASS_SWAP
    cursor = Qt.CursorShape.PointingHandCursor

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        doc = self.doc
        if doc.mask is None:
            return
        probs = self.services.probs()
        if probs is None:
            self.services.message("Class swap needs the model's probabilities: run the model on this image (Ctrl+R)")
            return
        source = _labels_at(doc, self.services, pos)
        value = self.state.current_class
        stamp = prob_region.class_swap_stamp(source, probs, pos.x(), pos.y(), value, self.state.swap_ratio / 100.0)
        if not doc.apply_stamp("Class swap", stamp, value, self.state.preserve):
            self.services.message("Class swap: nothing changed")

    def wheel(self, delta: int, modifiers: Qt.KeyboardModifier) -> bool:
        return _shift_wheel(delta, modifiers, self.state.set_swap_ratio, self.state.swap_ratio)


def _labels_at(doc: "Document", services: SmartServices, pos: QPointF) -> np.ndarray:
    """The labels a click-to-relabel tool works on: the mask, or the shown prediction where the mask is void."""
    shown = services.shown_labels()
    if doc.value_at(pos.x(), pos.y()) == doc.labels.void_value and shown is not None \
            and shown.shape == doc.mask.shape:
        return shown
    return doc.mask


def _shift_wheel(delta: int, modifiers: Qt.KeyboardModifier, setter: Callable[[float], None], value: float) -> bool:
    """Shift+wheel steps a tool setting by 2 (True: used; a plain wheel keeps zooming)."""
    if not modifiers & Qt.KeyboardModifier.ShiftModifier:
        return False
    setter(value + (2 if delta > 0 else -2))
    return True


class _StrokeTool(_ServicedTool):
    """Collects a press-drag-release path (image coordinates) and draws it."""

    width = SCRIBBLE_WIDTH

    def __init__(self, doc: "Document", state: ToolState, services: SmartServices) -> None:
        super().__init__(doc, state, services)
        self.path: list[tuple[float, float]] = []

    @property
    def busy(self) -> bool:
        return bool(self.path)

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        if self.doc.mask is not None:
            self.path = [(pos.x(), pos.y())]

    def move(self, pos: QPointF, pressed: bool) -> None:
        self.pos = pos
        if self.path and pressed and (pos.x(), pos.y()) != self.path[-1]:
            self.path.append((pos.x(), pos.y()))

    def release(self, pos: QPointF) -> None:
        if not self.path:
            return
        self.move(pos, True)
        path, self.path = self.path, []
        self.finish(path)

    def finish(self, path: list[tuple[float, float]]) -> None: ...

    def cancel(self) -> None:
        self.path = []

    def stroke_stamp(self, path: list[tuple[float, float]], size: float):
        shape = self.doc.mask.shape
        out = None
        for p0, p1 in zip(path, path[1:] or path):
            st = paint.stroke_stamp(p0, p1, size, shape)
            if st is not None:
                out = _union(out, st, shape)
        return out

    def preview_rect(self, scale: float) -> QRectF:
        pts = self.path + ([(self.pos.x(), self.pos.y())] if self.pos is not None else [])
        if not pts:
            return QRectF()
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        m = self.width + 4 / max(scale, 1e-6)
        return QRectF(min(xs) - m, min(ys) - m, max(xs) - min(xs) + 2 * m, max(ys) - min(ys) + 2 * m)

    def stroke_colour(self) -> QColor:
        return QColor(*self.doc.labels.color_of(self.state.current_class))

    def draw_preview(self, painter: QPainter, scale: float) -> None:
        if len(self.path) > 1:
            qp = QPainterPath(QPointF(*self.path[0]))
            for p in self.path[1:]:
                qp.lineTo(QPointF(*p))
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(0, 0, 0, 200), self.width + 2 / max(scale, 1e-6)))
            painter.drawPath(qp)
            painter.setPen(QPen(self.stroke_colour(), self.width))
            painter.drawPath(qp)
        if self.pos is not None:
            r = self.width / 2 + 1 / max(scale, 1e-6)
            painter.setPen(_pen(self.stroke_colour(), 2))
            painter.drawEllipse(self.pos, r, r)


def _union(a, b, shape):
    if a is None:
        return b
    box = paint.union_bbox(a[0], b[0])
    x0, y0, x1, y1 = box
    out = np.zeros((y1 - y0, x1 - x0), bool)
    for (bx0, by0, bx1, by1), patch in (a, b):
        out[by0 - y0:by1 - y0, bx0 - x0:bx1 - x0] |= patch
    return box, out


class _BrushSizedStroke(_StrokeTool):
    """A stroke tool drawn with the brush's size (``[`` ``]``) rather than the scribble width."""

    @property
    def width(self) -> float:  # type: ignore[override]
        return float(self.state.brush_size)


class SuperpixelTool(_BrushSizedStroke):
    name = SUPERPIXEL

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        if self.services.current_superpixels() is None:
            self.services.message("Superpixels are still being computed for this image")
            return
        super().press(pos, modifiers)

    def finish(self, path: list[tuple[float, float]]) -> None:
        sp = self.services.current_superpixels()
        st = self.stroke_stamp(path, self.state.brush_size)
        if sp is None or st is None:
            return
        self.doc.apply_stamp("Superpixel brush", sp.stamp(sp.ids_in(st)), self.state.current_class,
                             self.state.preserve)

    def wheel(self, delta: int, modifiers: Qt.KeyboardModifier) -> bool:
        return _shift_wheel(delta, modifiers, self.state.set_sp_size, self.state.sp_size)


class ScribbleTool(_StrokeTool):
    name = SCRIBBLE

    def finish(self, path: list[tuple[float, float]]) -> None:
        doc = self.doc
        if doc.image is None or doc.mask is None:
            return
        st = self.stroke_stamp(path, self.width)
        if st is None:
            return
        c = doc.labels.num_classes
        value = self.state.current_class
        probs = self.services.probs()
        mask = doc.mask.copy()
        fixed_px = doc.fixed_pixels()
        fixed = np.where(fixed_px, mask, c).astype(np.int32) if fixed_px is not None else None
        if probs is None:
            self.services.message("Scribble + CRF: no prediction shown, refining from the current mask")
        self.services.run("Scribble + CRF", _scribble_job, doc.image.rgb, probs, mask, c, st, value,
                          self.state.crf_params, fixed, value=value, base=mask)


def _scribble_job(rgb, probs, mask, num_classes, stroke, value, params, fixed):
    if probs is None:
        probs = scribble_crf.probs_from_labels(mask, num_classes)
    return scribble_crf.scribble_crf_stamp(rgb, probs, stroke, value, params, fixed=fixed, mask=mask)


class LearningBrushTool(_BrushSizedStroke):
    """A brush stroke (brush size) that the per-image refit extends and the edge snap outlines;
    see ``core.tools.learn_brush``."""

    name = LEARN

    def finish(self, path: list[tuple[float, float]]) -> None:
        doc = self.doc
        if doc.image is None or doc.mask is None:
            return
        st = self.stroke_stamp(path, self.state.brush_size)
        if st is None:
            return
        probs = self.services.probs()
        if probs is None:
            self.services.message("Learning brush: no prediction shown, learning from colour and the mask")
        fixed = doc.fixed_pixels()
        mask = doc.mask.copy()
        self.services.run("Learning brush", learn_brush.learning_brush_stamp, doc.image.rgb, probs, mask,
                          st, self.state.current_class, doc.labels.num_classes,
                          None if fixed is None else fixed.copy(), value=self.state.current_class, base=mask)


class GrabCutTool(_StrokeTool):
    """Drag a box; Shift+drag (foreground) and Ctrl+drag (background) scribbles come first."""

    name = GRABCUT

    def __init__(self, doc: "Document", state: ToolState, services: SmartServices) -> None:
        super().__init__(doc, state, services)
        self.start: QPointF | None = None
        self.hints: list[tuple[list[tuple[float, float]], bool]] = []
        self._hint_fg: bool | None = None

    @property
    def busy(self) -> bool:
        return self.start is not None or bool(self.path)

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        if self.doc.mask is None:
            return
        if modifiers & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier):
            self._hint_fg = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
            super().press(pos, modifiers)
        else:
            self.start = QPointF(pos)

    def finish(self, path: list[tuple[float, float]]) -> None:
        if self._hint_fg is not None:
            self.hints.append((path, self._hint_fg))
            self._hint_fg = None

    def release(self, pos: QPointF) -> None:
        if self.path:
            super().release(pos)
            return
        if self.start is None or self.doc.image is None:
            return
        start, self.start = self.start, None
        rect = paint.rect_from_points((start.x(), start.y()), (pos.x(), pos.y()), self.doc.mask.shape)
        hints = [(st, fg) for path, fg in self.hints if (st := self.stroke_stamp(path, self.width)) is not None]
        self.hints = []
        if rect is None:
            return
        self.services.run("GrabCut", grabcut.grabcut_stamp, self.doc.image.rgb, rect, hints,
                          value=self.state.current_class, base=self.doc.mask.copy())

    def cancel(self) -> None:
        super().cancel()
        self.start, self.hints, self._hint_fg = None, [], None

    def key(self, event: QKeyEvent) -> bool:
        if event.key() == Qt.Key.Key_Escape and (self.hints or self.start is not None):
            self.cancel()
            return True
        return False

    def stroke_colour(self) -> QColor:
        return QColor(60, 220, 60) if self._hint_fg else QColor(230, 60, 60)

    def preview_rect(self, scale: float) -> QRectF:
        r = super().preview_rect(scale)
        if self.start is not None and self.pos is not None:
            m = 3 / max(scale, 1e-6)
            r = r.united(QRectF(self.start, self.pos).normalized().adjusted(-m, -m, m, m))
        for path, _fg in self.hints:
            xs, ys = [p[0] for p in path], [p[1] for p in path]
            r = r.united(QRectF(min(xs) - 4, min(ys) - 4, max(xs) - min(xs) + 8, max(ys) - min(ys) + 8))
        return r

    def draw_preview(self, painter: QPainter, scale: float) -> None:
        for path, fg in self.hints:
            qp = QPainterPath(QPointF(*path[0]))
            for p in path[1:]:
                qp.lineTo(QPointF(*p))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(60, 220, 60) if fg else QColor(230, 60, 60), self.width))
            painter.drawPath(qp)
        super().draw_preview(painter, scale)
        if self.start is not None and self.pos is not None:
            r = QRectF(self.start, self.pos).normalized()
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(_pen(QColor(0, 0, 0), 3))
            painter.drawRect(r)
            painter.setPen(_pen(self.stroke_colour_box(), 1, Qt.PenStyle.DashLine))
            painter.drawRect(r)

    def stroke_colour_box(self) -> QColor:
        return QColor(*self.doc.labels.color_of(self.state.current_class))


def make_smart_tools(doc: "Document", state: ToolState) -> dict[str, Tool]:
    services = SmartServices(doc, state)
    tools: dict[str, Tool] = {REGION: RegionTool(doc, state, services), WAND: WandTool(doc, state),
                              SUPERPIXEL: SuperpixelTool(doc, state, services),
                              SCRIBBLE: ScribbleTool(doc, state, services),
                              GRABCUT: GrabCutTool(doc, state, services), SAM: SamTool(doc, state, services),
                              CLASS_SWAP: ClassSwapTool(doc, state, services),
                              LEARN: LearningBrushTool(doc, state, services)}
    for t in tools.values():
        t.services = services  # type: ignore[attr-defined]
    return tools

