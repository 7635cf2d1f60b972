"""Decisions of retraining and learning in the loop (pure logic: no torch, no Qt).

* :func:`split_holdout` — which images are held out for validation when the user gave none
  (deterministic: by a hash of the file stem, so the same image stays held out as a project
  grows, and a retrain never trains on the images it is judged on);
* :class:`Plateau` — early stop when validation mIoU has not improved for a while;
* :func:`compare_models` — old vs new model on the same held-out images: the new one is
  offered only when it is not worse (never a silent swap to a worse model);
* :class:`RetrainTrigger` — counts newly accepted/edited images, says when a background
  retrain is due (every N);
* :func:`keys_to_repredict` — after a better model arrives, the images whose masks may be
  replaced by a prediction: only those the user has not edited or reviewed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Mapping

HOLDOUT_FRACTION = 0.15
MIN_IMAGES_FOR_SPLIT = 5      # below this every image is needed for training
MAX_HOLDOUT = 50
FEW_HELD_OUT = 5              # below this a comparison's message warns that the evidence is thin
USER_STATUSES = frozenset({"edited", "reviewed"})


def _rank(stem: str, seed: int) -> str:
    return hashlib.sha1(f"{seed}:{stem}".encode("utf-8")).hexdigest()


def split_holdout(stems: Iterable[str], fraction: float = HOLDOUT_FRACTION, seed: int = 0,
                  max_holdout: int = MAX_HOLDOUT) -> tuple[list[str], list[str]]:
    """(train, held_out) stems; held_out is empty when there are fewer than 5 images.

    At least one image is held out from 5 images on, about ``fraction`` of them, at most
    ``max_holdout``. The choice depends only on each stem (hash order), not on the others.
    """
    stems = sorted(set(stems))
    if len(stems) < MIN_IMAGES_FOR_SPLIT:
        return stems, []
    n_val = min(max_holdout, max(1, round(fraction * len(stems))))
    held = set(sorted(stems, key=lambda s: _rank(s, seed))[:n_val])
    return [s for s in stems if s not in held], sorted(held)


@dataclass
class Plateau:
    """Stop when the best score has not improved by ``min_delta`` for ``patience`` evaluations.

    Only from ``min_progress`` of the schedule on: the low learning rates at the end of a
    cosine schedule often bring the last gains, so an early flat stretch is not a plateau.
    """

    patience: int = 10
    min_delta: float = 0.002
    min_progress: float = 0.75
    best: float = float("-inf")
    since_best: int = 0

    def update(self, score: float, progress: float) -> bool:
        """Record one evaluation; True when training should stop."""
        if score > self.best + self.min_delta:
            self.best, self.since_best = score, 0
        elif score > self.best:      # a small gain: a new best, but it does not reset the patience
            self.best = score
            self.since_best += 1
        else:
            self.since_best += 1
        return progress >= self.min_progress and self.since_best >= self.patience


@dataclass(frozen=True)
class Comparison:
    old: float | None
    new: float
    images: int
    better: bool          # offer the new model
    message: str
    firm: bool = True     # enough evidence to take it without asking (False: few images, small difference)


def compare_models(old_miou: float | None, new_miou: float, images: int, margin: float = 0.0) -> Comparison:
    """Judge a retrained model against the one it would replace, on the same ``images`` held-out images.

    The new model is better when its mIoU exceeds the old one's by more than ``margin``; with
    no old score (nothing to compare with) it is offered; with no held-out image it is not
    judged better (there is no evidence), and the message says so. On fewer than
    :data:`FEW_HELD_OUT` images a difference under 5 points is flagged as possibly chance and the
    verdict is not ``firm``: a person may still take the model, a background loop must not.
    """
    if images <= 0:
        return Comparison(old_miou, new_miou, 0, False,
                          "No held-out image to compare the models on; the current model is kept.")
    if old_miou is None:
        return Comparison(None, new_miou, images, True,
                          f"New model: mIoU {100 * new_miou:.1f} % on {images} held-out image(s).")
    better = new_miou > old_miou + margin
    verdict = "better" if better else "not better"
    firm = images >= FEW_HELD_OUT or abs(new_miou - old_miou) >= 0.05
    caveat = "" if firm else (f" (only {images} held-out image(s): a difference this small may be chance; "
                              "hold out more images for a firmer verdict)")
    return Comparison(old_miou, new_miou, images, better,
                      f"New model {100 * new_miou:.1f} % vs current {100 * old_miou:.1f} % mIoU on {images} "
                      f"held-out image(s): {verdict}" + ("." if better else "; the current model is kept.")
                      + caveat, firm)


@dataclass
class RetrainTrigger:
    """Counts images newly accepted or edited since the last retrain; a retrain is due every ``every``."""

    every: int = 10
    seen: set[str] = field(default_factory=set)      # keys counted since the last retrain
    trained_on: set[str] = field(default_factory=set)

    def note(self, key: str, status: str) -> bool:
        """An image got ``status``; True when a retrain is now due."""
        if status in USER_STATUSES and key not in self.trained_on:
            self.seen.add(key)
        return self.due()

    def due(self) -> bool:
        return self.every > 0 and len(self.seen) >= self.every

    def started(self) -> set[str]:
        """A retrain starts on what was counted: reset the count; returns the keys it covers."""
        covered, self.seen = set(self.seen), set()
        self.trained_on |= covered
        return covered


def keys_to_repredict(statuses: Mapping[str, str]) -> list[str]:
    """Images a better model may re-predict: never one the user edited or reviewed."""
    return sorted(k for k, s in statuses.items() if str(getattr(s, "value", s)) not in USER_STATUSES)
