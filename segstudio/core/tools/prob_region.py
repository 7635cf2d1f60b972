"""Class swap: relabel a wrongly labelled region where the MODEL ITSELF finds the new class likely.

A model's large errors are often class mix-ups over a whole region (pavement taken for road,
tree for building) where the right class is the model's own runner-up. A click at pixel ``p``
with the active class ``c`` proposes the 4-connected region around ``p`` of pixels that

* carry the same current label as ``p`` (``labels[p]``), and
* where the model's probability of ``c`` is high relative to its top class:
  ``probs[c] ≥ τ · max_k probs[k]`` (``τ`` = ``ratio``, 0–1; ``τ = 1`` keeps only pixels where
  ``c`` ties the top class, small ``τ`` approaches a flood fill of the label).

The clicked pixel always belongs to the proposal (the user says it is ``c``); pixels whose
label already is ``c`` or that are void in ``labels`` are never proposed from a click on them
(nothing to swap). Work is bounded by the label's connected region under the click: the test runs
only inside its box. ``probs`` is the model's ``C×H×W`` output (float16 / float32) in the same
class ids as ``labels``; without probabilities there is no proposal (the GUI says so).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from segstudio.core import paint
from segstudio.core.tools import Stamp, stamp_from_full

MIN_RATIO_PCT, MAX_RATIO_PCT = 0, 100
DEFAULT_RATIO_PCT = 10       # τ = 0.10, chosen on the first 50 CamVid val images (docs/smart-tools.md)


def clamp_ratio_pct(value: float) -> int:
    """The GUI keeps τ as a whole percentage (Shift+wheel steps it by 2)."""
    return int(min(MAX_RATIO_PCT, max(MIN_RATIO_PCT, round(value))))


def likely_mask(probs: np.ndarray, value: int, ratio: float) -> np.ndarray:
    """Bool ``H×W`` (of the given, possibly cropped, probabilities): ``probs[value] ≥ ratio · max``."""
    p = np.asarray(probs, np.float32)
    return p[value] >= np.float32(ratio) * p.max(axis=0)


def class_swap_stamp(labels: np.ndarray, probs: np.ndarray | None, x: float, y: float, value: int,
                     ratio: float = DEFAULT_RATIO_PCT / 100.0, connectivity: int = 4) -> Stamp | None:
    """Pixels a click at image point ``(x, y)`` with class ``value`` relabels, as ``(bbox, bool patch)``.

    ``None`` when there are no probabilities, the point is outside, ``value`` is not a class of
    ``probs``, or the clicked label is already ``value`` or not a class (void).
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
    sel = same & likely_mask(probs[:, y0:y1, x0:x1], value, ratio)
    sx, sy = ix - x0, iy - y0
    sel[sy, sx] = True
    _, comp = cv2.connectedComponents(sel.view(np.uint8), connectivity=connectivity)
    return stamp_from_full(comp == comp[sy, sx], (x0, y0))
