"""Class swap: relabel a wrongly labelled region where the MODEL ITSELF finds the new class likely.

A model's large errors are often class mix-ups over a whole region (pavement taken for road,
tree for building) where the right class is the model's own runner-up. A click at pixel ``p``
with the active class ``c`` proposes the 4-connected region around ``p`` of pixels that

* carry the same current label as ``p`` (``labels[p]``), and
* where the model's probability of ``c`` is high relative to its top class:
  ``r = probs[c] / max_k probs[k] ≥ t`` (optionally the ratio map smoothed with a Gaussian of
  ``smooth`` pixels first, so speckle does not cut the region apart), with
  ``t = min(τ, seed_share · r[p])``: ``τ`` (``ratio``, 0–1) where the click is on a pixel the
  model finds ``c`` plausible at, and relative to the clicked pixel where it finds ``c``
  unlikely (the user says ``p`` is ``c``: pixels at least ``seed_share`` as plausible join);

then holes of the proposal inside the label's region are filled. The clicked pixel always belongs
to it. A click on a pixel whose label already is ``c`` or is void proposes nothing (nothing to
swap). Work is bounded by the label's connected region under the click: the test runs only inside
its box. ``probs`` is the model's ``C×H×W`` output (float16 / float32) in the same class ids as
``labels``; without probabilities there is no proposal (the GUI says so).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from segstudio.core import paint
from segstudio.core.tools import Stamp, stamp_from_full

MIN_RATIO_PCT, MAX_RATIO_PCT = 0, 100
DEFAULT_RATIO_PCT = 10       # τ = 0.10, chosen on the first 50 CamVid val images (docs/smart-tools.md)
DEFAULT_SEED_SHARE = 0.5
DEFAULT_SMOOTH = 0.0         # pixels (Gaussian sigma of the ratio map); 2 px measured no better


def clamp_ratio_pct(value: float) -> int:
    """The GUI keeps τ as a whole percentage (Shift+wheel steps it by 2)."""
    return int(min(MAX_RATIO_PCT, max(MIN_RATIO_PCT, round(value))))


def ratio_map(probs: np.ndarray, value: int, smooth: float = 0.0) -> np.ndarray:
    """Float32 ``H×W`` (of the given, possibly cropped, probabilities): ``probs[value] / max``,
    smoothed with a Gaussian of sigma ``smooth`` pixels when > 0."""
    p = np.asarray(probs, np.float32)
    r = p[value] / np.maximum(p.max(axis=0), np.float32(1e-12))
    if smooth > 0:
        r = cv2.GaussianBlur(r, (0, 0), float(smooth), borderType=cv2.BORDER_REPLICATE)
    return r


def fill_holes(sel: np.ndarray) -> np.ndarray:
    """``sel`` with every hole (background not connected, 4-way, to the outside of its box) filled."""
    pad = np.pad(sel, 1).view(np.uint8).copy()
    cv2.floodFill(pad, np.zeros((pad.shape[0] + 2, pad.shape[1] + 2), np.uint8), (0, 0), 2)
    return (pad != 2)[1:-1, 1:-1]


def class_swap_stamp(labels: np.ndarray, probs: np.ndarray | None, x: float, y: float, value: int,
                     ratio: float = DEFAULT_RATIO_PCT / 100.0, seed_share: float | None = DEFAULT_SEED_SHARE,
                     smooth: float = DEFAULT_SMOOTH, holes: bool = True, connectivity: int = 4) -> Stamp | None:
    """Pixels a click at image point ``(x, y)`` with class ``value`` relabels, as ``(bbox, bool patch)``.

    ``seed_share`` None: the threshold is ``ratio`` alone. ``None`` when there are no
    probabilities, the point is outside, ``value`` is not a class of ``probs``, or the clicked
    label is already ``value`` or not a class (void).
    """
    if probs is None:
        return None
    c, h, w = probs.shape
    if labels.shape != (h, w) or not 0 <= value < c:
        return None
    ix, iy = int(math.floor(x)), int(math.floor(y))
    if not (0 <= ix < w and 0 <= iy < h):
        return None
    base = int(labels[iy, ix])
    if base == value or base >= c:
        return None
    found = paint.region_at(labels, ix, iy, connectivity)
    if found is None:
        return None
    (x0, y0, x1, y1), same = found
    sx, sy = ix - x0, iy - y0
    r = ratio_map(probs[:, y0:y1, x0:x1], value, smooth)
    t = np.float32(ratio if seed_share is None else min(ratio, seed_share * float(r[sy, sx])))
    sel = same & (r >= t)
    sel[sy, sx] = True
    _, comp = cv2.connectedComponents(sel.view(np.uint8), connectivity=connectivity)
    sel = comp == comp[sy, sx]
    if holes:
        sel = fill_holes(sel) & same
    return stamp_from_full(sel, (x0, y0))
