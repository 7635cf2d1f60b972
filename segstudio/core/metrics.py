"""Segmentation metrics from a streaming confusion matrix.

``ConfusionMatrix(n, ignore_index)`` accumulates ``update(pred, gt)`` over any number of
images (bincount over a combined index, no Python loops over pixels). Pixels whose ground
truth is the ignore value (or any value ≥ n) are skipped. A prediction value outside
``0..n-1`` (e.g. an unlabelled pixel in a user's mask) counts as a miss for the GT class
(a false negative) and as nobody's false positive; it is tallied in ``unassigned``.

IoU_c = TP / (TP + FP + FN). Classes that appear in neither GT nor prediction have no IoU
(NaN) and are excluded from mIoU. Pixel accuracy, mean class accuracy (over classes present
in GT) and frequency-weighted IoU are reported too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


_CHUNK = 1 << 20  # pixels per pass: keeps the working set in cache; float32 histogram counts stay exact


def pair_histogram(pred: np.ndarray, gt: np.ndarray, n: int) -> np.ndarray:
    """Counts of ``min(gt, n) * (n+1) + min(pred, n)`` as an ``(n+1)×(n+1)`` int64 table.

    Uses OpenCV's histogram (several times faster than ``np.bincount``, which first widens
    every index to 64 bits) on cache-sized chunks; falls back to bincount past 255 classes.
    """
    import cv2

    m = n + 1
    out = np.zeros(m * m, np.int64)
    g, p = gt.reshape(-1), pred.reshape(-1)
    if m > 256:
        idx = np.minimum(g, n).astype(np.int64) * m + np.minimum(p, n)
        return np.bincount(idx, minlength=m * m).reshape(m, m)
    small = m * m <= 256
    work_t = np.uint8 if small else np.uint16
    bins = 256 if small else m * m
    a = np.empty(min(_CHUNK, g.size), work_t)
    b = np.empty_like(a)
    for s in range(0, g.size, _CHUNK):
        k = min(_CHUNK, g.size - s)
        x, y = a[:k], b[:k]
        np.minimum(g[s:s + k], n, out=x, casting="unsafe")
        np.multiply(x, m, out=x, casting="unsafe")
        np.minimum(p[s:s + k], n, out=y, casting="unsafe")
        np.add(x, y, out=x)
        hist = cv2.calcHist([x.reshape(1, -1)], [0], None, [bins], [0, bins]).ravel()
        out[: min(bins, m * m)] += hist[: m * m].astype(np.int64)
    return out.reshape(m, m)


class ConfusionMatrix:
    """Accumulates an ``(n+1)×(n+1)`` table whose last row/column is 'outside the classes'."""

    def __init__(self, num_classes: int, ignore_index: int | None = None) -> None:
        self.n = int(num_classes)
        self.ignore_index = ignore_index
        self._full = np.zeros((self.n + 1, self.n + 1), np.int64)

    def update(self, pred: np.ndarray, gt: np.ndarray) -> "ConfusionMatrix":
        if pred.shape != gt.shape:
            raise ValueError(f"prediction shape {pred.shape} differs from ground truth shape {gt.shape}")
        pred = _as_uint(pred)
        gt = _as_uint(gt)
        self._full += pair_histogram(pred, gt, self.n)
        return self

    def update_counts(self, full: np.ndarray) -> None:
        self._full += full

    def merge(self, other: "ConfusionMatrix") -> "ConfusionMatrix":
        self._full += other._full
        return self

    def reset(self) -> None:
        self._full[:] = 0

    @property
    def matrix(self) -> np.ndarray:
        """``n×n`` counts: rows = ground truth class, columns = predicted class."""
        return self._full[: self.n, : self.n].copy()

    @property
    def unassigned(self) -> np.ndarray:
        """Per GT class, pixels predicted as void / outside the classes."""
        return self._full[: self.n, self.n].copy()

    @property
    def full(self) -> np.ndarray:
        return self._full

    def scores(self) -> "Scores":
        return scores_from_counts(self._full[: self.n, : self.n], self._full[: self.n, self.n])


def _as_uint(a: np.ndarray) -> np.ndarray:
    if a.dtype in (np.uint8, np.uint16):
        return a
    if a.dtype.kind in "iu" and (a.size == 0 or (a.min() >= 0 and a.max() <= 65535)):
        return a.astype(np.uint16 if a.size and a.max() > 255 else np.uint8)
    if a.dtype == bool:
        return a.view(np.uint8)
    raise ValueError(f"masks must hold non-negative integer ids < 65536, got {a.dtype}")


@dataclass
class Scores:
    iou: np.ndarray            # per class, NaN where the class is in neither GT nor prediction
    class_accuracy: np.ndarray  # per class recall, NaN where absent from GT
    gt_pixels: np.ndarray       # per class GT pixel count
    miou: float
    pixel_accuracy: float
    mean_class_accuracy: float
    fwiou: float
    valid_pixels: int

    def to_dict(self, names: list[str]) -> dict:
        def num(v: float):
            return None if np.isnan(v) else float(v)

        return {
            "miou": num(self.miou),
            "pixel_accuracy": num(self.pixel_accuracy),
            "mean_class_accuracy": num(self.mean_class_accuracy),
            "fwiou": num(self.fwiou),
            "valid_pixels": int(self.valid_pixels),
            "per_class": {n: num(v) for n, v in zip(names, self.iou)},
            "per_class_pixels": {n: int(v) for n, v in zip(names, self.gt_pixels)},
        }


def scores_from_counts(cm: np.ndarray, unassigned: np.ndarray | None = None) -> Scores:
    cm = cm.astype(np.float64)
    n = cm.shape[0]
    unassigned = np.zeros(n) if unassigned is None else unassigned.astype(np.float64)
    tp = np.diag(cm)
    gt = cm.sum(axis=1) + unassigned
    pred = cm.sum(axis=0)
    union = gt + pred - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)
        acc = np.where(gt > 0, tp / np.where(gt > 0, gt, 1), np.nan)
    total = gt.sum()
    present = ~np.isnan(iou)
    miou = float(iou[present].mean()) if present.any() else float("nan")
    pa = float(tp.sum() / total) if total > 0 else float("nan")
    mca = float(np.nanmean(acc)) if (gt > 0).any() else float("nan")
    fw = float((gt[present] / total * iou[present]).sum()) if total > 0 else float("nan")
    return Scores(iou, acc, gt.astype(np.int64), miou, pa, mca, fw, int(total))


def evaluate(pred: np.ndarray, gt: np.ndarray, num_classes: int, ignore_index: int | None = None) -> Scores:
    """One-shot scores for a single pair."""
    return ConfusionMatrix(num_classes, ignore_index).update(pred, gt).scores()
