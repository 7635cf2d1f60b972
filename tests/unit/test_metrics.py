"""Metrics: hand-computed IoU cases, ignore index, absent classes, property tests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from segstudio.core.metrics import ConfusionMatrix, evaluate, scores_from_counts


def test_hand_computed_two_class_case():
    gt = np.array([[0, 0, 1, 1]], np.uint8)
    pred = np.array([[0, 1, 1, 1]], np.uint8)
    s = evaluate(pred, gt, 2)
    # class 0: TP 1, FP 0, FN 1 -> 1/2 ; class 1: TP 2, FP 1, FN 0 -> 2/3
    assert s.iou[0] == pytest.approx(1 / 2) and s.iou[1] == pytest.approx(2 / 3)
    assert s.miou == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert s.pixel_accuracy == pytest.approx(3 / 4)
    assert s.mean_class_accuracy == pytest.approx((1 / 2 + 1) / 2)
    assert s.fwiou == pytest.approx(0.5 * 1 / 2 + 0.5 * 2 / 3)


def test_ignore_index_pixels_are_skipped():
    gt = np.array([[0, 255, 1, 255]], np.uint8)
    pred = np.array([[0, 1, 1, 0]], np.uint8)
    s = evaluate(pred, gt, 2, ignore_index=255)
    assert s.iou.tolist() == [1.0, 1.0] and s.valid_pixels == 2


def test_absent_classes_are_nan_and_excluded():
    gt = np.array([[0, 0, 2, 2]], np.uint8)
    pred = np.array([[0, 0, 2, 0]], np.uint8)
    s = evaluate(pred, gt, 4)
    assert np.isnan(s.iou[1]) and np.isnan(s.iou[3])
    assert s.iou[0] == pytest.approx(2 / 3) and s.iou[2] == pytest.approx(1 / 2)
    assert s.miou == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_class_only_in_prediction_counts_as_zero():
    gt = np.zeros((2, 2), np.uint8)
    pred = np.array([[0, 0], [0, 3]], np.uint8)
    s = evaluate(pred, gt, 4)
    assert s.iou[3] == 0.0 and s.miou == pytest.approx((3 / 4 + 0) / 2)


def test_void_prediction_is_a_false_negative_only():
    gt = np.array([[0, 1]], np.uint8)
    pred = np.array([[11, 1]], np.uint8)  # user left pixel unlabelled (void 11)
    cm = ConfusionMatrix(11, 11).update(pred, gt)
    assert cm.unassigned[0] == 1 and cm.matrix.sum() == 1
    s = cm.scores()
    assert s.iou[0] == 0.0 and s.iou[1] == 1.0


def test_streaming_equals_one_shot():
    rng = np.random.default_rng(0)
    gts = [rng.integers(0, 6, (17, 19), dtype=np.uint8) for _ in range(5)]
    preds = [rng.integers(0, 5, (17, 19), dtype=np.uint8) for _ in range(5)]
    cm = ConfusionMatrix(5, 5)
    for p, g in zip(preds, gts):
        cm.update(p, g)
    one = ConfusionMatrix(5, 5).update(np.concatenate(preds), np.concatenate(gts))
    assert np.array_equal(cm.full, one.full)


def test_many_classes_and_uint16_paths_agree_with_bincount():
    rng = np.random.default_rng(1)
    for n, dtype in ((40, np.uint8), (300, np.uint16)):
        g = rng.integers(0, n + 1, (50, 60)).astype(dtype)
        p = rng.integers(0, n, (50, 60)).astype(dtype)
        cm = ConfusionMatrix(n, n).update(p, g)
        ref = np.bincount((np.minimum(g, n).astype(int) * (n + 1) + np.minimum(p, n)).ravel(),
                          minlength=(n + 1) ** 2).reshape(n + 1, n + 1)
        assert np.array_equal(cm.full, ref)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        ConfusionMatrix(2).update(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8))


masks_st = st.integers(1, 12).flatmap(lambda h: st.integers(1, 12).flatmap(lambda w: st.tuples(
    arrays(np.uint8, (h, w), elements=st.integers(0, 6)), arrays(np.uint8, (h, w), elements=st.integers(0, 6)))))


@settings(max_examples=60, deadline=None)
@given(masks_st)
def test_properties(pair):
    pred, gt = pair
    n, ignore = 6, 6
    cm = ConfusionMatrix(n, ignore).update(pred, gt)
    s = cm.scores()
    # confusion sums to the valid pixel count
    assert cm.full[:n].sum() == int((gt != ignore).sum()) == s.valid_pixels
    iou = s.iou[~np.isnan(s.iou)]
    assert ((iou >= 0) & (iou <= 1)).all()
    # IoU is symmetric in prediction and ground truth when neither holds void
    if (gt != ignore).all() and (pred != ignore).all():
        swapped = ConfusionMatrix(n, ignore).update(gt, pred).scores()
        assert np.allclose(s.iou, swapped.iou, equal_nan=True)
    # a perfect prediction scores 1 wherever there is anything to score
    perfect = ConfusionMatrix(n, ignore).update(gt.copy(), gt).scores()
    assert s.valid_pixels == 0 or (perfect.miou == 1.0 and perfect.pixel_accuracy == 1.0)


def test_scores_from_counts_empty_is_nan():
    s = scores_from_counts(np.zeros((3, 3)))
    assert np.isnan(s.miou) and np.isnan(s.pixel_accuracy)
