"""Training plans: what to train (architecture, crop, batch) and for how long (steps), and why.

* :func:`measure_facts` — the data's facts the plan follows: image count and median size,
  grey or colour, bit depth, class count and pixel histogram, per-channel mean/std (the
  normalisation stored in the checkpoint, so the Predictor normalises the same way), and
  whether the layout is orientation-free (then 90° rotations and vertical flips augment);
* :func:`choose_setup` — the default architecture, crop and batch for the data and device,
  each with its reason (printed by ``segstudio train``);
* :class:`StepBudget` — turns ``--steps`` / ``--epochs`` / ``--max-minutes`` into a step
  count, measures the first steps to predict the time, gives the schedule's progress, when to
  validate and when to stop so that a time budget is honoured (the clock is injectable, so
  the rule is tested without timing anything).

Grey images are replicated to three channels (``read_image`` does so for every reader, so
training and inference see the same input); the checkpoint records ``input`` facts in its meta.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

DEFAULT_MINUTES = 10.0       # no --steps/--epochs/--max-minutes: a 10-minute budget
MEASURE_STEPS = 5            # steps timed before the plan's time estimate is printed
EVAL_SHARE = 0.12            # at most this share of a time budget goes to validation
MAX_EVALS = 30
MIN_EVALS = 3


@dataclass
class DataFacts:
    images: int
    height: int                      # median image height
    width: int
    grey: bool
    bit_depth: int                   # 8 or 16 (of the files)
    num_classes: int
    histogram: np.ndarray            # labelled pixels per class
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    orientation_free: bool
    orientation_reason: str

    def as_meta(self) -> dict:
        return {"channels": 1 if self.grey else 3, "grey_input": "replicated to 3 channels" if self.grey else None,
                "bit_depth": self.bit_depth, "normalisation": "measured from the training images",
                "median_size": [self.height, self.width], "orientation_free": self.orientation_free}


def orientation_free(masks: list[np.ndarray], num_classes: int, tol: float = 0.15) -> tuple[bool, str]:
    """Heuristic: the layout does not depend on orientation when every class with ≥ 1 % of the
    labelled pixels has about as many pixels in the top half as in the bottom half, and in the
    left half as in the right (within ``tol`` of 50 %). Street scenes (sky on top, road below)
    fail it; cells, tissue, satellite tiles pass it."""
    top = np.zeros(num_classes, np.float64)
    left = np.zeros(num_classes, np.float64)
    total = np.zeros(num_classes, np.float64)
    for m in masks:
        h, w = m.shape
        for part, acc in ((m[: h // 2], top), (m[:, : w // 2], left)):
            acc += np.bincount(part.reshape(-1), minlength=num_classes)[:num_classes]
        # odd sizes: the middle row/column counts to neither half; negligible
        total += np.bincount(m.reshape(-1), minlength=num_classes)[:num_classes]
    main = total >= 0.01 * max(1.0, total.sum())
    if not main.any():
        return False, "no labelled pixels"
    ft, fl = top[main] / total[main], left[main] / total[main]
    worst = float(max(np.abs(ft - 0.5).max(), np.abs(fl - 0.5).max()))
    free = worst <= tol
    return free, (f"every main class is spread evenly over the image halves (worst {100 * (0.5 + worst):.0f} %): "
                  f"90° rotations and vertical flips added" if free else
                  f"some class sits mostly in one half ({100 * (0.5 + worst):.0f} %): orientation matters, "
                  f"horizontal flips only")


def measure_facts(items: list[tuple[np.ndarray, np.ndarray]], grey_flags: list[bool], bit_depths: list[int],
                  num_classes: int, sample_step: int = 4) -> DataFacts:
    """Facts from decoded (rgb uint8, mask) pairs; mean/std in 0..1 units per channel."""
    if not items:
        raise ValueError("no training images")
    hs = sorted(rgb.shape[0] for rgb, _ in items)
    ws = sorted(rgb.shape[1] for rgb, _ in items)
    s = np.zeros(3, np.float64)
    s2 = np.zeros(3, np.float64)
    n = 0
    hist = np.zeros(num_classes, np.int64)
    for rgb, mask in items:
        px = rgb[::sample_step, ::sample_step].reshape(-1, 3).astype(np.float64) / 255.0
        s += px.sum(0)
        s2 += (px ** 2).sum(0)
        n += px.shape[0]
        hist += np.bincount(mask.reshape(-1), minlength=num_classes)[:num_classes]
    mean = s / n
    std = np.sqrt(np.maximum(s2 / n - mean ** 2, 0.0))
    std = np.maximum(std, 1e-3)
    grey = all(grey_flags)
    if grey:    # identical channels: one mean/std for all three
        mean[:] = mean.mean()
        std[:] = std.mean()
    free, why = orientation_free([m for _, m in items], num_classes)
    return DataFacts(len(items), hs[len(hs) // 2], ws[len(ws) // 2], grey, max(bit_depths or [8]), num_classes, hist,
                     tuple(float(v) for v in mean), tuple(float(v) for v in std), free, why)  # type: ignore[arg-type]


@dataclass
class Setup:
    arch: str
    arch_options: dict
    crop: tuple[int, int] | None
    batch_size: int
    reasons: list[str] = field(default_factory=list)


def _crop_side(side: int, target: int) -> int:
    return max(32, min(target, side // 32 * 32))


def choose_setup(facts: DataFacts, device_type: str) -> Setup:
    """Default architecture, crop and batch for the data and the device, with the reasons."""
    gpu = device_type == "cuda"
    reasons = []
    if gpu:
        arch, opts, target, batch = "unet", {"width": 32, "depth": 4}, 512, 16
        reasons.append("CUDA device: a full-resolution U-Net (width 32, depth 4) — the GPU affords it")
    else:
        arch, opts, target, batch = "unet-light", {}, 256, 8
        reasons.append(f"{device_type.upper()} device: unet-light (width 16, stride-2 stem; about 0.5 s per "
                       f"batch of 8×256² on one core), so a time budget buys thousands of steps, "
                       f"not a hundred of a heavy model")
    crop = (_crop_side(facts.height, target), _crop_side(facts.width, target))
    if min(facts.height, facts.width) < 64:
        opts = {**opts, "depth": 3}
        reasons.append(f"small images ({facts.height}×{facts.width}): depth 3")
    reasons.append(f"crop {crop[0]}×{crop[1]} from images of median size {facts.height}×{facts.width}, "
                   f"batch {batch}")
    if facts.num_classes > 30:
        opts = {**opts, "width": max(24, int(opts.get("width", 16)))}
        reasons.append(f"{facts.num_classes} classes: wider network")
    if facts.grey:
        reasons.append(f"grey {facts.bit_depth}-bit images: channel replicated, normalisation measured "
                       f"(mean {facts.mean[0]:.3f}, std {facts.std[0]:.3f})")
    return Setup(arch, opts, crop, batch, reasons)


class StepBudget:
    """How many steps, when to validate, when to stop, and the schedule's progress (0..1).

    Exactly one of ``steps`` / ``epochs`` / ``minutes`` decides (``epochs`` and ``minutes``
    together: whichever ends first). With a time budget the step count is re-estimated from
    the measured step and validation times; progress is the elapsed fraction of the budget, so
    the learning-rate schedule ends when the time does; :meth:`should_stop` stops before a step
    that would not fit with the final validation still to come, so the total stays within
    one step (plus one validation misestimate) of the budget.
    """

    def __init__(self, steps_per_epoch: int, steps: int | None = None, epochs: int | None = None,
                 minutes: float | None = None, clock: Callable[[], float] = time.perf_counter,
                 eval_every: int | None = None, start_step: int = 0, elapsed_before: float = 0.0) -> None:
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.source = "steps" if steps else "epochs" if epochs else "minutes"
        if not (steps or epochs or minutes):
            minutes = DEFAULT_MINUTES
            self.source = "default"
        self.fixed_steps = steps or (epochs * self.steps_per_epoch if epochs else None)
        self.budget = minutes * 60.0 if minutes else None
        self.clock = clock
        self.t0 = clock() - elapsed_before
        self.step_time: float | None = None   # measured seconds per step (running mean after warm-up)
        self.eval_time: float | None = None
        self._timed = 0
        self._t_last: float | None = None
        self.epoch_evals = bool(epochs) and not steps and eval_every is None
        self._eval_every = eval_every
        self._next_eval: int | None = None
        self.step = self._start = start_step

    # -- measurements -------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self.clock() - self.t0

    def step_done(self, seconds: float) -> None:
        """One optimiser step took ``seconds`` (the first one, with its start-up cost, is not averaged)."""
        self.step += 1
        self._timed += 1
        if self._timed == 1:
            self.step_time = seconds if self.step_time is None else self.step_time
            return
        n = self._timed - 1
        self.step_time = seconds if n == 1 else self.step_time + (seconds - self.step_time) / min(n, 50)

    # -- the plan -----------------------------------------------------------------------------------
    def planned_steps(self) -> int:
        """Total steps: fixed, or what the time budget affords at the measured speed."""
        by_time = None
        if self.budget is not None:
            per = self.step_time or 1.0
            left = max(0.0, self.budget - self.elapsed())
            evals_left = math.ceil(left / (per * self.eval_every() + (self.eval_time or 0.0)))
            by_time = self.step + max(0, int((left - evals_left * (self.eval_time or 0.0)) / per))
        if self.fixed_steps is not None:
            return min(self.fixed_steps, by_time) if by_time is not None else self.fixed_steps
        return max(1, by_time or 1)

    def eval_every(self) -> int:
        """Validate every this many steps: every epoch with ``--epochs``; otherwise 3–30 times a run,
        fewer when validation is slow (at most 12 % of a time budget goes to it)."""
        if self._eval_every:
            return self._eval_every
        if self.epoch_evals:
            return self.steps_per_epoch
        if self.budget is not None:
            evals = MAX_EVALS
            if self.eval_time:
                evals = int(min(MAX_EVALS, max(MIN_EVALS, EVAL_SHARE * self.budget / self.eval_time)))
            steps = max(1.0, self.budget - evals * (self.eval_time or 0.0)) / (self.step_time or 1.0)
            if self.fixed_steps is not None:
                steps = min(steps, self.fixed_steps)
            return max(1, int(steps / evals))
        return max(1, (self.fixed_steps or 1) // MAX_EVALS)

    def progress(self) -> float:
        """Fraction of the run done (drives the learning-rate schedule)."""
        frac = self.step / max(1, self.fixed_steps) if self.fixed_steps else 0.0
        if self.budget is not None:
            frac = max(frac, self.elapsed() / self.budget)
        return min(1.0, frac)

    def should_validate(self) -> bool:
        """After a step: time to validate (each ``eval_every`` steps, and before stopping)?"""
        if self._next_eval is None and self.budget is not None and not self.epoch_evals \
                and self.step - self._start < MEASURE_STEPS:
            return self.should_stop()       # the interval is set once the first steps are timed
        if self._next_eval is None:
            e = self.eval_every()
            self._next_eval = (self._start // e + 1) * e if self.epoch_evals else self._start + e
        return self.step > 0 and (self.step >= self._next_eval or self.should_stop())

    def validated(self, seconds: float) -> None:
        """A validation took ``seconds``; the next one is ``eval_every`` steps on."""
        self.eval_time = seconds if self.eval_time is None else 0.5 * (self.eval_time + seconds)
        self._next_eval = self.step + self.eval_every()

    def should_stop(self) -> bool:
        """True when the next step would run past the plan (steps reached, or time for one more
        step plus the final validation is not left)."""
        if self.fixed_steps is not None and self.step >= self.fixed_steps:
            return True
        if self.budget is None:
            return False
        need = (self.step_time or 0.0) + (self.eval_time or 0.0)
        return self.elapsed() + need > self.budget

    def describe(self, batch: int, images: int) -> dict:
        steps = self.planned_steps()
        rec = {"event": "plan", "steps": steps, "epochs": round(steps * batch / max(1, images), 1),
               "batch_size": batch, "train_images": images, "eval_every": self.eval_every(),
               "budget_from": self.source}
        if self.budget is not None:
            rec["budget_minutes"] = round(self.budget / 60.0, 2)
        if self.step_time is not None:
            rec["seconds_per_step"] = round(self.step_time, 4)
            rec["expected_minutes"] = round((steps * self.step_time + math.ceil(steps / self.eval_every())
                                             * (self.eval_time or 0.0)) / 60.0, 2)
        return rec
