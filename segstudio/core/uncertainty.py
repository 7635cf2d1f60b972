"""Per-pixel uncertainty of class probabilities (``C×H×W``), for the GUI's heat overlay.

Two measures, both in ``[0, 1]`` with 1 = least certain:

* ``"margin"``  — ``1 − max_c p_c`` (one minus the winning class's probability);
* ``"entropy"`` — ``−Σ p_c log p_c / log C`` (Shannon entropy normalised by its maximum).

:func:`confidence` gives the max probability itself. Inputs may be float16 or float32
(float16 is how the GUI caches probabilities); rows are processed in bands so the float32
temporaries stay small. Numpy only.
"""

from __future__ import annotations

import numpy as np

MODES = ("margin", "entropy")
_BAND_PIXELS = 1 << 18


def _bands(h: int, w: int, c: int):
    rows = max(1, _BAND_PIXELS // max(1, w * max(1, c // 4)))
    for y in range(0, h, rows):
        yield y, min(h, y + rows)


def _check(probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs)
    if probs.ndim != 3 or probs.shape[0] < 1:
        raise ValueError(f"probabilities must be C×H×W, got shape {probs.shape}")
    if probs.dtype.kind != "f":
        raise ValueError(f"probabilities must be floating point, got {probs.dtype}")
    return probs


def confidence(probs: np.ndarray) -> np.ndarray:
    """``max_c p_c`` as float32 ``H×W``."""
    probs = _check(probs)
    return probs.max(axis=0).astype(np.float32)


def margin_uncertainty(probs: np.ndarray) -> np.ndarray:
    """``1 − max_c p_c`` clipped to ``[0, 1]``, float32 ``H×W``."""
    return np.clip(1.0 - confidence(probs), 0.0, 1.0)


def entropy(probs: np.ndarray) -> np.ndarray:
    """Normalised Shannon entropy (``0`` one-hot … ``1`` uniform), float32 ``H×W``."""
    probs = _check(probs)
    c, h, w = probs.shape
    out = np.zeros((h, w), np.float32)
    if c == 1:
        return out
    for y0, y1 in _bands(h, w, c):
        p = probs[:, y0:y1].astype(np.float32)
        np.clip(p, 1e-12, 1.0, out=p)
        out[y0:y1] = -(p * np.log(p)).sum(axis=0)
    out /= np.float32(np.log(c))
    return np.clip(out, 0.0, 1.0, out=out)


def uncertainty(probs: np.ndarray, mode: str = "margin") -> np.ndarray:
    """Uncertainty map for ``mode`` (one of :data:`MODES`)."""
    if mode == "margin":
        return margin_uncertainty(probs)
    if mode == "entropy":
        return entropy(probs)
    raise ValueError(f"unknown uncertainty mode {mode!r}; choose one of {', '.join(MODES)}")
