"""Class swap (core.tools.prob_region): exact arrays on a small synthetic mask + probabilities."""

import numpy as np

from segstudio.core import paint
from segstudio.core.tools import annotator, apply_proposal, prob_region

VOID = 255


def scene():
    """6×6 mask: class 0 on the left four columns, class 1 on the right two. The model's
    probability of class 2 (of 3) inside class 0: 0.45 vs top 0.5 on rows 0-2 (ratio 0.9),
    0.2 vs 0.7 on rows 3-5 (ratio ≈ 0.29); column 3 row 1 only 0.05 (ratio 0.1)."""
    labels = np.zeros((6, 6), np.uint8)
    labels[:, 4:] = 1
    p = np.zeros((3, 6, 6), np.float32)
    p[0, :3, :4], p[2, :3, :4], p[1, :3, :4] = 0.5, 0.45, 0.05
    p[0, 3:, :4], p[2, 3:, :4], p[1, 3:, :4] = 0.7, 0.2, 0.1
    p[0, 1, 3], p[2, 1, 3], p[1, 1, 3] = 0.9, 0.05, 0.05
    p[1, :, 4:], p[2, :, 4:], p[0, :, 4:] = 0.5, 0.45, 0.05   # class 2 likely in class 1 too
    return labels, p


def swap(*args, **kw):
    """The plain rule: probs[c] ≥ ratio · max, no seed share, no smoothing, no hole filling."""
    return prob_region.class_swap_stamp(*args, seed_share=None, smooth=0, holes=False, **kw)


def full(stamp, shape=(6, 6)):
    out = np.zeros(shape, bool)
    (x0, y0, x1, y1), patch = stamp
    out[y0:y1, x0:x1] = patch
    return out


def test_high_ratio_keeps_only_where_the_class_is_the_close_runner_up():
    labels, p = scene()
    st = swap(labels, p, 1.5, 0.5, 2, ratio=0.5)
    expected = np.zeros((6, 6), bool)
    expected[:3, :4] = True
    expected[1, 3] = False                     # ratio 0.056 there
    assert st[0] == (0, 0, 4, 3)
    assert np.array_equal(full(st), expected)  # never crosses into class 1 although 2 is likely there


def test_low_ratio_grows_to_the_whole_label_region_and_one_means_a_tie():
    labels, p = scene()
    st = swap(labels, p, 0, 0, 2, ratio=0.05)
    assert np.array_equal(full(st), labels == 0)
    st = swap(labels, p, 0, 0, 2, ratio=0.25)
    expected = labels == 0
    expected[1, 3] = False
    assert np.array_equal(full(st), expected)
    st = swap(labels, p, 0, 0, 2, ratio=1.0)   # 0.45 < 0.5: only the clicked pixel
    assert st == ((0, 0, 1, 1), np.ones((1, 1), bool))


def test_clicked_pixel_joins_and_the_region_is_its_connected_part():
    labels, p = scene()
    st = swap(labels, p, 0, 5, 2, ratio=0.5)   # a row-5 pixel: ratio 0.29 < 0.5
    assert st == ((0, 5, 1, 6), np.ones((1, 1), bool))
    p2 = p.copy()
    p2[2, 2, :4] = 0.0                                                # row 2 unlikely now
    p2[2, 4, :4] = 0.7                                                # a likely row 4, not touching rows 0-1
    st = swap(labels, p2, 0, 0, 2, ratio=0.5)
    expected = np.zeros((6, 6), bool)
    expected[:2, :4] = True
    expected[1, 3] = False
    assert np.array_equal(full(st), expected)


def test_a_click_where_the_class_is_unlikely_takes_pixels_at_least_half_as_plausible():
    labels, p = scene()
    # clicked ratio 0.2 / 0.7 = 2/7: threshold min(0.5, 1/7); (1, 3) at 0.05 / 0.9 stays out
    st = prob_region.class_swap_stamp(labels, p, 0, 5, 2, ratio=0.5, seed_share=0.5, smooth=0, holes=True)
    expected = labels == 0
    expected[1, 3] = False                     # on the box's edge: not a hole
    assert np.array_equal(full(st), expected)
    st = prob_region.class_swap_stamp(labels, p, 0, 0, 2, ratio=0.5, seed_share=0.5, smooth=0)
    expected[3:] = False                       # clicked ratio 0.9: threshold min(0.5, 0.45)
    assert np.array_equal(full(st), expected)


