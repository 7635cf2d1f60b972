"""Test-time augmentation: class probabilities averaged over flipped and rescaled copies.

Modes (``TTA_MODES``): ``none``; ``flip`` — the image and its horizontal mirror (2 passes);
``ms`` — scales 0.75, 1 and 1.25, each with its mirror (6 passes). Each pass's logits are
brought back to the input grid (un-flipped; bilinear, ``align_corners=False``, for the
rescaled ones), turned into softmax probabilities, and the probabilities are averaged; the
labels are their argmax. The image and its mirror run as one batch of 2N. Works on tiles
the same way (``Predictor`` applies it per tile, so tiling and TTA combine).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

TTA_MODES = ("none", "flip", "ms")
MS_SCALES = (0.75, 1.0, 1.25)

LogitsFn = Callable[[np.ndarray], torch.Tensor]   # N×H×W×3 uint8 -> N×C×h×w logits


def check_mode(mode: str | None) -> str:
    mode = (mode or "none").lower()
    if mode not in TTA_MODES:
        from segstudio.core.errors import SegStudioError

        raise SegStudioError(f"unknown test-time augmentation {mode!r}; choose one of {', '.join(TTA_MODES)}")
    return mode


def passes(mode: str) -> int:
    return {"none": 1, "flip": 2, "ms": 2 * len(MS_SCALES)}[check_mode(mode)]


def _resize_batch(batch: np.ndarray, scale: float) -> np.ndarray:
    import cv2

    n, h, w, _ = batch.shape
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    return np.stack([cv2.resize(im, size, interpolation=cv2.INTER_LINEAR) for im in batch])


def tta_probs(logits_fn: LogitsFn, batch: np.ndarray, mode: str = "none") -> torch.Tensor:
    """``N×C×H×W`` float32 probabilities of the ``N×H×W×3`` uint8 ``batch`` under ``mode``."""
    mode = check_mode(mode)
    n, h, w, _ = batch.shape
    if mode == "none":
        return torch.softmax(logits_fn(batch).float(), 1)
    scales = MS_SCALES if mode == "ms" else (1.0,)
    total: torch.Tensor | None = None
    for scale in scales:
        src = batch if scale == 1.0 else _resize_batch(batch, scale)
        both = np.concatenate([src, np.ascontiguousarray(src[:, :, ::-1])])
        logits = logits_fn(both).float()
        if logits.shape[-2:] != (h, w):
            logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
        probs = torch.softmax(logits, 1)
        part = probs[:n] + probs[n:].flip(-1)
        total = part if total is None else total.add_(part)
    assert total is not None
    return total.div_(2 * len(scales))
