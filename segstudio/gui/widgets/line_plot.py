"""A small QPainter line chart: a few named series over a shared x axis, left or right y axis.

Used by the retrain dialog for training loss (left axis) and validation mIoU (right axis, %)
per epoch. No plotting library is needed. ``add_series(name, color, axis, ...)`` declares a
series, ``append(name, x, y)`` adds a point and repaints, ``points(name)`` reads it back.
The x range grows to fit the data and can be fixed in advance (``set_x_range``) so a run's
whole length is visible from its first epoch; a y axis may be fixed too (``set_y_range``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

LEFT, RIGHT = "left", "right"
PAD = 7   # px between the frame and the data area


@dataclass
class Series:
    name: str
    color: QColor
    axis: str = LEFT
    markers: bool = True
    width: float = 2.0
    legend: bool = True
    visible: bool = True
    points: list[tuple[float, float]] = field(default_factory=list)


def nice_step(span: float, ticks: int = 5) -> float:
    """A 1/2/5×10^k step giving about ``ticks`` intervals over ``span``."""
    if not math.isfinite(span) or span <= 0:
        return 1.0
    raw = span / max(1, ticks)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * mag >= raw * 0.999:
            return m * mag
    return 10 * mag


def _fmt(v: float, step: float, scale: float = 1.0, suffix: str = "") -> str:
    v *= scale
    step *= scale
    digits = 0 if step >= 1 else min(4, int(math.ceil(-math.log10(step))))
    return f"{v:.{digits}f}{suffix}"


class LinePlot(QWidget):
    def __init__(self, parent: QWidget | None = None, x_label: str = "") -> None:
        super().__init__(parent)
        self.series: dict[str, Series] = {}
        self.x_label = x_label
        self.placeholder = "No data yet"
        self._x_range: tuple[float, float] | None = None
        self._y_fixed: dict[str, tuple[float, float]] = {}
        self._y_format: dict[str, tuple[float, str]] = {LEFT: (1.0, ""), RIGHT: (1.0, "")}
        self._integer_x = True
        self.setMinimumSize(260, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # -- data ------------------------------------------------------------------------------
    def add_series(self, name: str, color: str | QColor, axis: str = LEFT, markers: bool = True,
                   width: float = 2.0, legend: bool = True) -> None:
        self.series[name] = Series(name, QColor(color), axis, markers, width, legend)
        self.update()

    def append(self, name: str, x: float, y: float) -> None:
        if y is None or not math.isfinite(float(y)):
            return
        self.series[name].points.append((float(x), float(y)))
        self.update()

    def break_line(self, name: str) -> None:
        """End the current run of ``name``: the next point starts a new line (e.g. a new epoch)."""
        pts = self.series[name].points
        if pts and math.isfinite(pts[-1][1]):
            pts.append((pts[-1][0], math.nan))

    def set_points(self, name: str, points: list[tuple[float, float]]) -> None:
        self.series[name].points = [(float(x), float(y)) for x, y in points if math.isfinite(float(y))]
        self.update()

    def set_series_visible(self, name: str, visible: bool) -> None:
        """A hidden series is not drawn, not in the legend and does not claim its axis."""
        self.series[name].visible = visible
        self.update()

    def _shown(self) -> list[Series]:
        return [s for s in self.series.values() if s.visible]

    def points(self, name: str) -> list[tuple[float, float]]:
        return [(x, y) for x, y in self.series[name].points if math.isfinite(y)]

    def clear(self) -> None:
        for s in self.series.values():
            s.points.clear()
        self.update()

    def set_x_range(self, lo: float, hi: float, integer: bool = True) -> None:
        self._x_range = (float(lo), float(hi))
        self._integer_x = integer
        self.update()

    def set_y_range(self, axis: str, lo: float, hi: float) -> None:
        self._y_fixed[axis] = (float(lo), float(hi))
        self.update()

    def set_y_format(self, axis: str, scale: float = 1.0, suffix: str = "") -> None:
        """Tick labels of ``axis`` show ``value * scale`` followed by ``suffix`` (e.g. 100, "%")."""
        self._y_format[axis] = (scale, suffix)
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(480, 220)

    # -- ranges ---------------------------------------------------------------------------------
    def _x_extent(self) -> tuple[float, float]:
        xs = [x for s in self._shown() for x, y in s.points if math.isfinite(y)]
        lo, hi = self._x_range if self._x_range else (min(xs, default=0.0), max(xs, default=1.0))
        if xs:
            lo, hi = min(lo, min(xs)), max(hi, max(xs))
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        return lo, hi

    def _y_extent(self, axis: str) -> tuple[float, float] | None:
        ys = [y for s in self._shown() if s.axis == axis for _, y in s.points if math.isfinite(y)]
        used = any(s.axis == axis for s in self._shown())
        if not used:
            return None
        if axis in self._y_fixed:
            lo, hi = self._y_fixed[axis]
            if ys:
                lo, hi = min(lo, min(ys)), max(hi, max(ys))
            return lo, hi
        if not ys:
            return 0.0, 1.0
        lo, hi = min(0.0, min(ys)), max(ys)
        if hi - lo < 1e-9:
            hi = lo + 1.0
        step = nice_step(hi - lo)
        return math.floor(lo / step) * step, math.ceil(hi / step) * step

    # -- painting ----------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text, base, mid = pal.text().color(), pal.base().color(), pal.mid().color()
        p.fillRect(self.rect(), base)
        fm = QFontMetrics(self.font())
        left_y, right_y = self._y_extent(LEFT), self._y_extent(RIGHT)
        lw = self._axis_width(fm, LEFT, left_y)
        rw = self._axis_width(fm, RIGHT, right_y)
        legend_h = fm.height() + 6
        plot = QRectF(lw + 8, legend_h + 4, self.width() - lw - rw - 16, self.height() - legend_h - 2 * fm.height() - 12)
        if plot.width() < 20 or plot.height() < 20:
            p.end()
            return
        x_lo, x_hi = self._x_extent()
        area = plot.adjusted(PAD, PAD, -PAD, -PAD)   # data area: points on the range ends stay inside the frame
        grid = QColor(mid)
        grid.setAlpha(90)
        p.setPen(QPen(grid, 1, Qt.PenStyle.DotLine))
        # x ticks
        x_step = max(1.0, nice_step(x_hi - x_lo, 6)) if self._integer_x else nice_step(x_hi - x_lo, 6)
        x0 = math.ceil(x_lo / x_step) * x_step
        xs = []
        while x0 <= x_hi + 1e-9:
            xs.append(x0)
            x0 += x_step

        def px(x: float) -> float:
            return area.left() + (x - x_lo) / (x_hi - x_lo) * area.width()

        for x in xs:
            p.setPen(QPen(grid, 1, Qt.PenStyle.DotLine))
            p.drawLine(QPointF(px(x), plot.top()), QPointF(px(x), plot.bottom()))
            p.setPen(text)
            label = _fmt(x, x_step)
            p.drawText(QRectF(px(x) - 30, plot.bottom() + 2, 60, fm.height()), Qt.AlignmentFlag.AlignHCenter, label)
        if self.x_label:
            p.drawText(QRectF(plot.left(), plot.bottom() + fm.height() + 2, plot.width(), fm.height()),
                       Qt.AlignmentFlag.AlignHCenter, self.x_label)
        # y ticks (left drives the grid; right only gets labels)
        for axis, extent in ((LEFT, left_y), (RIGHT, right_y)):
            if extent is None:
                continue
            lo, hi = extent
            step = nice_step(hi - lo)
            scale, suffix = self._y_format[axis]
            v = math.ceil(lo / step - 1e-9) * step
            while v <= hi + 1e-9:
                y = area.bottom() - (v - lo) / (hi - lo) * area.height()
                if axis == LEFT or left_y is None:
                    p.setPen(QPen(grid, 1, Qt.PenStyle.DotLine))
                    p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
                p.setPen(self._axis_color(axis, text))
                label = _fmt(v, step, scale, suffix)
                if axis == LEFT:
                    p.drawText(QRectF(0, y - fm.height() / 2, lw + 4, fm.height()),
                               Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
                else:
                    p.drawText(QRectF(plot.right() + 6, y - fm.height() / 2, rw, fm.height()),
                               Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
                v += step
        p.setPen(QPen(mid, 1))
        p.drawRect(plot)
        # series
        has_data = False
        for s in self._shown():
            extent = left_y if s.axis == LEFT else right_y
            if extent is None or not s.points:
                continue
            has_data = True
            lo, hi = extent
            runs: list[list[QPointF]] = [[]]
            for x, y in s.points:
                if not math.isfinite(y):
                    runs.append([])
                else:
                    runs[-1].append(QPointF(px(x), area.bottom() - (y - lo) / (hi - lo) * area.height()))
            pts = [q for run in runs for q in run]
            p.save()
            p.setClipRect(plot.adjusted(-4, -4, 4, 4))
            p.setPen(QPen(s.color, s.width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
            p.setBrush(Qt.BrushStyle.NoBrush)
            for run in runs:
                if len(run) > 1:
                    path = QPainterPath(run[0])
                    for q in run[1:]:
                        path.lineTo(q)
                    p.drawPath(path)
            if s.markers or len(pts) == 1:
                p.setPen(QPen(base, 1))
                p.setBrush(s.color)
                r = max(3.0, s.width + 1.5)
                for q in pts:
                    p.drawEllipse(q, r, r)
            p.restore()
        if not has_data and self.placeholder:
            p.setPen(mid.darker(130) if base.lightness() > 128 else mid.lighter(160))
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, self.placeholder)
        # legend
        x = plot.left()
        for s in self._shown():
            if not s.legend:
                continue
            p.setPen(QPen(s.color, 3))
            cy = legend_h / 2 + 2
            p.drawLine(QPointF(x, cy), QPointF(x + 18, cy))
            p.setPen(text)
            side = "" if right_y is None else (" (left)" if s.axis == LEFT else " (right)")
            label = s.name + side
            p.drawText(QRectF(x + 22, cy - fm.height() / 2, fm.horizontalAdvance(label) + 4, fm.height()),
                       Qt.AlignmentFlag.AlignVCenter, label)
            x += 22 + fm.horizontalAdvance(label) + 16
        p.end()

    def _axis_color(self, axis: str, default: QColor) -> QColor:
        """Tick labels take the colour of the axis's series when only one series uses it."""
        on_axis = [s for s in self._shown() if s.axis == axis and s.legend]
        return on_axis[0].color if len(on_axis) == 1 and self._y_extent(RIGHT) is not None else default

    def _axis_width(self, fm: QFontMetrics, axis: str, extent: tuple[float, float] | None) -> int:
        if extent is None:
            return 4
        lo, hi = extent
        step = nice_step(hi - lo)
        scale, suffix = self._y_format[axis]
        return max(fm.horizontalAdvance(_fmt(v, step, scale, suffix)) for v in (lo, hi, (lo + hi) / 2)) + 6
