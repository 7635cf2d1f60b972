"""Binary mask -> polygons (for YOLO segmentation), with holes bridged into their outer ring.

One polygon per connected component (8-connected, OpenCV ``findContours`` with
``RETR_CCOMP``): the outer boundary, through pixel centres. A component with holes still
gives ONE polygon: each hole ring is spliced into the outer ring at its closest vertex pair,
joined by a zero-width cut (the polygon walks to the hole, around it, and back the same way).
Filled with the even-odd rule (``cv2.fillPoly``) the hole stays empty; the pixels the cut runs
over are filled. Components whose outline has under 3 points or zero area (single pixels,
1-pixel-wide straight lines) cannot be a polygon and are dropped. :class:`PolygonStats`
counts all of this, and how many pixels the re-rasterised polygons get wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_FULL_SEARCH = 4_000_000  # outer×hole vertex pairs above which the cut starts at the hole's leftmost vertex


@dataclass
class PolygonStats:
    polygons: int = 0
    dropped: int = 0          # components with no polygon (too small / zero area)
    holes: int = 0            # holes bridged into an outer ring
    labelled_px: int = 0      # pixels of the classes written as polygons
    wrong_px: int = 0         # pixels that differ once the polygons are filled again

    def add(self, other: "PolygonStats") -> None:
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(other, k))


def _closest_pair(outer: np.ndarray, hole: np.ndarray) -> tuple[int, int]:
    o = outer.astype(np.int64)
    h = hole.astype(np.int64)
    if len(o) * len(h) <= _FULL_SEARCH:
        d = ((o[:, None, :] - h[None, :, :]) ** 2).sum(-1)
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        return int(i), int(j)
    j = int(np.lexsort((h[:, 1], h[:, 0]))[0])  # leftmost, then topmost vertex of the hole
    i = int(np.argmin(((o - h[j]) ** 2).sum(-1)))
    return i, j


def bridge(outer: np.ndarray, holes: list[np.ndarray]) -> np.ndarray:
    """One ring visiting ``outer`` and every hole, joined by zero-width cuts."""
    if not holes:
        return outer
    attach: dict[int, list[np.ndarray]] = {}
    for hole in holes:
        i, j = _closest_pair(outer, hole)
        loop = np.concatenate([hole[j:], hole[: j + 1]])  # around the hole, back to where it began
        attach.setdefault(i, []).append(loop)
    parts = []
    for i in range(len(outer)):
        parts.append(outer[i:i + 1])
        for loop in attach.get(i, ()):
            parts.append(loop)
            parts.append(outer[i:i + 1])
    return np.concatenate(parts)


def mask_polygons(binary: np.ndarray, stats: PolygonStats | None = None) -> list[np.ndarray]:
    """Polygons (``k×2`` int32 arrays of x, y pixel coordinates) covering ``binary``."""
    import cv2

    stats = stats if stats is not None else PolygonStats()
    src = np.ascontiguousarray(binary, dtype=np.uint8)
    contours, hierarchy = cv2.findContours(src, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    hier = hierarchy[0]
    polygons: list[np.ndarray] = []
    for i, contour in enumerate(contours):
        if hier[i][3] != -1:
            continue  # a hole: handled with its parent
        outer = contour.reshape(-1, 2)
        if len(outer) < 3 or cv2.contourArea(contour) == 0:
            stats.dropped += 1
            continue
        holes = []
        child = hier[i][2]
        while child != -1:
            holes.append(contours[child].reshape(-1, 2))
            child = hier[child][0]
        stats.holes += len(holes)
        polygons.append(bridge(outer, holes).astype(np.int32))
    stats.polygons += len(polygons)
    return polygons


def rasterise(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Fill ``polygons`` one by one (as YOLO loaders do) and return their union as bool."""
    import cv2

    out = np.zeros(shape, np.uint8)
    for poly in polygons:
        one = np.zeros(shape, np.uint8)
        cv2.fillPoly(one, [poly.reshape(-1, 1, 2).astype(np.int32)], 1)
        out |= one
    return out.astype(bool)


def polygons_with_check(binary: np.ndarray, stats: PolygonStats) -> list[np.ndarray]:
    """:func:`mask_polygons` plus the count of pixels the polygons get wrong."""
    polys = mask_polygons(binary, stats)
    b = binary.astype(bool)
    stats.labelled_px += int(b.sum())
    stats.wrong_px += int(np.count_nonzero(rasterise(polys, b.shape) != b))
    return polys
