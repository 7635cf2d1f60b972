"""The canvas view: image + class overlay, zoom to cursor, pan, tools, brush preview.

Scene coordinates are image pixel coordinates. Edits arrive as dirty boxes from the
document (``maskEdited``); only that box of the overlay is recoloured and repainted.
Wheel zooms about the cursor, space+drag or middle-drag pans, ``fit``/``actual_size``
reset the view, Tab (an action in the main window) toggles the overlay.
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (QKeyEvent, QMouseEvent, QPainter, QResizeEvent, QWheelEvent)
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSimpleTextItem, QGraphicsView, QWidget

from segstudio.gui import theme
from segstudio.gui.canvas import layers
from segstudio.gui.canvas.tools import ToolState, Tool, make_tools, pick_class

if TYPE_CHECKING:
    from segstudio.gui.document import Document

MIN_ZOOM, MAX_ZOOM = 0.01, 64.0


class CanvasView(QGraphicsView):
    cursorMoved = Signal(float, float)   # image coordinates; NaN when the pointer left the image
    zoomChanged = Signal(float)

    def __init__(self, doc: "Document", state: ToolState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc, self.state = doc, state
        self.tools: dict[str, Tool] = make_tools(doc, state)
        self.setScene(QGraphicsScene(self))
        self.image_layer = layers.ImageLayer()
        self.overlay_layer = layers.OverlayLayer()
        self.scene().addItem(self.image_layer)
        self.scene().addItem(self.overlay_layer)
        self._message = QGraphicsSimpleTextItem()
        self._message.setBrush(theme.canvas_text())
        self.scene().addItem(self._message)
        self.setBackgroundBrush(theme.canvas_background())
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._space = False
        self._pan_from: QPointF | None = None
        self._pressed = False
        self._preview = QRectF()
        self._fit_pending = True
        doc.imageChanged.connect(self._on_image_changed)
        doc.maskEdited.connect(self.refresh_region)
        doc.maskReplaced.connect(self.rebuild_overlay)
        doc.labelsChanged.connect(self.rebuild_overlay)
        doc.loadFailed.connect(self._on_load_failed)
        state.changed.connect(self._on_state_changed)
        self._apply_cursor()

    # -- content -------------------------------------------------------------------------
    @property
    def tool(self) -> Tool:
        tool = self.tools[self.state.tool]
        tool.scale = self.zoom      # tools measure in screen pixels (e.g. the polygon's closing radius)
        return tool

    def _on_image_changed(self, key: str) -> None:
        for t in self.tools.values():
            t.cancel()
        self._message.setText("")
        doc = self.doc
        prepared = doc.extras.get("canvas") if doc.extras else None
        if doc.image is None or doc.mask is None:
            self.image_layer.set_buffer(None)
            self.overlay_layer.set_buffer(None)
            return
        if prepared is not None and prepared["outline"] == self.overlay_layer.outline:
            self.image_layer.set_buffer(prepared["display"])
            self.overlay_layer.lut = prepared["lut"]
            self.overlay_layer.set_buffer(prepared["overlay"])
        else:
            self.image_layer.set_buffer(layers.display_buffer(doc.image.rgb))
            self.overlay_layer.rebuild(doc.mask, doc.labels)
        h, w = doc.mask.shape
        self.setSceneRect(QRectF(-w, -h, 3 * w, 3 * h))  # room to pan past the edges
        self.fit()

    def prepare(self, result) -> None:
        """Runs on the loader thread: build the display buffers of a freshly read image."""
        lut = layers.overlay_lut(result.labels, result.mask.dtype)
        outline = self.overlay_layer.outline
        result.extras["canvas"] = {"display": layers.display_buffer(result.image.rgb), "lut": lut,
                                   "overlay": layers.colorize(result.mask, lut, outline), "outline": outline}

    def _on_load_failed(self, key: str, message: str) -> None:
        self.show_message(f"Cannot open {key}:\n{message}")

    def show_message(self, text: str) -> None:
        """Text in place of an image (a failed load, a folder without images); the next image clears it."""
        self.image_layer.set_buffer(None)
        self.overlay_layer.set_buffer(None)
        self._message.setText("\n".join(textwrap.fill(line, 72) for line in text.splitlines()))
        self.setSceneRect(self._message.boundingRect().adjusted(-20, -20, 20, 20))
        self.resetTransform()
        self.centerOn(self._message)

    def refresh_region(self, bbox: tuple[int, int, int, int]) -> None:
        if self.doc.mask is not None:
            self.overlay_layer.refresh(self.doc.mask, bbox)

    def rebuild_overlay(self) -> None:
        self.overlay_layer.rebuild(self.doc.mask, self.doc.labels)

    # -- overlay options -----------------------------------------------------------------
    def set_overlay_opacity(self, value: float) -> None:
        self.overlay_layer.setOpacity(max(0.0, min(1.0, value)))

    def toggle_overlay(self) -> None:
        self.set_overlay_visible(not self.overlay_layer.isVisible())

    def set_overlay_visible(self, on: bool) -> None:
        self.overlay_layer.setVisible(bool(on))

    def set_outline(self, on: bool) -> None:
        if self.overlay_layer.outline != bool(on):
            self.overlay_layer.outline = bool(on)
            self.rebuild_overlay()

    # -- zoom and pan ----------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, z: float, anchor: QPointF | None = None) -> None:
        z = max(MIN_ZOOM, min(MAX_ZOOM, z))
        anchor = anchor if anchor is not None else QPointF(self.viewport().rect().center())
        scene_pt = self.mapToScene(anchor.toPoint())
        self.resetTransform()
        self.scale(z, z)
        self._update_smoothing()
        delta = self.mapFromScene(scene_pt) - anchor.toPoint()
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + delta.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + delta.y())
        self.zoomChanged.emit(z)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_zoom(self.zoom * factor, anchor)

    def fit(self) -> None:
        mask = self.doc.mask
        if mask is None:
            return
        h, w = mask.shape
        self.fitInView(QRectF(0, 0, w, h), Qt.AspectRatioMode.KeepAspectRatio)
        self._update_smoothing()
        self.zoomChanged.emit(self.zoom)

    def actual_size(self) -> None:
        center = self.mapToScene(self.viewport().rect().center())
        self.resetTransform()
        self.centerOn(center)
        self._update_smoothing()
        self.zoomChanged.emit(1.0)

    def _update_smoothing(self) -> None:
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.zoom < 1.0)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit_pending and self.doc.mask is not None:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        dy = event.angleDelta().y() or event.angleDelta().x()
        if dy and self.tool.wheel(dy, event.modifiers()):   # e.g. Shift+wheel: wand tolerance
            event.accept()
            return
        if dy:
            self._fit_pending = False
            self.zoom_by(math.pow(1.0015, dy), event.position())
        event.accept()

    def _pan(self, pos: QPointF) -> None:
        assert self._pan_from is not None
        d = pos - self._pan_from
        self._pan_from = pos
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(d.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(d.y()))

    # -- pointer ---------------------------------------------------------------------------
    def image_pos(self, view_pos: QPointF) -> QPointF:
        """Viewport position -> image coordinates (float, sub-pixel)."""
        inv, _ = self.viewportTransform().inverted()
        return inv.map(QPointF(view_pos))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        btn = event.button()
        if btn == Qt.MouseButton.MiddleButton or (btn == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if btn != Qt.MouseButton.LeftButton or self.doc.mask is None:
            return
        pos = self.image_pos(event.position())
        if event.modifiers() & Qt.KeyboardModifier.AltModifier:
            pick_class(self.doc, self.state, pos)
            return
        self._fit_pending = False
        self._pressed = True
        self.tool.press(pos, event.modifiers())
        self._update_preview()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan(event.position())
            return
        pos = self.image_pos(event.position())
        self.tool.move(pos, self._pressed)
        self._update_preview()
        mask = self.doc.mask
        if mask is not None and 0 <= pos.x() < mask.shape[1] and 0 <= pos.y() < mask.shape[0]:
            self.cursorMoved.emit(pos.x(), pos.y())
        else:
            self.cursorMoved.emit(math.nan, math.nan)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self._apply_cursor()
            return
        if event.button() == Qt.MouseButton.LeftButton and self._pressed:
            self._pressed = False
            self.tool.release(self.image_pos(event.position()))
            self._update_preview()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        # Qt replaces the second press of a quick double-click by this event: unless the tool
        # uses double-clicks (polygon), it is a press like any other (else a stroke is lost).
        if (event.button() == Qt.MouseButton.LeftButton and self.doc.mask is not None and self._pan_from is None
                and not event.modifiers() & Qt.KeyboardModifier.AltModifier and not self._space
                and self.tool.double_click(self.image_pos(event.position()))):
            self._update_preview()
            return
        self.mousePressEvent(event)

    def leaveEvent(self, event) -> None:
        self.tool.pos = None
        self._update_preview()
        self.cursorMoved.emit(math.nan, math.nan)
        super().leaveEvent(event)

    # -- keys ------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if self.tool.key(event):
            self._update_preview()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._apply_cursor()
            return
        super().keyReleaseEvent(event)

    # -- preview ---------------------------------------------------------------------------
    def _on_state_changed(self) -> None:
        for name, t in self.tools.items():
            if name != self.state.tool and t.busy and name != "brush" and name != "eraser":
                t.cancel()
        self._apply_cursor()
        self._update_preview()

    def _apply_cursor(self) -> None:
        self.viewport().setCursor(self.tool.cursor)

    def _update_preview(self) -> None:
        new = self.tool.preview_rect(self.zoom)
        dirty = self._preview.united(new) if not self._preview.isNull() else new
        self._preview = new
        if not dirty.isNull():
            self.viewport().update(self.mapFromScene(dirty).boundingRect().adjusted(-2, -2, 2, 2))

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self.doc.mask is not None:
            self.tool.draw_preview(painter, self.zoom)

    def viewport_rect_of(self, bbox: tuple[int, int, int, int]) -> QRect:
        x0, y0, x1, y1 = bbox
        return self.mapFromScene(QRectF(x0, y0, x1 - x0, y1 - y0)).boundingRect()
