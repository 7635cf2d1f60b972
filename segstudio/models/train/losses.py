"""Training losses: cross-entropy with ignore index, class-weighted CE, focal loss (γ = 2).

Class weights from a pixel histogram:
- ``inverse``: w_c = (N − N_c) / N (the seeds' formula; mild),
- ``median``: median-frequency balancing w_c = median(f) / f_c (SegNet), f_c = N_c / N,
and ``power`` p raises them to w_c**p (p = 0.5 softens median weights). Classes with no
pixels get weight 0 (they cannot be learned from this data anyway).

Deep supervision (U-Net++, U-Net 3+): a model that keeps extra heads' full-size logits in
``model.aux_logits`` while training is trained on the mean of the main and every head's loss.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def class_weights(histogram: np.ndarray, scheme: str = "inverse", power: float = 1.0) -> np.ndarray:
    counts = np.asarray(histogram, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        raise ValueError("class histogram is empty: no labelled pixels")
    present = counts > 0
    if scheme == "inverse":
        w = (total - counts) / total
    elif scheme == "median":
        freq = counts / total
        med = np.median(freq[present])
        w = np.where(present, med / np.where(present, freq, 1.0), 0.0)
    else:
        raise ValueError(f"unknown class weight scheme {scheme!r} (inverse, median)")
    w = np.where(present, w, 0.0) ** power
    return w.astype(np.float32)


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
               weight: torch.Tensor | None = None, ignore_index: int = 255) -> torch.Tensor:
    """Mean over non-ignored pixels of −w_t (1 − p_t)^γ log p_t."""
    logp = F.log_softmax(logits, dim=1)
    valid = target != ignore_index
    safe = torch.where(valid, target, torch.zeros_like(target))
    logp_t = logp.gather(1, safe.unsqueeze(1)).squeeze(1)
    p_t = logp_t.exp()
    loss = -((1.0 - p_t) ** gamma) * logp_t
    if weight is not None:
        w = weight[safe]
        loss = loss * w
        denom = (w * valid).sum().clamp_min(1e-12)
    else:
        denom = valid.sum().clamp_min(1)
    return (loss * valid).sum() / denom


class SegLoss(torch.nn.Module):
    """``kind`` in {ce, wce, focal}; ``weight`` (C,) used by wce and optionally focal."""

    def __init__(self, kind: str = "ce", weight: torch.Tensor | None = None, ignore_index: int = 255,
                 gamma: float = 2.0) -> None:
        super().__init__()
        if kind not in ("ce", "wce", "focal"):
            raise ValueError(f"unknown loss {kind!r}: choose ce, wce or focal")
        if kind == "wce" and weight is None:
            raise ValueError("wce needs class weights")
        self.kind, self.ignore_index, self.gamma = kind, ignore_index, gamma
        self.register_buffer("weight", weight if weight is not None else None)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.kind == "focal":
            return focal_loss(logits, target, self.gamma, self.weight, self.ignore_index)
        w = self.weight if self.kind == "wce" else None
        return F.cross_entropy(logits, target, weight=w, ignore_index=self.ignore_index)


def supervised_loss(criterion, logits: torch.Tensor, target: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
    """``criterion(logits, target)``, averaged with the loss of every deep-supervision head the model
    kept in ``aux_logits`` during this forward pass (none: the plain loss)."""
    loss = criterion(logits, target)
    aux = getattr(model, "aux_logits", None) or []
    if not aux:
        return loss
    return (loss + sum(criterion(a, target) for a in aux)) / (1 + len(aux))
