"""Scribble + CRF: a stroke of one class becomes a hard constraint of the dense CRF, which
re-runs on the cached probabilities so the correction follows image edges.

Latency is bounded: the CRF runs only on a window around the stroke (its box plus a margin
proportional to its size), shrunk until it holds at most ``max_pixels`` pixels. Inside the
window the stroke's pixels are fixed to the class (``core.crf`` ``fixed``), and the proposal
is every pixel the CRF then gives that class and that is connected to the stroke. Without
model probabilities (no prediction yet) :func:`probs_from_labels` turns the current mask into
soft probabilities, so the CRF then follows colour edges of the image from the user's labels.
"""

from __future__ import annotations

import numpy as np

from segstudio.core import crf
from segstudio.core.crf_params import CRFParams
from segstudio.core.tools import BBox, Stamp, connected_to, padded_box, stamp_from_full

DEFAULT_MAX_PIXELS = 160_000
DEFAULT_SUPPRESS = 0.1
DEFAULT_COLOUR_TOLERANCE = 40
MIN_MARGIN = 8


def probs_from_labels(labels: np.ndarray, num_classes: int, confidence: float = 0.6) -> np.ndarray:
    """``C×H×W`` float32 soft one-hot of a mask; void / unknown pixels are uniform."""
    c = int(num_classes)
    h, w = labels.shape
    other = (1.0 - confidence) / max(1, c - 1)
    out = np.full((c, h, w), other, np.float32)
    valid = labels < c
    ys, xs = np.nonzero(valid)
    out[labels[ys, xs].astype(np.intp), ys, xs] = confidence
    out[:, ~valid] = 1.0 / c
    return out


def scribble_window(stroke_bbox: BBox, shape: tuple[int, ...], max_pixels: int = DEFAULT_MAX_PIXELS) -> BBox:
    """The stroke's box plus a margin (its long side, at least ``MIN_MARGIN``) holding ≤ ``max_pixels``."""
    x0, y0, x1, y1 = stroke_bbox
    return padded_box(stroke_bbox, shape, max(MIN_MARGIN, max(x1 - x0, y1 - y0)), max_pixels, MIN_MARGIN)


def scribble_crf_stamp(rgb: np.ndarray, probs: np.ndarray, stroke: Stamp, value: int,
                       params: CRFParams | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
                       fixed: np.ndarray | None = None, mask: np.ndarray | None = None,
                       suppress: float = DEFAULT_SUPPRESS,
                       colour_tolerance: int = DEFAULT_COLOUR_TOLERANCE) -> Stamp | None:
    """Pixels the CRF gives class ``value`` around ``stroke`` and connected to it.

    ``probs`` is the model's ``C×H×W`` output for the whole image (float16 or 32);
    ``fixed`` optionally holds other constraints (H×W class ids, ≥ C meaning free), e.g. the
    pixels the user painted before. With the current ``mask``, the stroke also says "the class
    I painted over is wrong here, it is mine": in the window, ``1 - suppress`` of the probability
    of each class the stroke covered moves to the stroke's class on the pixels of that class's
    connected region under
    the stroke whose colour is within ``colour_tolerance`` (max over RGB channels) of the
    stroke's median colour; ``fixed`` pixels there are released (the user is correcting them).
    """
    c = probs.shape[0]
    if not 0 <= value < c:
        return None
    (sx0, sy0, sx1, sy1), patch = stroke
    wx0, wy0, wx1, wy1 = scribble_window((sx0, sy0, sx1, sy1), probs.shape[1:], max_pixels)
    fx = np.full((wy1 - wy0, wx1 - wx0), -1, np.int32)
    if fixed is not None:
        sub = fixed[wy0:wy1, wx0:wx1]
        fx[sub < c] = sub[sub < c]
    stroke_win = np.zeros(fx.shape, bool)
    stroke_win[sy0 - wy0:sy1 - wy0, sx0 - wx0:sx1 - wx0] = patch
    image = np.ascontiguousarray(np.asarray(rgb)[wy0:wy1, wx0:wx1, :3])
    win = probs[:, wy0:wy1, wx0:wx1]
    if mask is not None and suppress < 1.0:
        colour = np.median(image[stroke_win], axis=0)
        similar = (np.abs(image.astype(np.int16) - colour.astype(np.int16)).max(axis=2) <= colour_tolerance)
        win, released = _suppress_overwritten(win, mask[wy0:wy1, wx0:wx1], stroke_win, similar, value, suppress)
        fx[released] = -1
    fx[stroke_win] = value
    out = crf.dense_crf(image, win, params, fx)
    sel = connected_to(out.argmax(axis=0) == value, fx == value)
    sel[sy0 - wy0:sy1 - wy0, sx0 - wx0:sx1 - wx0] |= patch
    return stamp_from_full(sel, (wx0, wy0))


def _suppress_overwritten(probs: np.ndarray, mask: np.ndarray, stroke: np.ndarray, similar: np.ndarray,
                          value: int, factor: float) -> np.ndarray:
    """Copy of ``probs`` (window) where each class the stroke covered gives most of its probability
    to ``value`` on its (similar-coloured) region there, and that region (bool)."""
    out = np.array(probs, np.float32)
    weakened = np.zeros(mask.shape, bool)
    c = out.shape[0]
    for b in np.unique(mask[stroke]):
        b = int(b)
        if b == value or b >= c:
            continue
        region = connected_to(mask == b, stroke & (mask == b)) & similar
        moved = out[b][region] * (1.0 - factor)
        out[b][region] -= moved
        out[value][region] += moved
        weakened |= region
    out /= out.sum(axis=0, keepdims=True)
    return out, weakened
