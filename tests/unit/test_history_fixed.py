"""core.history: fixed pixels derived from the applied paint steps (undo removes, redo re-adds)."""

import numpy as np

from segstudio.core import paint
from segstudio.core.history import History, HistoryStore, PatchRecorder, Step, TILE

VOID = 11


def paint_step(mask, p0, p1, size, value):
    rec = PatchRecorder(mask, "Brush")
    st = paint.stroke_stamp(p0, p1, size, mask.shape)
    rec.touch(st[0])
    paint.apply_stamp(mask, st[0], st[1], value)
    step = rec.finish()
    step.paint_void = VOID
    return step


def test_undo_removes_and_redo_restores_painted_pixels():
    mask = np.full((300, 600), VOID, np.uint8)
    h = History()
    h.push(paint_step(mask, (10, 10), (500, 250), 9, 2))     # crosses tiles
    painted = mask == 2
    np.testing.assert_array_equal(h.fixed_pixels(mask, VOID), painted)
    h.undo(mask)
    assert not h.fixed_pixels(mask, VOID).any()
    h.redo(mask)
    np.testing.assert_array_equal(h.fixed_pixels(mask, VOID), painted)


def test_eraser_unfixes_and_other_steps_leave_fixed_alone():
    mask = np.full((64, 64), VOID, np.uint8)
    h = History()
    h.push(paint_step(mask, (5, 20), (60, 20), 5, 3))
    h.push(paint_step(mask, (30, 0), (30, 63), 3, VOID))      # eraser across the stroke
    fixed = h.fixed_pixels(mask, VOID)
    assert fixed[20, 10] and not fixed[20, 30]
    before = mask.copy()
    pred = np.where(mask == VOID, 7, mask).astype(np.uint8)   # a prediction step (not paint)
    step = Step.from_masks(before, pred, "Accept prediction")
    step.redo(mask)
    h.push(step)
    np.testing.assert_array_equal(h.fixed_pixels(mask, VOID), fixed)
    assert not h.fixed_pixels(mask, VOID).flags.writeable


def test_paint_survives_budget_drops():
    mask = np.full((2 * TILE, 2 * TILE), VOID, np.uint8)
    store = HistoryStore(budget_bytes=10_000)
    for i in range(40):
        store.push("a", paint_step(mask, (5, 5 + 12 * i), (500, 5 + 12 * i), 3, 1 + i % 5))
    hist = store.get("a")
    assert len(hist) < 40                                       # the oldest steps were dropped
    np.testing.assert_array_equal(hist.fixed_pixels(mask, VOID), mask != VOID)