def test_holes_inside_the_proposal_are_filled_and_smoothing_bridges_speckle():
    labels, p = scene()
    p[:, 1, 1] = (0.9, 0.05, 0.05)             # a speckle where the model is sure of class 0
    kw = dict(ratio=0.5, seed_share=None, smooth=0)
    expected = np.zeros((6, 6), bool)
    expected[:3, :4] = True
    expected[1, 3] = False
    assert np.array_equal(full(prob_region.class_swap_stamp(labels, p, 0, 0, 2, holes=True, **kw)), expected)
    expected[1, 1] = False
    assert np.array_equal(full(prob_region.class_swap_stamp(labels, p, 0, 0, 2, holes=False, **kw)), expected)
    flat = np.zeros((9, 9), np.uint8)
    q = np.zeros((2, 9, 9), np.float32)
    q[0], q[1] = 0.55, 0.45
    q[0, 4], q[1, 4] = 0.99, 0.01              # a 1-px line the plain rule cannot cross
    kw = dict(ratio=0.5, seed_share=None, holes=False)
    top = np.zeros((9, 9), bool)
    top[:4] = True
    assert np.array_equal(full(prob_region.class_swap_stamp(flat, q, 0, 0, 1, smooth=0, **kw), (9, 9)), top)
    assert np.array_equal(full(prob_region.class_swap_stamp(flat, q, 0, 0, 1, smooth=2, **kw), (9, 9)),
                          np.ones((9, 9), bool))


def test_nothing_without_probabilities_on_the_same_class_on_void_or_outside():
    labels, p = scene()
    assert prob_region.class_swap_stamp(labels, None, 0, 0, 2) is None
    assert prob_region.class_swap_stamp(labels, p, 0, 0, 0) is None           # already class 0
    assert prob_region.class_swap_stamp(labels, p, 6, 0, 2) is None
    assert prob_region.class_swap_stamp(labels, p, 0, 0, 3) is None           # not a class of probs
    void = labels.copy()
    void[0, 0] = VOID
    assert prob_region.class_swap_stamp(void, p, 0, 0, 2) is None
    assert prob_region.class_swap_stamp(labels[:5], p, 0, 0, 2) is None       # shapes differ


def test_applied_through_paint_respects_locked_classes_and_undo_restores():
    labels, p = scene()
    mask = labels.copy()
    mask[0, 0] = 1                       # a different label: not part of the clicked region
    st = swap(mask, p, 2, 2, 2, ratio=0.5)
    before = mask.copy()
    edit = apply_proposal(mask, st, 2)
    expected = before.copy()
    expected[:3, :4][(before[:3, :4] == 0)] = 2
    expected[1, 3] = 0
    assert np.array_equal(mask, expected) and edit.count == 10
    x0, y0, x1, y1 = edit.bbox
    mask[y0:y1, x0:x1][edit.changed] = edit.old              # what the undo recorder does
    assert np.array_equal(mask, before)
    locked = paint.protect_table(mask.dtype, locked=[0])     # class 0 locked: nothing written
    assert paint.apply_stamp(mask, st[0], st[1], 2, protected=locked).count == 0
    assert np.array_equal(mask, before)


def test_ratio_percent_is_clamped():
    assert prob_region.clamp_ratio_pct(-3) == 0 and prob_region.clamp_ratio_pct(140) == 100
    assert prob_region.clamp_ratio_pct(12.4) == 12


def test_the_simulated_annotator_clicks_once_with_the_ground_truth_class():
    labels, p = scene()
    gt = labels.copy()
    gt[:3, :4] = 2
    gt[1, 3] = 0
    rgb = np.zeros((6, 6, 3), np.uint8)
    inputs = annotator.ImageInputs(rgb, gt, labels.copy(), p)
    tables = annotator.simulate_image(inputs, "class_swap", 3, VOID, 1, options={"swap_ratio": 0.5})
    miou, acc = annotator.curves([tables], 3)
    assert acc == [25 / 36, 1.0]          # one click swaps exactly the 11 wrong pixels
    no_probs = annotator.ImageInputs(rgb, gt, labels.copy(), None)
    tables = annotator.simulate_image(no_probs, "class_swap", 3, VOID, 1)
    assert annotator.curves([tables], 3)[1] == [25 / 36, 25 / 36]   # nothing proposed: undone, counted
