"""Accepting stored predictions as masks, for many images at once ("Accept all predictions").

``plan_accept(project, keys, only)`` picks what may be accepted: an image with a stored
prediction (``predictions/<key>.png``) and NO user work — an image whose status is *edited*
or *reviewed*, or that has a mask file, is skipped with its reason, always (the user's mask
is never overwritten by a prediction). ``accept_predictions(project, keys, crf=…)`` then
writes each prediction as the image's mask (``masks/<key>.png``, atomic, status *edited*, so
``segstudio export`` takes it), optionally refined first by the dense CRF.

The CRF needs the model's probabilities: they are read from ``predictions/<key>.npy``
(written by ``segstudio predict --save-probs``); an image without them is not accepted and is
reported with how to get them (``predict --save-probs``, or ``predict --crf`` to apply the CRF
at predict time and accept without it).

Recoverable: before the first mask is written an *accept record*
(``segstudio/.accept/<stamp>.json``) lists the images and their previous statuses; it is
rewritten with each accepted mask's digest every :data:`FLUSH_EVERY` images and at the end.
Predictions are left in place. :func:`revert_accept` (``segstudio accept --undo``) removes
the masks of the last accept and restores the previous statuses — but only where the mask on
disk is still the one accept wrote (an image edited since then is kept). ``progress(done,
total, key)`` and ``cancel()`` are called between images; a cancelled run keeps what it wrote.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from segstudio.core import atomic, masks
from segstudio.core.errors import SegStudioError
from segstudio.core.npyfile import read_npy
from segstudio.core.project import Project, Status

RECORD_DIR = ".accept"
FLUSH_EVERY = 200
USER_STATUSES = (Status.EDITED, Status.REVIEWED)
NEEDS_PROBS = ("the CRF needs the model's probabilities, which were not stored: predict with "
               "`segstudio predict --save-probs` first, or use `segstudio predict --crf` to apply the CRF "
               "when predicting and accept without --crf")


class AcceptError(SegStudioError):
    """Nothing can be accepted as asked (bad record, nothing to undo)."""


@dataclass
class AcceptPlan:
    keys: list[str] = field(default_factory=list)                   # will be accepted
    skipped: list[tuple[str, str]] = field(default_factory=list)    # (key, why)

    def summary(self) -> str:
        return f"{len(self.keys)} to accept, {len(self.skipped)} skipped"


@dataclass
class AcceptResult:
    accepted: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    record: Path | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        text = (f"{len(self.accepted)} predictions accepted as masks, {len(self.skipped)} skipped, "
                f"{len(self.failed)} failed in {self.seconds:.1f} s")
        if self.cancelled:
            text += " — cancelled"
        lines = [text] + [f"  FAILED {k}: {why}" for k, why in self.failed]
        return "\n".join(lines)


def probs_path(project: Project, key: str) -> Path:
    """Where the model's probabilities of ``key`` are stored beside its prediction."""
    return project.prediction_path(key).with_suffix(".npy")


def user_work_reason(status: Status, has_mask: bool) -> str | None:
    """Why an image must not receive a prediction as its mask (None when it may)."""
    if status in USER_STATUSES:
        return f"status {status.value}: the user's mask is kept"
    if has_mask:
        return "has a user mask: kept"
    return None


def _names(folder: Path) -> set[str]:
    try:
        return {p.name for p in folder.iterdir()}
    except OSError:
        return set()


def plan_accept(project: Project, keys: list[str] | None = None,
                only: tuple[Status, ...] | None = None) -> AcceptPlan:
    """Which of ``keys`` (default: all) can be accepted; ``only`` keeps images with these statuses."""
    keys = project.keys() if keys is None else list(keys)
    statuses = project.statuses(keys)
    have_mask = _names(project.store / "masks")
    have_pred = _names(project.store / "predictions")
    plan = AcceptPlan()
    for key in keys:
        status = statuses[key]
        if only is not None and status not in only:
            plan.skipped.append((key, f"status {status.value} not selected"))
            continue
        why = user_work_reason(status, f"{key}.png" in have_mask)
        if why is None and f"{key}.png" not in have_pred:
            why = "no prediction"
        if why is None:
            plan.keys.append(key)
        else:
            plan.skipped.append((key, why))
    return plan


def digest(mask: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(mask).tobytes()).hexdigest()


