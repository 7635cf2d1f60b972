"""Pixel tools on class-index masks: brush/eraser strokes, flood fill, polygon fill,
replace-class-in-region, class picking, id remapping and per-class pixel counts.

Pure numpy/opencv, no Qt. Coordinates are image coordinates as floats where pixel ``(i, j)``
covers ``[j, j+1) × [i, i+1)`` (its centre is at ``j + 0.5, i + 0.5``), so mouse positions
mapped from a zoomed view can be passed as they are. Boxes are ``(x0, y0, x1, y1)`` with
exclusive ends, always clipped to the mask.

Every tool works on the bounding box of what it touches only (never the whole mask per
mouse move) and returns an :class:`Edit`: the box and a boolean ``changed`` patch. Tools
write in place; callers that need undo record the box before calling (see ``history``).
Protected values (:func:`protect_table`): a boolean table indexed by mask value; no tool
writes over a pixel whose value is protected. It generalises "preserve labels" (every value
but void protected) and per-class *lock* (the locked classes protected), in one rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

BBox = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)

_SHIFT = 2            # opencv fixed-point bits: quarter-pixel accuracy for strokes and polygons
_ONE = 1 << _SHIFT
MIN_BRUSH, MAX_BRUSH = 1, 1000


@dataclass(frozen=True)
class Edit:
    """What a tool did: ``bbox``, the pixels it changed inside it (``changed[y, x]``), their
    previous values (``old``, in row-major order of ``changed``) and the value written."""
    bbox: BBox
    changed: np.ndarray  # bool, shape (y1 - y0, x1 - x0)
    old: np.ndarray      # 1-D, one entry per changed pixel
    value: int

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.changed))


# -- boxes ---------------------------------------------------------------------------------
def clip_bbox(bbox: BBox, shape: tuple[int, ...]) -> BBox | None:
    """``bbox`` intersected with a mask of ``shape`` (h, w, …); None when empty."""
    h, w = shape[:2]
    x0, y0, x1, y1 = max(0, bbox[0]), max(0, bbox[1]), min(w, bbox[2]), min(h, bbox[3])
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def union_bbox(a: BBox | None, b: BBox | None) -> BBox | None:
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def points_bbox(points: Sequence[tuple[float, float]], pad: float, shape: tuple[int, ...]) -> BBox | None:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return clip_bbox((math.floor(min(xs) - pad) - 1, math.floor(min(ys) - pad) - 1,
                      math.ceil(max(xs) + pad) + 2, math.ceil(max(ys) + pad) + 2), shape)


def changed_bbox(before: np.ndarray, after: np.ndarray) -> BBox | None:
    """Tight box of the pixels where two equally shaped arrays differ (None when equal)."""
    diff = before != after
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def clamp_brush(size: float) -> int:
    return int(min(MAX_BRUSH, max(MIN_BRUSH, round(size))))


# -- rasterising ---------------------------------------------------------------------------
def _fixed(x: float, y: float, ox: int, oy: int) -> tuple[int, int]:
    """Image point -> opencv fixed-point coordinates inside a patch whose origin is (ox, oy)."""
    return int(round((x - ox - 0.5) * _ONE)), int(round((y - oy - 0.5) * _ONE))


def stroke_stamp(p0: tuple[float, float], p1: tuple[float, float], size: float,
                 shape: tuple[int, ...]) -> tuple[BBox, np.ndarray] | None:
    """Pixels covered by a round brush of diameter ``size`` dragged from ``p0`` to ``p1``.

    Returns ``(bbox, stamp)`` with a bool patch, or None when the stroke misses the mask.
    A capsule: two discs joined by a filled quadrilateral; ``size`` 1 is a 1-pixel line.
    """
    size = clamp_brush(size)
    r = size / 2.0
    bbox = points_bbox((p0, p1), r, shape)
    if bbox is None:
        return None
    x0, y0, x1, y1 = bbox
    stamp = np.zeros((y1 - y0, x1 - x0), np.uint8)
    c0, c1 = _fixed(*p0, x0, y0), _fixed(*p1, x0, y0)
    rad = max(0, int(round(r * _ONE)) - _ONE // 2)
    cv2.circle(stamp, c0, rad, 1, -1, cv2.LINE_8, _SHIFT)
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    length = math.hypot(dx, dy)
    if length > 0:
        cv2.circle(stamp, c1, rad, 1, -1, cv2.LINE_8, _SHIFT)
        if size <= 2:
            cv2.line(stamp, c0, c1, 1, 1, cv2.LINE_8, _SHIFT)
        else:
            nx, ny = -dy / length * (r - 0.5), dx / length * (r - 0.5)
            quad = [(p0[0] + nx, p0[1] + ny), (p1[0] + nx, p1[1] + ny),
                    (p1[0] - nx, p1[1] - ny), (p0[0] - nx, p0[1] - ny)]
            pts = np.array([_fixed(x, y, x0, y0) for x, y in quad], np.int32)
            cv2.fillConvexPoly(stamp, pts, 1, cv2.LINE_8, _SHIFT)
    return bbox, stamp.view(bool)


def polygon_stamp(points: Sequence[tuple[float, float]], shape: tuple[int, ...]) -> tuple[BBox, np.ndarray] | None:
    """Pixels inside a closed polygon (vertices in image coordinates), as ``(bbox, bool patch)``."""
    if len(points) < 3:
        return None
    bbox = points_bbox(points, 0, shape)
    if bbox is None:
        return None
    x0, y0, x1, y1 = bbox
    stamp = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.array([_fixed(x, y, x0, y0) for x, y in points], np.int32)
    cv2.fillPoly(stamp, [pts], 1, cv2.LINE_8, _SHIFT)
    return bbox, stamp.view(bool)


# -- protection (lock / preserve labels) -------------------------------------------------------
def protect_table(dtype, locked=(), void_value: int | None = None, preserve: bool = False) -> np.ndarray | None:
    """Boolean table over every value of ``dtype`` (uint8: 256, uint16: 65536 entries): True where
    a tool may not write. ``locked`` class ids are protected; with ``preserve`` every value except
    ``void_value`` is. None when nothing is protected (the fast path)."""
    locked = [int(c) for c in locked]
    if not preserve and not locked:
        return None
    size = 256 if np.dtype(dtype) == np.uint8 else 65536
    table = np.zeros(size, bool)
    if preserve:
        table[:] = True
        if void_value is not None and 0 <= void_value < size:
            table[void_value] = False
    table[[c for c in locked if 0 <= c < size]] = True
    return table


def is_protected(protected: np.ndarray | None, value: int) -> bool:
    return protected is not None and 0 <= value < protected.size and bool(protected[value])


# -- tools -----------------------------------------------------------------------------------
def apply_stamp(mask: np.ndarray, bbox: BBox, stamp: np.ndarray, value: int,
                only: int | None = None, protected: np.ndarray | None = None) -> Edit:
    """Write ``value`` where ``stamp`` is set inside ``bbox``; with ``only``, just over that value;
    never over a value ``protected`` (see :func:`protect_table`) marks."""
    x0, y0, x1, y1 = bbox
    region = mask[y0:y1, x0:x1]
    sel = stamp & (region != value)
    if only is not None:
        sel &= region == only
    if protected is not None:
        sel &= ~protected[region]
    old = region[sel]
    region[sel] = value
    return Edit(bbox, sel, old, value)


def paint_stroke(mask: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], size: float,
                 value: int, preserve_void: int | None = None) -> Edit | None:
    """Brush (or eraser, with the void value) segment from ``p0`` to ``p1``.

    ``preserve_void``: paint only over pixels holding this (void) value.
    """
    st = stroke_stamp(p0, p1, size, mask.shape)
    if st is None:
        return None
    return apply_stamp(mask, st[0], st[1], value, preserve_void)


def fill_polygon(mask: np.ndarray, points: Sequence[tuple[float, float]], value: int,
                 preserve_void: int | None = None) -> Edit | None:
    st = polygon_stamp(points, mask.shape)
    if st is None:
        return None
    return apply_stamp(mask, st[0], st[1], value, preserve_void)


def region_at(mask: np.ndarray, x: int, y: int, connectivity: int = 4) -> tuple[BBox, np.ndarray] | None:
    """The contiguous region of one class containing pixel ``(x, y)``: ``(bbox, bool patch)``."""
    h, w = mask.shape
    if not (0 <= x < w and 0 <= y < h):
        return None
    src = mask if mask.dtype == np.uint8 else mask.astype(np.float32)  # floodFill: 8U or 32F
    fill = np.zeros((h + 2, w + 2), np.uint8)
    flags = connectivity | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    _, _, _, (rx, ry, rw, rh) = cv2.floodFill(src, fill, (int(x), int(y)), 0, 0, 0, flags)
    bbox = (rx, ry, rx + rw, ry + rh)
    return bbox, fill[1 + ry:1 + ry + rh, 1 + rx:1 + rx + rw].view(bool)


def flood_fill(mask: np.ndarray, x: float, y: float, value: int,
               preserve_void: int | None = None, connectivity: int = 4) -> Edit | None:
    """Fill the contiguous region of one class under ``(x, y)`` with ``value``."""
    ix, iy = int(math.floor(x)), int(math.floor(y))
    found = region_at(mask, ix, iy, connectivity)
    if found is None:
        return None
    old = int(mask[iy, ix])
    if old == value or (preserve_void is not None and old != preserve_void):
        return None
    return apply_stamp(mask, found[0], found[1], value)


def replace_in_rect(mask: np.ndarray, rect: BBox, old: int, value: int,
                    protected: np.ndarray | None = None) -> Edit | None:
    """Within ``rect``, turn every pixel of class ``old`` into ``value`` (nothing when ``old`` is protected)."""
    bbox = clip_bbox(rect, mask.shape)
    if bbox is None or old == value or is_protected(protected, old):
        return None
    x0, y0, x1, y1 = bbox
    region = mask[y0:y1, x0:x1]
    sel = region == old
    count = int(np.count_nonzero(sel))
    region[sel] = value
    return Edit(bbox, sel, np.full(count, old, mask.dtype), value)


def pick(mask: np.ndarray, x: float, y: float) -> int | None:
    """Class id (or void value) at an image point; None outside the mask."""
    ix, iy = int(math.floor(x)), int(math.floor(y))
    h, w = mask.shape
    return int(mask[iy, ix]) if 0 <= ix < w and 0 <= iy < h else None


def rect_from_points(a: tuple[float, float], b: tuple[float, float], shape: tuple[int, ...]) -> BBox | None:
    """The pixels spanned by a rubber-band rectangle dragged from ``a`` to ``b``."""
    x0, x1 = sorted((a[0], b[0]))
    y0, y1 = sorted((a[1], b[1]))
    return clip_bbox((math.floor(x0), math.floor(y0), math.floor(x1) + 1, math.floor(y1) + 1), shape)


# -- ids -------------------------------------------------------------------------------------
def histogram(values: np.ndarray, size: int) -> np.ndarray:
    """Pixel count per value ``0..size-1`` (values beyond are ignored), int64.

    Large 8/16-bit arrays go through ``cv2.calcHist`` in blocks of at most 2**23 pixels
    (exact in its float32 bins, and ~30× faster than ``np.bincount`` on 64 MP).
    """
    if values.ndim != 2 or values.size < (1 << 20) or values.dtype not in (np.uint8, np.uint16):
        counts = np.bincount(values.reshape(-1), minlength=size)
        return counts[:size].astype(np.int64, copy=False)
    bins = 256 if values.dtype == np.uint8 else 65536
    total = np.zeros(bins, np.int64)
    rows = max(1, (1 << 23) // max(1, values.shape[1]))
    for y in range(0, values.shape[0], rows):
        block = np.ascontiguousarray(values[y:y + rows])
        total += cv2.calcHist([block], [0], None, [bins], [0, bins]).reshape(-1).astype(np.int64)
    out = np.zeros(size, np.int64)
    n = min(size, bins)
    out[:n] = total[:n]
    return out


def remap(mask: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """New array with every value ``v`` replaced by ``lut[v]`` (class merges, void changes)."""
    if mask.dtype == np.uint8 and lut.dtype == np.uint8 and lut.size == 256:
        return cv2.LUT(mask, lut)
    return lut[mask]


class SparseMask:
    """A boolean image stored as 256×256 tiles, only where something was set.

    Used for the "fixed pixels" of an image (what the user painted this session): cheap to
    update per stroke, materialised as a full array only when asked.
    """

    TILE = 256

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self._tiles: dict[tuple[int, int], np.ndarray] = {}

    def add(self, bbox: BBox, patch: np.ndarray) -> None:
        t = self.TILE
        x0, y0, x1, y1 = bbox
        for ty in range(y0 // t, (y1 - 1) // t + 1):
            for tx in range(x0 // t, (x1 - 1) // t + 1):
                ax0, ay0 = max(x0, tx * t), max(y0, ty * t)
                ax1, ay1 = min(x1, (tx + 1) * t), min(y1, (ty + 1) * t)
                part = patch[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
                if not part.any():
                    continue
                tile = self._tiles.get((ty, tx))
                if tile is None:
                    h = min(t, self.shape[0] - ty * t)
                    w = min(t, self.shape[1] - tx * t)
                    tile = self._tiles[(ty, tx)] = np.zeros((h, w), bool)
                tile[ay0 - ty * t:ay1 - ty * t, ax0 - tx * t:ax1 - tx * t] |= part

    def any(self) -> bool:
        return bool(self._tiles)

    def count(self) -> int:
        return sum(int(np.count_nonzero(t)) for t in self._tiles.values())

    def to_array(self) -> np.ndarray:
        out = np.zeros(self.shape, bool)
        t = self.TILE
        for (ty, tx), tile in self._tiles.items():
            out[ty * t:ty * t + tile.shape[0], tx * t:tx * t + tile.shape[1]] = tile
        return out

    def clear(self) -> None:
        self._tiles.clear()
