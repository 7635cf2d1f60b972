"""Which image most needs the user's attention: per-image scores and "next worst image" navigation.

Two scores, both "higher = needs attention more":

* ``uncertainty`` — the mean normalised entropy of the model's probabilities over the image
  (:func:`image_uncertainty`, 0 = certain everywhere … 1 = uniform), recorded when predicting
  (``segstudio predict``, the app's Ctrl+R/batch) in ``segstudio/attention.json``;
* ``error`` — ``1 − mIoU`` of the image's mask (else its prediction) against its ground truth,
  where a ground-truth folder is attached (:func:`error_scores`, computed on demand).

:func:`next_key` walks keys by descending score from the current one (ties by file order),
so repeated "next that needs attention" visits every scored image once, worst first.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

import numpy as np

from segstudio.core import atomic
from segstudio.core.metrics import evaluate
from segstudio.core.project import Project
from segstudio.core.uncertainty import entropy

KINDS = ("uncertainty", "error")
FILE = "attention.json"


def image_uncertainty(probs: np.ndarray) -> float:
    """Mean normalised entropy of ``C×H×W`` probabilities (float16 or float32)."""
    return float(entropy(probs).mean(dtype=np.float64))


def _path(project: Project) -> Path:
    return project.store / FILE


def read_scores(project: Project) -> dict[str, float]:
    """Recorded uncertainty per key ({} when none or unreadable: scores are a hint, never an error)."""
    try:
        data = json.loads(_path(project).read_text(encoding="utf-8"))
        return {str(k): float(v) for k, v in data.get("uncertainty", {}).items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def record_scores(project: Project, scores: dict[str, float]) -> None:
    """Merge ``scores`` (key → uncertainty) into the recorded ones (one atomic write)."""
    if not scores:
        return
    merged = read_scores(project)
    merged.update({k: round(float(v), 6) for k, v in scores.items() if math.isfinite(v)})
    project.store.mkdir(parents=True, exist_ok=True)
    atomic.write_json(_path(project), {"version": 1, "uncertainty": merged})


def image_error(project: Project, key: str) -> float | None:
    """``1 − mIoU`` of the image's mask (else prediction) against its ground truth; None without either."""
    gt_path = project.ground_truth_path(key)
    if gt_path is None:
        return None
    from segstudio.core.masks import read_mask

    pred = project.read_mask(key)
    if pred is None:
        pred = project.read_prediction(key)
    if pred is None:
        return None
    labels = project.labels
    try:
        gt = read_mask(gt_path, labels)
    except Exception:  # noqa: BLE001 - an unreadable GT file just has no score here
        return None
    if gt.shape != pred.shape:
        return None
    miou = evaluate(pred, gt, labels.num_classes, labels.void_value).miou
    return None if math.isnan(miou) else 1.0 - miou


def error_scores(project: Project, keys: list[str] | None = None,
                 cancel: Callable[[], bool] | None = None) -> dict[str, float]:
    """``image_error`` of every key that has one (run off the GUI thread: it reads masks)."""
    out = {}
    for key in project.keys() if keys is None else keys:
        if cancel is not None and cancel():
            break
        err = image_error(project, key)
        if err is not None:
            out[key] = err
    return out


def ranked(keys: list[str], scores: dict[str, float]) -> list[str]:
    """Scored keys, highest score first (file order among equal scores)."""
    order = {k: i for i, k in enumerate(keys)}
    return sorted((k for k in keys if k in scores), key=lambda k: (-scores[k], order[k]))


def next_key(keys: list[str], scores: dict[str, float], current: str | None) -> str | None:
    """The scored key after ``current`` in :func:`ranked` order (the worst when ``current`` is unscored/last)."""
    order = ranked(keys, scores)
    if not order:
        return None
    if current in scores:
        i = order.index(current)
        return order[i + 1] if i + 1 < len(order) else None
    return order[0]