def accepted_mask(project: Project, key: str, crf: Any = None) -> np.ndarray:
    """The mask accepting ``key`` would write: its prediction, or the CRF refinement of its stored probs."""
    pred = project.read_prediction(key)
    if pred is None:
        raise SegStudioError(f"{project.prediction_path(key)}: no prediction")
    if crf is None:
        return pred
    from segstudio.core.crf import refine_labels

    pp = probs_path(project, key)
    probs = read_npy(pp, "probabilities", SegStudioError, missing=NEEDS_PROBS)
    if probs.ndim != 3 or probs.shape[1:] != pred.shape:
        raise SegStudioError(f"{pp}: probabilities are {probs.shape}, the prediction is {pred.shape}")
    rgb = project.read_image(key).rgb
    return refine_labels(rgb, probs.astype(np.float32), crf, None, dtype=project.labels.dtype)


def _write_record(path: Path, record: dict) -> None:
    atomic.write_json(path, record)


def accept_predictions(project: Project, keys: list[str], crf: Any = None,
                       progress: Callable[[int, int, str], None] | None = None,
                       cancel: Callable[[], bool] | None = None,
                       write: Callable[[str, np.ndarray], bool] | None = None) -> AcceptResult:
    """Accept ``keys`` (from :func:`plan_accept`) as masks; see the module docstring.

    Each image is re-checked just before writing (a user mask saved meanwhile is kept).
    ``write(key, mask)``, when given, may take over the write of an image (the GUI applies it
    to the open document as one undo step) by returning True."""
    t0 = time.perf_counter()
    result = AcceptResult()
    if not keys:
        return result
    if not project.labels_path.exists():
        project.set_labels(project.labels)
    before = project.statuses(keys)
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() % 1_000_000_000:09d}"
    record_path = project.store / RECORD_DIR / f"{stamp}.json"
    record: dict[str, Any] = {"version": 1, "crf": crf is not None, "started": time.time(),
                              "previous": {k: before[k].value for k in keys}, "accepted": {}}
    _write_record(record_path, record)
    result.record = record_path
    pending: dict[str, Status] = {}

    def flush() -> None:
        if pending:
            project.set_statuses(dict(pending))
            pending.clear()
        _write_record(record_path, record)

    try:
        for i, key in enumerate(keys):
            if cancel is not None and cancel():
                result.cancelled = True
                break
            if progress is not None:
                progress(i, len(keys), key)
            why = user_work_reason(project.status(key), project.has_mask(key))
            if why is not None:
                result.skipped.append((key, why))
                continue
            try:
                mask = accepted_mask(project, key, crf)
                if write is None or not write(key, mask):
                    masks.write_mask(project.mask_path(key), mask, project.labels)
                    pending[key] = Status.EDITED
                record["accepted"][key] = digest(mask)
                result.accepted.append(key)
            except SegStudioError as exc:
                result.failed.append((key, str(exc)))
            except (OSError, ValueError) as exc:
                result.failed.append((key, f"{type(exc).__name__}: {exc}"))
            if len(record["accepted"]) % FLUSH_EVERY == 0 and pending:
                flush()
    finally:
        record["finished"] = time.time()
        flush()
        result.seconds = time.perf_counter() - t0
        if progress is not None:
            progress(len(keys), len(keys), "")
    return result


def last_record(project: Project) -> Path | None:
    folder = project.store / RECORD_DIR
    records = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return records[-1] if records else None


def revert_accept(project: Project, record_path: Path | None = None) -> AcceptResult:
    """Undo an accept (default: the last one): remove the masks it wrote, restore the statuses.

    An image whose mask changed since (the user edited it) keeps its mask and is reported as skipped.
    The record is removed afterwards, so a second undo reverts the accept before it."""
    import json

    t0 = time.perf_counter()
    record_path = record_path or last_record(project)
    if record_path is None:
        raise AcceptError(f"{project.store / RECORD_DIR}: no accept to undo")
    try:
        record = json.loads(Path(record_path).read_text(encoding="utf-8"))
        previous, accepted = dict(record["previous"]), dict(record["accepted"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AcceptError(f"{record_path}: unreadable accept record ({exc})") from None
    result = AcceptResult(record=Path(record_path))
    restore: dict[str, Status] = {}
    for key, want in accepted.items():
        current = project.read_mask(key) if project.has_mask(key) else None
        if current is None:
            result.skipped.append((key, "no mask any more"))
            continue
        if digest(current) != want:
            result.skipped.append((key, "edited since it was accepted: kept"))
            continue
        project.mask_path(key).unlink()
        restore[key] = Status(previous.get(key, Status.PREDICTED.value))
        result.accepted.append(key)
    if restore:
        project.set_statuses(restore)
    Path(record_path).unlink()
    result.seconds = time.perf_counter() - t0
    return result
