"""Magic wand: the 4-connected pixels whose colour lies within a tolerance of the clicked one.

``wand_stamp(rgb, x, y, tolerance)`` floods from the seed over neighbours whose every RGB
channel differs from the *seed's* colour by at most ``tolerance`` (0–255; OpenCV's
fixed-range flood fill), or, with ``relative=True``, from the neighbour it came from (a
gradient-following fill). ``within`` optionally limits the fill to a box (x0, y0, x1, y1).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from segstudio.core.tools import BBox, Stamp

MIN_TOLERANCE, MAX_TOLERANCE = 0, 255
DEFAULT_TOLERANCE = 24


def clamp_tolerance(value: float) -> int:
    return int(min(MAX_TOLERANCE, max(MIN_TOLERANCE, round(value))))


def wand_stamp(rgb: np.ndarray, x: float, y: float, tolerance: float = DEFAULT_TOLERANCE,
               relative: bool = False, connectivity: int = 4, within: BBox | None = None) -> Stamp | None:
    """Pixels reached from image point ``(x, y)`` within ``tolerance``, as ``(bbox, bool patch)``."""
    img = np.asarray(rgb)
    h, w = img.shape[:2]
    ix, iy = int(math.floor(x)), int(math.floor(y))
    ox, oy = 0, 0
    if within is not None:
        ox, oy = max(0, within[0]), max(0, within[1])
        img = img[oy:min(h, within[3]), ox:min(w, within[2])]
        h, w = img.shape[:2]
        ix, iy = ix - ox, iy - oy
    if not (0 <= ix < w and 0 <= iy < h):
        return None
    if img.ndim == 2:
        img = img[..., None]
    img = np.ascontiguousarray(img[..., :3])
    if not img.flags.writeable:     # floodFill's binding wants a writable buffer (MASK_ONLY never writes it)
        img = img.copy()
    tol = clamp_tolerance(tolerance)
    fill = np.zeros((h + 2, w + 2), np.uint8)
    flags = connectivity | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    if not relative:
        flags |= cv2.FLOODFILL_FIXED_RANGE
    diff = (tol,) * 3
    _, _, _, (rx, ry, rw, rh) = cv2.floodFill(img, fill, (ix, iy), (0, 0, 0), diff, diff, flags)
    patch = fill[1 + ry:1 + ry + rh, 1 + rx:1 + rx + rw].astype(bool)
    return (ox + rx, oy + ry, ox + rx + rw, oy + ry + rh), patch
