"""Where an evaluated mask disagrees with the ground truth, as a small code array.

:func:`error_codes(pred, gt, n, cls)` returns uint8 ``H×W`` codes:

* ``0`` (:data:`OK`) — correct, or not scored (GT void / outside ``0..n-1``);
* ``1`` (:data:`FALSE_POSITIVE`) — for a class ``cls``: predicted ``cls`` where the GT is another
  class; for all classes (``cls=None``): predicted a *wrong class* (any error whose prediction is
  a real class — it is a false positive of that class);
* ``2`` (:data:`FALSE_NEGATIVE`) — for a class ``cls``: GT ``cls`` predicted as anything else
  (another class or void); for all classes: GT pixel left *void/unlabelled* (a miss nobody
  claimed).

Same conventions as :mod:`segstudio.core.metrics` (GT ``>= n`` is ignored, predictions ``>= n``
count as misses). Works on any patch, so a GUI refreshes only an edited box. Numpy only.
"""

from __future__ import annotations

import numpy as np

OK, FALSE_POSITIVE, FALSE_NEGATIVE = 0, 1, 2


def error_codes(pred: np.ndarray, gt: np.ndarray, num_classes: int, cls: int | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
    """Error codes of ``pred`` against ``gt`` (see module docstring); writes into ``out`` if given."""
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from ground truth shape {gt.shape}")
    n = int(num_classes)
    if out is None:
        out = np.zeros(pred.shape, np.uint8)
    else:
        out[...] = OK
    scored = gt < n
    if cls is None:
        wrong = scored & (pred != gt)
        assigned = pred < n
        out[wrong & assigned] = FALSE_POSITIVE
        out[wrong & ~assigned] = FALSE_NEGATIVE
    else:
        is_p, is_g = pred == cls, gt == cls
        out[scored & is_p & ~is_g] = FALSE_POSITIVE
        out[is_g & ~is_p] = FALSE_NEGATIVE
    return out


def error_counts(codes: np.ndarray) -> tuple[int, int]:
    """(false positives, false negatives) in a code array."""
    counts = np.bincount(codes.reshape(-1), minlength=3)
    return int(counts[FALSE_POSITIVE]), int(counts[FALSE_NEGATIVE])
