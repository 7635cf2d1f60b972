"""Learning brush: a brush stroke that also teaches the image's classifier what it painted.

Every stroke paints like the brush. Then a small per-image classifier is refitted on everything
the user painted in this image so far (plus the stroke) and re-labels the pixels around the
stroke; the pixels it now gives the stroke's class, connected to the stroke, join the stroke.
One painted patch of pavement therefore turns the rest of that pavement too, because the refit
learns "pixels that look like this and that the model found this ambiguous are pavement".

The classifier is multinomial logistic regression on per-pixel features: the model's
log-probabilities (all classes) and the pixel's colour (CIE Lab, centred, divided by
:data:`COLOUR_SCALE`). It starts as the model itself (identity on the log-probabilities, zero on
colour) and is fitted by Adam to (a) the stroke and the pixels the user painted before
(``fixed``; the labels they hold in ``labels``), all alike, together weighing ``user_share``
(measured better than a separate weight for the new stroke, which overreaches), and (b) a random
sample of the unpainted pixels with their current labels, weighing 1, with an L2 pull towards the
start (``l2``), so it only moves where the user said the model is wrong. Without model probabilities
the current mask's soft one-hot (:func:`scribble_crf.probs_from_labels`) stands in, and the
brush then learns from colour alone.

The extension stays within ``reach`` stroke widths of the stroke (far leaks were, on average, net
losses in the benchmark). Finally the outline of stroke + extension is snapped to the nearest
strong colour edge within ``snap_band`` pixels (:mod:`.edge_snap`, marker watershed): the
per-pixel classifier is least sure exactly at the object's edge. Work is bounded: features are
built only inside a window around the stroke (its box plus a margin, at most ``max_pixels``),
the fit sees at most ``max_samples`` user pixels and ``anchors`` unpainted ones, so latency does
not grow with the image. Deterministic (fixed seed).
Measured by the annotation-effort benchmark (``benchmarks/annotation_effort.py``, tool
``learn_brush``; ``docs/smart-tools.md``).
"""

from __future__ import annotations

import cv2
import numpy as np

from segstudio.core.tools import BBox, Stamp, connected_to, edge_snap, padded_box, stamp_from_full
from segstudio.core.tools.scribble_crf import probs_from_labels

COLOUR_SCALE = 25.0
DEFAULT_ANCHORS = 2000
DEFAULT_MAX_SAMPLES = 4000
DEFAULT_MAX_PIXELS = 1_000_000
DEFAULT_USER_SHARE = 1.0
DEFAULT_L2 = 0.01
DEFAULT_STEPS = 100
DEFAULT_LR = 0.05
MIN_MARGIN = 64
DEFAULT_REACH = 5.0          # the extension stays within this many stroke widths of the stroke
MIN_REACH_PX = 8


def window(stroke_bbox: BBox, shape: tuple[int, ...], max_pixels: int = DEFAULT_MAX_PIXELS) -> BBox:
    """The stroke's box plus a margin (twice its long side, at least ``MIN_MARGIN``), ≤ ``max_pixels``."""
    x0, y0, x1, y1 = stroke_bbox
    return padded_box(stroke_bbox, shape, max(MIN_MARGIN, 2 * max(x1 - x0, y1 - y0)), max_pixels, 1)


