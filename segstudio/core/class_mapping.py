"""Map a model's output classes onto a project's label set by class name.

A mapping is a list: entry ``i`` is the project class id that model class ``i`` becomes, or
the project's void value (the class is dropped). :func:`auto_match` pairs names
case-insensitively (ignoring spaces, ``_`` and ``-``). :func:`apply_mapping` turns model
labels / probabilities into project ones: labels through a lookup table (dropped classes
become void), probabilities by summing the columns mapped to the same project class and
renormalising over the kept classes (a pixel whose mass was all dropped becomes uniform).
Numpy only.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from segstudio.core.labels import LabelSet


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).casefold()


def auto_match(model_names: Sequence[str], labels: LabelSet) -> list[int]:
    """Project id (or void) for each model class, matched by normalised name."""
    by_name = {_norm(c.name): c.id for c in labels.classes}
    return [by_name.get(_norm(n), labels.void_value) for n in model_names]


def is_identity(model_names: Sequence[str], labels: LabelSet) -> bool:
    """True when the model's classes are exactly the project's (same names, same order)."""
    return list(model_names) == list(labels.names)


def mapping_lut(mapping: Sequence[int], labels: LabelSet, model_void: int | None = None) -> np.ndarray:
    """Lookup table model id -> project id, covering every value a model label array may hold."""
    size = max(256, len(mapping) + 1) if labels.dtype == np.uint8 else 65536
    lut = np.full(size, labels.void_value, np.int64)
    lut[: len(mapping)] = mapping
    if model_void is not None and model_void < size:
        lut[model_void] = labels.void_value
    return lut.astype(labels.dtype)


def apply_mapping(model_labels: np.ndarray, probs: np.ndarray | None, mapping: Sequence[int],
                  labels: LabelSet) -> tuple[np.ndarray, np.ndarray | None]:
    """Project labels (and ``C_project×H×W`` probabilities, same float dtype) from model outputs."""
    lut = mapping_lut(mapping, labels)
    out_labels = lut[model_labels]
    if probs is None:
        return out_labels, None
    n = labels.num_classes
    c, h, w = probs.shape
    if len(mapping) != c:
        raise ValueError(f"class mapping has {len(mapping)} entries but the model outputs {c} classes")
    out = np.zeros((n, h, w), np.float32)
    for src, dst in enumerate(mapping):
        if 0 <= dst < n:
            out[dst] += probs[src]
    total = out.sum(axis=0)
    empty = total <= 1e-12
    np.divide(out, np.where(empty, 1.0, total), out=out)
    if empty.any():
        out[:, empty] = 1.0 / max(1, n)
    return out_labels, out.astype(probs.dtype, copy=False)


def describe(mapping: Sequence[int], model_names: Sequence[str], labels: LabelSet) -> str:
    """One line: how many model classes map onto project classes and which are dropped."""
    dropped = [model_names[i] for i, d in enumerate(mapping) if not 0 <= d < labels.num_classes]
    text = f"{len(mapping) - len(dropped)} of {len(mapping)} model classes mapped"
    if dropped:
        text += f"; to void: {', '.join(dropped[:6])}" + (" …" if len(dropped) > 6 else "")
    return text
