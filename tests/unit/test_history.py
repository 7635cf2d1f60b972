"""core.history: patch-based undo/redo, per-image histories, byte budget."""

import numpy as np

from segstudio.core import paint
from segstudio.core.history import History, HistoryStore, PatchRecorder, Step, TILE


def stroke(mask, p0, p1, size, value):
    rec = PatchRecorder(mask, "Brush")
    st = paint.stroke_stamp(p0, p1, size, mask.shape)
    rec.touch(st[0])
    paint.apply_stamp(mask, st[0], st[1], value)
    return rec.finish()


def test_undo_redo_restore_exact_arrays():
    rng = np.random.default_rng(1)
    mask = rng.integers(0, 5, (300, 600), dtype=np.uint8)
    h = History()
    states = [mask.copy()]
    for i in range(5):
        step = stroke(mask, (rng.uniform(0, 600), rng.uniform(0, 300)), (rng.uniform(0, 600), rng.uniform(0, 300)), 25, 7 + i)
        h.push(step)
        states.append(mask.copy())
    for i in range(5, 0, -1):
        h.undo(mask)
        assert np.array_equal(mask, states[i - 1])
    assert h.undo(mask) is None
    for i in range(1, 6):
        h.redo(mask)
        assert np.array_equal(mask, states[i])


def test_stroke_spanning_tiles_stores_only_changed_boxes():
    mask = np.zeros((2 * TILE, 3 * TILE), np.uint8)
    rec = PatchRecorder(mask, "Brush")
    for a, b in [((10, 10), (700, 400)), ((700, 400), (20, 500))]:
        st = paint.stroke_stamp(a, b, 9, mask.shape)
        rec.touch(st[0])
        paint.apply_stamp(mask, st[0], st[1], 3)
    step = rec.finish()
    assert len(step.patches) >= 4
    assert all(p.w <= TILE and p.h <= TILE for p in step.patches)
    after = mask.copy()
    step.undo(mask)
    assert not mask.any()
    step.redo(mask)
    assert np.array_equal(mask, after)


def test_recorder_no_change_gives_no_step_and_cancel_restores():
    mask = np.zeros((50, 50), np.uint8)
    rec = PatchRecorder(mask, "x")
    rec.touch((0, 0, 10, 10))
    assert rec.finish() is None
    rec = PatchRecorder(mask, "x")
    rec.touch((0, 0, 10, 10))
    mask[:10, :10] = 4
    rec.cancel()
    assert not mask.any()


def test_from_masks_one_step_for_whole_mask_change():
    before = np.zeros((600, 700), np.uint8)
    after = before.copy()
    after[100:500, 50:650] = 2
    step = Step.from_masks(before, after, "Apply prediction")
    m = after.copy()
    step.undo(m)
    assert np.array_equal(m, before)
    step.redo(m)
    assert np.array_equal(m, after)
    assert Step.from_masks(before, before.copy(), "noop") is None


def test_redo_cleared_by_new_step():
    mask = np.zeros((64, 64), np.uint8)
    h = History()
    h.push(stroke(mask, (5, 5), (20, 5), 3, 1))
    h.undo(mask)
    assert h.can_redo()
    h.push(stroke(mask, (5, 30), (20, 30), 3, 2))
    assert not h.can_redo() and len(h) == 1


def test_500_steps_fit_in_64mb_and_budget_drops_oldest():
    mask = np.zeros((2000, 2000), np.uint8)
    store = HistoryStore()
    rng = np.random.default_rng(0)
    for i in range(500):
        x, y = rng.uniform(0, 1800, 2)
        store.push("a", stroke(mask, (x, y), (x + 150, y + 60), 30, 1 + i % 10))
    assert len(store.get("a")) == 500 and store.nbytes < 64 * 1024 * 1024

    small = HistoryStore(budget_bytes=store.nbytes // 5)
    for i, step in enumerate(list(store.get("a").undo_stack)):
        small.push("a" if i % 2 else "b", step)
    assert small.nbytes <= small.budget
    kept = len(small.get("a")) + len(small.get("b"))
    assert 0 < kept < 500
    newest = [s.seq for s in small.get("a").undo_stack] + [s.seq for s in small.get("b").undo_stack]
    assert min(newest) > store.get("a").undo_stack[0].seq   # the oldest went first


def test_histories_per_key_survive_switching():
    store = HistoryStore()
    a = np.zeros((32, 32), np.uint8)
    b = np.zeros((32, 32), np.uint8)
    store.push("a", stroke(a, (1, 1), (30, 30), 3, 1))
    store.push("b", stroke(b, (1, 30), (30, 1), 3, 2))
    store.get("a").undo(a)
    assert not a.any() and b.any()
    assert store.get("b").can_undo()
