"""Fine-tuning across label sets: copy weights, mapping per-class rows by class name.

Tensors whose shapes match are copied. A tensor whose first dimension is the source's class
count (a head's weight or bias) is copied row by row for classes the two label sets share by
name (case-insensitive); rows of new classes keep their fresh initialisation. Anything else
that does not fit is left freshly initialised and reported.
"""

from __future__ import annotations

import torch

from segstudio.core.labels import LabelSet


def transfer_weights(target: torch.nn.Module, source_state: dict[str, torch.Tensor],
                     source_labels: LabelSet, target_labels: LabelSet) -> dict[str, list[str]]:
    """Load what fits of ``source_state`` into ``target``; returns a report of what happened."""
    mapping = [(tc.id, source_labels.by_name(tc.name)) for tc in target_labels.classes]
    pairs = [(t, s.id) for t, s in mapping if s is not None]
    report: dict[str, list[str]] = {"copied": [], "class_mapped": [], "reinitialised": [],
                                    "matched_classes": [target_labels.classes[t].name for t, _ in pairs]}
    state = target.state_dict()
    n_src, n_tgt = source_labels.num_classes, target_labels.num_classes
    for key, dst in state.items():
        src = source_state.get(key)
        if src is None:
            report["reinitialised"].append(key)
            continue
        src = src.to(dst.dtype)
        if src.shape == dst.shape and not (n_src != n_tgt and src.ndim >= 1 and src.shape[0] == n_src):
            dst.copy_(src)
            report["copied"].append(key)
        elif src.ndim >= 1 and src.shape[0] == n_src and dst.shape[0] == n_tgt and src.shape[1:] == dst.shape[1:]:
            for t, s in pairs:
                dst[t] = src[s]
            report["class_mapped"].append(key)
        elif src.shape == dst.shape:
            dst.copy_(src)
            report["copied"].append(key)
        else:
            report["reinitialised"].append(key)
    target.load_state_dict(state)
    return report