def features(rgb: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``N×(C+3)`` float32 features of a (window's) image and its ``C×H×W`` probabilities."""
    c = probs.shape[0]
    logp = np.log(np.maximum(np.asarray(probs, np.float32), np.float32(1e-6))).reshape(c, -1).T
    lab = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    lab -= lab.mean(axis=0)
    lab /= np.float32(COLOUR_SCALE)
    return np.ascontiguousarray(np.concatenate([logp, lab], axis=1))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit(x: np.ndarray, y: np.ndarray, weights: np.ndarray, num_classes: int, l2: float = DEFAULT_L2,
        steps: int = DEFAULT_STEPS, lr: float = DEFAULT_LR) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)`` of the weighted logistic regression started at the model (identity on the first
    ``num_classes`` features), by ``steps`` of Adam; ``y`` < ``num_classes``."""
    d = x.shape[1]
    w0 = np.zeros((num_classes, d), np.float32)
    w0[:, :num_classes] = np.eye(num_classes, dtype=np.float32)
    w, b = w0.copy(), np.zeros(num_classes, np.float32)
    onehot = np.eye(num_classes, dtype=np.float32)[y]
    wts = weights.astype(np.float32)[:, None]
    moments = [[np.zeros_like(w), np.zeros_like(w)], [np.zeros_like(b), np.zeros_like(b)]]
    for t in range(1, steps + 1):
        g = (_softmax(x @ w.T + b) - onehot) * wts
        grads = (g.T @ x + l2 * (w - w0), g.sum(axis=0) + l2 * b)
        for p, grad, (m, v) in zip((w, b), grads, moments):
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            p -= lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    return w, b


def _sample(rng: np.random.Generator, idx: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(idx, n, replace=False) if idx.size > n else idx


def learning_brush_stamp(rgb: np.ndarray, probs: np.ndarray | None, labels: np.ndarray, stroke: Stamp,
                         value: int, num_classes: int, fixed: np.ndarray | None = None,
                         anchors: int = DEFAULT_ANCHORS, max_samples: int = DEFAULT_MAX_SAMPLES,
                         user_share: float = DEFAULT_USER_SHARE, l2: float = DEFAULT_L2,
                         steps: int = DEFAULT_STEPS, max_pixels: int = DEFAULT_MAX_PIXELS,
                         reach: float = DEFAULT_REACH, snap_band: int = edge_snap.DEFAULT_BAND,
                         seed: int = 0) -> Stamp | None:
    """The stroke plus the pixels the refitted classifier gives ``value`` connected to it.

    ``labels``: the current mask (class ids, ≥ ``num_classes`` void); ``fixed``: bool H×W of
    the pixels the user painted before (they are learnt from and never changed by the
    extension); ``probs``: the model's ``C×H×W`` probabilities in the same ids (None: the mask's
    soft one-hot); ``snap_band``: pixels the outline may move onto an image edge
    (:func:`edge_snap.snap`; 0: off). ``None`` when ``value`` is not a class or the stroke is empty.
    """
    c = int(num_classes)
    if not 0 <= value < c or stroke is None or not stroke[1].any():
        return None
    (sx0, sy0, sx1, sy1), patch = stroke
    wx0, wy0, wx1, wy1 = window((sx0, sy0, sx1, sy1), labels.shape, max_pixels)
    lab_w = labels[wy0:wy1, wx0:wx1]
    if probs is None:
        probs_w = probs_from_labels(lab_w, c)
    else:
        probs_w = np.asarray(probs[:c, wy0:wy1, wx0:wx1], np.float32)
    wh, ww = lab_w.shape
    x = features(np.asarray(rgb)[wy0:wy1, wx0:wx1], probs_w)

    stroke_w = np.zeros((wh, ww), bool)
    stroke_w[sy0 - wy0:sy1 - wy0, sx0 - wx0:sx1 - wx0] = patch
    painted = np.zeros((wh, ww), bool) if fixed is None else fixed[wy0:wy1, wx0:wx1] & (lab_w < c)
    painted &= ~stroke_w
    rng = np.random.default_rng(seed)
    flat = lab_w.reshape(-1)
    painted_idx = np.flatnonzero(painted)
    user_idx = np.concatenate([painted_idx, np.flatnonzero(stroke_w)])
    user_y = np.concatenate([flat[painted_idx], np.full(int(stroke_w.sum()), value)]).astype(np.int64)
    if user_idx.size > max_samples:
        pick = rng.choice(user_idx.size, max_samples, replace=False)
        user_idx, user_y = user_idx[pick], user_y[pick]
    anchor_idx = _sample(rng, np.flatnonzero(~(painted | stroke_w) & (lab_w < c)), anchors)
    idx = np.concatenate([user_idx, anchor_idx])
    y = np.concatenate([user_y, flat[anchor_idx]]).astype(np.int64)
    weights = np.concatenate([np.full(user_idx.size, user_share / max(1, user_idx.size)),
                              np.full(anchor_idx.size, 1.0 / max(1, anchor_idx.size))])
    w, b = fit(x[idx], y, weights, c, l2, steps)

    relabel = (x @ w.T + b).argmax(axis=1).reshape(wh, ww) == value
    cand = (relabel & ~painted & (lab_w != value)) | (lab_w == value) | stroke_w
    sel = connected_to(cand, stroke_w) & ((lab_w != value) | stroke_w)
    if reach > 0:
        sel &= _near(stroke_w, reach)
    if snap_band > 0:
        fixed_w = np.zeros((wh, ww), bool) if fixed is None else fixed[wy0:wy1, wx0:wx1] & ~stroke_w
        sel = edge_snap.snap(np.asarray(rgb)[wy0:wy1, wx0:wx1], lab_w, sel, stroke_w, value, fixed_w, snap_band)
    return stamp_from_full(sel, (wx0, wy0))


def _near(stroke: np.ndarray, reach: float) -> np.ndarray:
    """Bool: pixels within ``reach`` stroke widths (at least :data:`MIN_REACH_PX`) of the stroke."""
    outside = np.ascontiguousarray((~stroke).view(np.uint8))
    width = 2.0 * float(cv2.distanceTransform(np.pad(stroke.view(np.uint8), 1), cv2.DIST_L2, 3).max())
    return cv2.distanceTransform(outside, cv2.DIST_L2, 3) <= max(float(MIN_REACH_PX), reach * width)
