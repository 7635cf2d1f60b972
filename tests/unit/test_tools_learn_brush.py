"""Learning brush (core.tools.learn_brush): exact arrays on small synthetic scenes."""

import numpy as np

from segstudio.core.history import PatchRecorder
from segstudio.core.tools import annotator, apply_proposal, learn_brush

C = 3


def full(stamp, shape):
    out = np.zeros(shape, bool)
    (x0, y0, x1, y1), patch = stamp
    out[y0:y1, x0:x1] = patch
    return out


def square(x0, y0, x1, y1):
    return (x0, y0, x1, y1), np.ones((y1 - y0, x1 - x0), bool)


def scene(width=30):
    """20×width: a dark left part (cols 0-14) and a bright right part (cols 15-…). The model says
    class 0 everywhere, confident on the left (0.9), with class 1 its close runner-up on the
    right (0.55 vs 0.4): the right part really is class 1."""
    rgb = np.zeros((20, width, 3), np.uint8)
    rgb[:, :15] = (70, 70, 70)
    rgb[:, 15:] = (170, 160, 150)
    p = np.zeros((C, 20, width), np.float32)
    p[0, :, :15], p[1, :, :15], p[2, :, :15] = 0.9, 0.05, 0.05
    p[0, :, 15:], p[1, :, 15:], p[2, :, 15:] = 0.55, 0.4, 0.05
    labels = np.zeros((20, width), np.uint8)
    return rgb, p, labels


def test_one_stroke_turns_the_whole_part_that_looks_and_scores_like_it():
    rgb, p, labels = scene()
    st = learn_brush.learning_brush_stamp(rgb, p, labels, square(20, 8, 23, 11), 1, C)
    expected = np.zeros((20, 30), bool)
    expected[:, 15:] = True
    assert np.array_equal(full(st, labels.shape), expected)


def test_painted_pixels_are_learnt_from_but_never_changed_and_cut_the_region():
    rgb, p, labels = scene()
    rgb[:, 24] = (200, 40, 40)     # a red pole across the right part, painted class 2 by the user
    labels[:, 24] = 2
    fixed = np.zeros(labels.shape, bool)
    fixed[:, 24] = True
    st = learn_brush.learning_brush_stamp(rgb, p, labels, square(17, 8, 20, 11), 1, C, fixed=fixed,
                                          user_share=3.0)
    got = full(st, labels.shape)
    # stops at the painted column (the edge snap may leave the column next to it, whose blurred
    # colour is half red); the part beyond is not connected
    assert got[:, 15:23].all() and not got[:, :15].any() and not got[:, 24:].any()


def test_without_probabilities_it_learns_from_colour_and_the_mask():
    rgb, _, labels = scene()
    st = learn_brush.learning_brush_stamp(rgb, None, labels, square(16, 2, 29, 18), 1, C,
                                          user_share=3.0)
    expected = np.zeros((20, 30), bool)
    expected[:, 15:] = True
    assert np.array_equal(full(st, labels.shape), expected)


def test_the_stroke_itself_is_always_painted_and_bad_input_proposes_nothing():
    rgb, p, labels = scene()
    p[1, :, 15:] = 0.01            # the model finds class 1 implausible: nothing to learn beyond the stroke
    p[0, :, 15:] = 0.94
    st = learn_brush.learning_brush_stamp(rgb, p, labels, square(20, 8, 23, 11), 1, C, user_share=0.01,
                                          snap_band=0)
    assert np.array_equal(full(st, labels.shape), full(square(20, 8, 23, 11), labels.shape))
    assert learn_brush.learning_brush_stamp(rgb, p, labels, square(1, 1, 2, 2), 3, C) is None
    assert learn_brush.learning_brush_stamp(rgb, p, labels, None, 1, C) is None


def test_deterministic_and_one_undo_step_restores_exactly():
    rgb, p, labels = scene()
    a = learn_brush.learning_brush_stamp(rgb, p, labels, square(20, 8, 23, 11), 1, C)
    b = learn_brush.learning_brush_stamp(rgb, p, labels, square(20, 8, 23, 11), 1, C)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    mask = labels.copy()
    rec = PatchRecorder(mask, "Learning brush")
    rec.touch(a[0])
    apply_proposal(mask, a, 1)
    assert np.count_nonzero(mask == 1) == 300
    rec.finish().undo(mask)
    assert np.array_equal(mask, labels)


def test_work_is_bounded_by_the_window():
    assert learn_brush.window((100, 100, 110, 104), (1000, 1000)) == (36, 36, 174, 168)
    box = learn_brush.window((500, 500, 900, 520), (2000, 2000), max_pixels=200_000)
    assert (box[2] - box[0]) * (box[3] - box[1]) <= 200_000
    assert box[0] <= 500 and box[2] >= 900


def test_annotator_uses_it_as_a_brush_stroke_that_extends():
    rgb, p, labels = scene()
    gt = np.zeros((20, 30), np.uint8)
    gt[:, 15:] = 1
    inputs = annotator.ImageInputs(rgb, gt, labels.copy(), p)
    tables = annotator.simulate_image(inputs, "learn_brush", C, 255, 2)
    assert tables[0][1, 0] == 300          # before: the right part is wrong
    assert tables[1][1, 1] == 300 and tables[1][1, 0] == 0   # one stroke fixed all of it


def test_keep_unchanged_drops_pixels_edited_after_the_proposal_was_computed():
    from segstudio.core.tools import keep_unchanged

    base = np.zeros((4, 5), np.uint8)
    now = base.copy()
    now[1, 1:3] = 7
    stamp = ((0, 0, 4, 3), np.ones((3, 4), bool))
    (x0, y0, x1, y1), patch = keep_unchanged(stamp, base, now)
    got = np.zeros((4, 5), bool)
    got[y0:y1, x0:x1] = patch
    want = np.zeros((4, 5), bool)
    want[:3, :4] = True
    want[1, 1:3] = False
    assert np.array_equal(got, want)
    assert keep_unchanged(None, base, now) is None
    assert keep_unchanged(((1, 1, 3, 2), np.ones((1, 2), bool)), base, now) is None


def test_the_extension_stays_within_reach_of_the_stroke():
    """A one-pixel dab (width ≈ 2 px) reaches at most max(8, 5 × 2) = 10 px: far look-alikes are left alone."""
    rgb, p, labels = scene(80)
    st = learn_brush.learning_brush_stamp(rgb, p, labels, square(30, 10, 31, 11), 1, C, user_share=3.0)
    got = full(st, labels.shape)
    yy, xx = np.mgrid[:20, :80]
    d = np.hypot(xx - 30, yy - 10)
    right = xx >= 15
    assert got[right & (d <= 7)].all() and not got[d > 12].any() and not got[~right].any()
    wide = learn_brush.learning_brush_stamp(rgb, p, labels, square(30, 10, 31, 11), 1, C, user_share=3.0, reach=0)
    assert np.array_equal(full(wide, labels.shape), right)      # reach 0: no limit
