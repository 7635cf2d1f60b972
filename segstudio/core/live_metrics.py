"""Live (incremental) confusion matrix of one evaluated mask against its ground truth.

:class:`LiveConfusion` keeps the full ``(n+1)×(n+1)`` table of
:class:`segstudio.core.metrics.ConfusionMatrix` (rows: GT class, ``n`` = ignored/void GT;
columns: predicted class, ``n`` = void/outside the classes) for ONE image, plus a private
copy (the "shadow") of the mask it was computed from. After an edit touching ``bbox``,
:meth:`LiveConfusion.update` compares the shadow and the edited mask inside the box only,
subtracts the (old value, GT) pairs of the changed pixels and adds the (new value, GT) pairs,
then copies the box into the shadow. The result always equals a full recompute, whatever
changed the mask (stroke, fill, undo, a whole-mask prediction), with O(box) work per edit.
Numpy only.
"""

from __future__ import annotations

import numpy as np

from segstudio.core.metrics import ConfusionMatrix, Scores, pair_histogram, scores_from_counts

BBox = tuple[int, int, int, int]   # x0, y0, x1, y1 with exclusive ends


pair_counts = pair_histogram  # same binning as ConfusionMatrix (kept under this name for callers)


def patch_delta(old: np.ndarray, new: np.ndarray, gt: np.ndarray, n: int) -> np.ndarray:
    """Change of the full table when a patch of the evaluated mask goes from ``old`` to ``new``
    (``gt`` is the ground truth of the same patch); only differing pixels are counted."""
    diff = old != new
    if not diff.any():
        return np.zeros((n + 1, n + 1), np.int64)
    g = gt[diff]
    return pair_counts(new[diff], g, n) - pair_counts(old[diff], g, n)


def _clip(bbox: BBox, shape: tuple[int, ...]) -> BBox | None:
    x0, y0, x1, y1 = (int(v) for v in bbox)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(shape[1], x1), min(shape[0], y1)
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


class LiveConfusion:
    """Confusion table of one image, kept up to date edit by edit (see module docstring)."""

    def __init__(self, num_classes: int) -> None:
        self.n = int(num_classes)
        self.full = np.zeros((self.n + 1, self.n + 1), np.int64)
        self._shadow: np.ndarray | None = None
        self._gt: np.ndarray | None = None

    @property
    def ready(self) -> bool:
        return self._shadow is not None

    @property
    def gt(self) -> np.ndarray | None:
        return self._gt

    def reset(self, pred: np.ndarray | None, gt: np.ndarray | None) -> None:
        """Full recompute (new image, new GT, new source); ``None`` clears."""
        if pred is None or gt is None:
            self._shadow = self._gt = None
            self.full[:] = 0
            return
        if pred.shape != gt.shape:
            raise ValueError(f"mask is {pred.shape[1]}×{pred.shape[0]} but the ground truth is "
                             f"{gt.shape[1]}×{gt.shape[0]}")
        self._gt = gt
        self._shadow = np.array(pred, copy=True)
        cm = ConfusionMatrix(self.n).update(self._shadow, gt)
        self.full = cm.full.copy()

    def update(self, pred: np.ndarray, bbox: BBox | None = None) -> bool:
        """Account for an edit of ``pred`` inside ``bbox`` (None: the whole mask); True if counts changed."""
        if self._shadow is None or self._gt is None:
            return False
        if pred.shape != self._shadow.shape:
            self.reset(pred, self._gt)
            return True
        box = _clip(bbox, pred.shape) if bbox is not None else (0, 0, pred.shape[1], pred.shape[0])
        if box is None:
            return False
        x0, y0, x1, y1 = box
        old = self._shadow[y0:y1, x0:x1]
        new = pred[y0:y1, x0:x1]
        delta = patch_delta(old, new, self._gt[y0:y1, x0:x1], self.n)
        old[...] = new
        if not delta.any():
            return False
        self.full += delta
        return True

    # -- read-outs (same conventions as ConfusionMatrix) ---------------------------------------
    @property
    def matrix(self) -> np.ndarray:
        return self.full[: self.n, : self.n].copy()

    @property
    def unassigned(self) -> np.ndarray:
        return self.full[: self.n, self.n].copy()

    def scores(self) -> Scores:
        return scores_from_counts(self.full[: self.n, : self.n], self.full[: self.n, self.n])
