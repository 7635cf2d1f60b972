"""Pointer tools of the canvas: brush, eraser, flood fill, polygon, replace-in-rectangle, picker
(the smart tools — region, superpixel brush, wand, GrabCut, scribble + CRF, class swap — live in
:mod:`segstudio.gui.canvas.smart_tools` and are registered here by :func:`make_tools`).

Tools turn pointer events (in image coordinates) into calls on the :class:`Document`
(which does the pixel work through ``core.paint`` and records undo). They also draw their
own preview (brush circle, polygon, rectangle) in scene coordinates and say which scene
rectangle that preview covers, so the view repaints only that. The view keeps ``Tool.scale``
(screen pixels per image pixel) current, so tools can measure in screen pixels (the polygon
closes within :data:`CLOSE_RADIUS_PX` screen pixels of its first vertex at any zoom).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPen, QPolygonF

from segstudio.core import paint
from segstudio.core.crf_params import CRFParams
from segstudio.core.tools import prob_region as _swap, superpixel as _sp, wand as _wand

if TYPE_CHECKING:
    from segstudio.gui.document import Document

BRUSH, ERASER, FILL, POLYGON, REPLACE, PICKER = "brush", "eraser", "fill", "polygon", "replace", "picker"
TOOL_NAMES = {BRUSH: "Brush", ERASER: "Eraser", FILL: "Flood fill", POLYGON: "Polygon",
              REPLACE: "Replace class in rectangle", PICKER: "Class picker"}
SHORT_NAMES = {BRUSH: "Brush", ERASER: "Eraser", FILL: "Fill", POLYGON: "Polygon", REPLACE: "Replace", PICKER: "Picker"}
CLOSE_RADIUS_PX = 8   # a click this close (screen pixels) to the first vertex closes the polygon


class ToolState(QObject):
    """What the tools paint with; shared by the canvas, tool bar and label panel."""

    changed = Signal()
    classChanged = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tool = BRUSH
        self.current_class = 0
        self.brush_size = 15
        self.preserve = False
        self.replace_source: int | None = None   # None: the class under the rectangle's first corner
        self.tolerance = _wand.DEFAULT_TOLERANCE    # magic wand, 0-255
        self.sp_method, self.sp_size = "slic", _sp.DEFAULT_SIZE   # superpixels (brush, region snap)
        self.snap_superpixels = False              # region relabel snapped to superpixels
        self.crf_params = _crf_params()            # scribble + CRF
        self.swap_ratio = _swap.DEFAULT_RATIO_PCT  # class swap: τ in %, 0-100

    def _update(self, attr: str, value) -> None:
        if value != getattr(self, attr):
            setattr(self, attr, value)
            self.changed.emit()

    def set_tolerance(self, value: float) -> None:
        self._update("tolerance", _wand.clamp_tolerance(value))

    def set_swap_ratio(self, value: float) -> None:
        self._update("swap_ratio", _swap.clamp_ratio_pct(value))

    def set_sp_size(self, size: float) -> None:
        self._update("sp_size", int(min(_sp.MAX_SIZE, max(_sp.MIN_SIZE, round(size)))))

    def set_snap(self, on: bool) -> None:
        self._update("snap_superpixels", bool(on))

    def set_tool(self, name: str) -> None:
        self._update("tool", name)

    def set_class(self, cid: int) -> None:
        if cid != self.current_class:
            self.current_class = int(cid)
            self.classChanged.emit(self.current_class)
            self.changed.emit()

    def set_brush_size(self, size: float) -> None:
        self._update("brush_size", paint.clamp_brush(size))

    def grow(self, direction: int) -> None:
        """``[`` / ``]``: about 15 % smaller/larger, at least one pixel."""
        step = max(1, round(self.brush_size * 0.15))
        self.set_brush_size(self.brush_size + direction * step)

    def set_preserve(self, on: bool) -> None:
        self._update("preserve", bool(on))


def _crf_params() -> CRFParams:
    try:
        return CRFParams.shipped()
    except Exception:  # noqa: BLE001 - a broken resources file must not stop the canvas
        return CRFParams()


def _pen(color: QColor, width: float = 0, style=Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(color, width, style)
    pen.setCosmetic(True)
    return pen


class Tool:
    """Base class: every handler gets image coordinates; return value of ``key`` = handled."""

    name = ""
    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, doc: "Document", state: ToolState) -> None:
        self.doc, self.state = doc, state
        self.pos: QPointF | None = None     # last pointer position (image coords), for previews
        self.scale = 1.0                    # screen pixels per image pixel (kept by the view)

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None: ...
    def move(self, pos: QPointF, pressed: bool) -> None:
        self.pos = pos

    def release(self, pos: QPointF) -> None: ...

    def double_click(self, pos: QPointF) -> bool:
        """Handle a double-click; False: treat it as a plain press (Qt sends it instead of one)."""
        return False

    def key(self, event: QKeyEvent) -> bool:
        return False

    def wheel(self, delta: int, modifiers: Qt.KeyboardModifier) -> bool:
        """A wheel turn over the canvas; True: the tool used it (else the view zooms)."""
        return False

    def cancel(self) -> None: ...

    def preview_rect(self, scale: float) -> QRectF:
        return QRectF()

    def draw_preview(self, painter: QPainter, scale: float) -> None: ...

    @property
    def busy(self) -> bool:
        """True while a gesture is in progress (image switching waits)."""
        return False


class BrushTool(Tool):
    name = BRUSH

    def __init__(self, doc: "Document", state: ToolState, eraser: bool = False) -> None:
        super().__init__(doc, state)
        self.eraser = eraser
        self.name = ERASER if eraser else BRUSH
        self._last: tuple[float, float] | None = None

    def _value(self) -> int:
        return self.doc.labels.void_value if self.eraser else self.state.current_class

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        if self.doc.mask is None:
            return
        p = (pos.x(), pos.y())
        self.doc.begin_stroke("Eraser" if self.eraser else "Brush")
        self.doc.stroke(p, p, self.state.brush_size, self._value(), self.state.preserve and not self.eraser)
        self._last = p

    def move(self, pos: QPointF, pressed: bool) -> None:
        self.pos = pos
        if self._last is None:
            return
        p = (pos.x(), pos.y())
        if p != self._last:
            self.doc.stroke(self._last, p, self.state.brush_size, self._value(), self.state.preserve and not self.eraser)
            self._last = p

    def release(self, pos: QPointF) -> None:
        if self._last is not None:
            self.move(pos, True)
            self._last = None
            self.doc.end_stroke()

    def cancel(self) -> None:
        if self._last is not None:
            self._last = None
            self.doc.end_stroke()

    @property
    def busy(self) -> bool:
        return self._last is not None

    def preview_rect(self, scale: float) -> QRectF:
        if self.pos is None:
            return QRectF()
        r = self.state.brush_size / 2 + 3 / max(scale, 1e-6)
        return QRectF(self.pos.x() - r, self.pos.y() - r, 2 * r, 2 * r)

    def draw_preview(self, painter: QPainter, scale: float) -> None:
        if self.pos is None:
            return
        r = self.state.brush_size / 2
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(_pen(QColor(0, 0, 0, 200), 4))
        painter.drawEllipse(self.pos, r, r)
        painter.setPen(_pen(self.ring_colour(), 2))
        painter.drawEllipse(self.pos, r, r)

    def ring_colour(self) -> QColor:
        """The class colour the brush paints with (white for the eraser)."""
        if self.eraser:
            return QColor(255, 255, 255, 230)
        return QColor(*self.doc.labels.color_of(self.state.current_class))


class FillTool(Tool):
    name = FILL
    cursor = Qt.CursorShape.PointingHandCursor

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        self.doc.flood_fill(pos.x(), pos.y(), self.state.current_class, self.state.preserve)


class PolygonTool(Tool):
    """Click vertices; Enter, a double-click or a click on the first vertex closes and fills."""

    name = POLYGON

    def __init__(self, doc: "Document", state: ToolState) -> None:
        super().__init__(doc, state)
        self.points: list[QPointF] = []

    @property
    def busy(self) -> bool:
        return bool(self.points)

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        if len(self.points) >= 3 and self._near_first(pos):
            self.close()
            return
        self.points.append(QPointF(pos))

    def _near_first(self, pos: QPointF) -> bool:
        first = self.points[0]
        return math.hypot(pos.x() - first.x(), pos.y() - first.y()) * self.scale <= CLOSE_RADIUS_PX

    def double_click(self, pos: QPointF) -> bool:
        # Qt delivers a double-click instead of the second press: that point is a vertex too
        if not self.points or self.points[-1] != pos:
            self.points.append(QPointF(pos))
        self.close()
        return True

    def close(self) -> None:
        pts = [(p.x(), p.y()) for p in self.points]
        self.points = []
        if len(pts) >= 3:
            self.doc.fill_polygon(pts, self.state.current_class, self.state.preserve)

    def cancel(self) -> None:
        self.points = []

    def key(self, event: QKeyEvent) -> bool:
        k = event.key()
        if k in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.points:
            self.close()
            return True
        if k == Qt.Key.Key_Escape and self.points:
            self.cancel()
            return True
        if k == Qt.Key.Key_Backspace and self.points:
            self.points.pop()
            return True
        return False

    def preview_rect(self, scale: float) -> QRectF:
        pts = list(self.points) + ([self.pos] if self.pos is not None else [])
        if not pts:
            return QRectF()
        m = 6 / max(scale, 1e-6)
        return QPolygonF(pts).boundingRect().adjusted(-m, -m, m, m)

    def draw_preview(self, painter: QPainter, scale: float) -> None:
        if not self.points:
            if self.pos is not None:
                painter.setPen(_pen(QColor(255, 255, 255), 1))
                painter.drawEllipse(self.pos, 2 / scale, 2 / scale)
            return
        pts = list(self.points) + ([self.pos] if self.pos is not None else [])
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        color = QColor(*self.doc.labels.color_of(self.state.current_class))
        fill = QColor(color)
        fill.setAlpha(70)
        painter.setBrush(fill)
        painter.setPen(_pen(QColor(0, 0, 0, 200), 3))
        painter.drawPolygon(QPolygonF(pts))
        painter.setPen(_pen(QColor(255, 255, 255), 1))
        painter.drawPolygon(QPolygonF(pts))
        painter.setBrush(QColor(255, 255, 255))
        for p in self.points:
            painter.drawEllipse(p, 3 / scale, 3 / scale)


class ReplaceTool(Tool):
    """Drag a rectangle: inside it, pixels of the source class become the current class."""

    name = REPLACE

    def __init__(self, doc: "Document", state: ToolState) -> None:
        super().__init__(doc, state)
        self.start: QPointF | None = None

    @property
    def busy(self) -> bool:
        return self.start is not None

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        self.start = QPointF(pos)

    def release(self, pos: QPointF) -> None:
        if self.start is None:
            return
        start, self.start = self.start, None
        source = self.state.replace_source
        if source is None:
            source = self.doc.value_at(start.x(), start.y())
        if source is not None:
            self.doc.replace_in_rect((start.x(), start.y()), (pos.x(), pos.y()), source, self.state.current_class)

    def cancel(self) -> None:
        self.start = None

    def _rect(self) -> QRectF:
        if self.start is None or self.pos is None:
            return QRectF()
        return QRectF(self.start, self.pos).normalized()

    def preview_rect(self, scale: float) -> QRectF:
        m = 3 / max(scale, 1e-6)
        return self._rect().adjusted(-m, -m, m, m)

    def draw_preview(self, painter: QPainter, scale: float) -> None:
        r = self._rect()
        if r.isNull():
            return
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(_pen(QColor(0, 0, 0), 3))
        painter.drawRect(r)
        painter.setPen(_pen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine))
        painter.drawRect(r)


class PickerTool(Tool):
    name = PICKER
    cursor = Qt.CursorShape.PointingHandCursor

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        pick_class(self.doc, self.state, pos)


def pick_class(doc: "Document", state: ToolState, pos: QPointF) -> None:
    """Make the class under ``pos`` current (void is not a class: ignored)."""
    value = doc.value_at(pos.x(), pos.y())
    if value is not None and 0 <= value < doc.labels.num_classes:
        state.set_class(value)


def make_tools(doc: "Document", state: ToolState) -> dict[str, Tool]:
    from segstudio.gui.canvas.smart_tools import make_smart_tools

    tools: dict[str, Tool] = {BRUSH: BrushTool(doc, state), ERASER: BrushTool(doc, state, eraser=True),
                              FILL: FillTool(doc, state), POLYGON: PolygonTool(doc, state),
                              REPLACE: ReplaceTool(doc, state), PICKER: PickerTool(doc, state)}
    tools.update(make_smart_tools(doc, state))
    return tools
