"""Training plans: step counts from step/epoch/time budgets (injected clock, nothing timed), setup choice, data facts."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.models.train.plan import DEFAULT_MINUTES, StepBudget, choose_setup, measure_facts, orientation_free


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def simulate(budget: StepBudget, clock: FakeClock, step_s: float, eval_s: float, max_steps: int = 10 ** 6):
    """Drive a budget like the training loop does; returns (steps, evaluations)."""
    evals = 0
    while not budget.should_stop() and budget.step < max_steps:
        clock.t += step_s
        budget.step_done(step_s)
        if budget.should_validate():
            clock.t += eval_s
            budget.validated(eval_s)
            evals += 1
    return budget.step, evals


@pytest.mark.parametrize("step_s,eval_s", [(0.37, 4.0), (0.05, 1.0), (2.5, 20.0), (0.01, 0.0)])
def test_time_budget_is_honoured_within_ten_percent(step_s, eval_s):
    clock = FakeClock()
    budget = StepBudget(steps_per_epoch=3, minutes=10, clock=clock)
    steps, evals = simulate(budget, clock, step_s, eval_s)
    spent = clock.t - 1000.0
    assert 0.9 * 600 <= spent <= 1.1 * 600, spent
    assert steps > 0.8 * (600 - evals * eval_s) / step_s      # the time went into steps, not idling
    assert evals * eval_s <= max(0.12 * 600, 3 * eval_s) + 2 * eval_s     # validation stays a small share
    assert 3 <= evals <= 31


def test_tiny_dataset_gets_many_epochs_from_a_time_budget():
    clock = FakeClock()
    budget = StepBudget(steps_per_epoch=3, minutes=10, clock=clock)     # 24 images, batch 8
    steps, _ = simulate(budget, clock, 0.3, 2.0)
    plan = budget.describe(batch=8, images=24)
    assert steps >= 1500 and steps / 3 >= 500                            # hundreds of epochs, not 40
    assert plan["budget_from"] == "minutes" and plan["epochs"] >= 500


def test_plan_predicts_steps_from_the_first_measured_steps():
    clock = FakeClock()
    budget = StepBudget(steps_per_epoch=10, minutes=5, clock=clock)
    for _ in range(5):
        clock.t += 0.5
        budget.step_done(0.5)
    planned = budget.planned_steps()
    assert 0.85 * (300 / 0.5) <= planned <= 300 / 0.5
    rec = budget.describe(batch=4, images=40)
    assert rec["seconds_per_step"] == pytest.approx(0.5) and 4.2 <= rec["expected_minutes"] <= 5.0


def test_steps_and_epochs_budgets():
    b = StepBudget(steps_per_epoch=7, steps=100, clock=FakeClock())
    assert b.planned_steps() == 100 and b.source == "steps"
    assert simulate(b, FakeClock(), 1.0, 0.0)[0] == 100
    e = StepBudget(steps_per_epoch=7, epochs=3, clock=FakeClock())
    steps, evals = simulate(e, FakeClock(), 1.0, 0.0)
    assert steps == 21 and evals == 3 and e.eval_every() == 7          # --epochs validates each epoch
    # epochs and minutes together: whichever ends first
    clock = FakeClock()
    both = StepBudget(steps_per_epoch=7, epochs=1000, minutes=1, clock=clock)
    steps, _ = simulate(both, clock, 1.0, 0.0)
    assert 50 <= steps <= 60


def test_no_budget_given_means_the_default_minutes():
    b = StepBudget(steps_per_epoch=3, clock=FakeClock())
    assert b.source == "default" and b.budget == DEFAULT_MINUTES * 60


def test_progress_follows_time_so_the_schedule_ends_with_the_budget():
    clock = FakeClock()
    b = StepBudget(steps_per_epoch=3, minutes=1, clock=clock)
    clock.t += 30
    assert b.progress() == pytest.approx(0.5)
    clock.t += 40
    assert b.progress() == 1.0 and b.should_stop()


def test_resumed_budget_counts_time_already_spent():
    clock = FakeClock()
    b = StepBudget(steps_per_epoch=3, minutes=1, clock=clock, start_step=50, elapsed_before=45.0)
    assert b.progress() == pytest.approx(0.75) and b.step == 50


def _facts(masks, grey=True, shape=(128, 160)):
    rgb = np.full((*shape, 3), 100, np.uint8)
    return measure_facts([(rgb, m) for m in masks], [grey] * len(masks), [16] * len(masks), 2)


def test_orientation_heuristic_street_scene_vs_cells():
    street = np.zeros((100, 100), np.uint8)
    street[:40] = 1                                  # "sky" on top
    assert orientation_free([street], 2)[0] is False
    rng = np.random.default_rng(0)
    cells = (rng.random((100, 100)) < 0.3).astype(np.uint8)
    free, why = orientation_free([cells], 2)
    assert free and "90°" in why


def test_setup_follows_data_and_device():
    rng = np.random.default_rng(0)
    masks = [(rng.random((128, 160)) < 0.3).astype(np.uint8) for _ in range(3)]
    facts = _facts(masks)
    assert facts.grey and facts.bit_depth == 16 and facts.images == 3
    assert facts.mean == pytest.approx((100 / 255,) * 3, abs=1e-6)
    cpu = choose_setup(facts, "cpu")
    assert cpu.arch == "unet-light" and cpu.crop == (128, 160) and any("grey" in r for r in cpu.reasons)
    gpu = choose_setup(facts, "cuda")
    assert gpu.arch == "unet" and gpu.batch_size > cpu.batch_size
    small = choose_setup(_facts([m[:40, :40] for m in masks], shape=(40, 40)), "cpu")
    assert small.arch_options.get("depth") == 3 and small.crop == (32, 32)
    meta = facts.as_meta()
    assert meta["channels"] == 1 and meta["bit_depth"] == 16
