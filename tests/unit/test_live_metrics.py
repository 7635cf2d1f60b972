"""Incremental live confusion matrix == full recompute; uncertainty, error maps, class mapping."""

import numpy as np
import pytest

from segstudio.core import class_mapping, error_map, uncertainty
from segstudio.core.labels import preset
from segstudio.core.live_metrics import LiveConfusion, pair_counts, patch_delta
from segstudio.core.metrics import ConfusionMatrix


def _random_stroke(rng, mask, n_values):
    h, w = mask.shape
    x0, y0 = rng.integers(0, w), rng.integers(0, h)
    x1, y1 = min(w, x0 + rng.integers(1, 20)), min(h, y0 + rng.integers(1, 20))
    value = rng.integers(0, n_values)
    region = rng.random((y1 - y0, x1 - x0)) < 0.7        # a ragged brush footprint
    mask[y0:y1, x0:x1][region] = value
    pad = int(rng.integers(0, 3))                          # boxes may be larger than the change
    return (x0 - pad, y0 - pad, x1 + pad, y1 + pad)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_incremental_equals_full_recompute_after_random_strokes(seed):
    rng = np.random.default_rng(seed)
    n = 5
    gt = rng.integers(0, n + 1, (40, 60)).astype(np.uint8)      # includes the void value n
    gt[rng.random(gt.shape) < 0.05] = 255                     # and values past it
    mask = rng.integers(0, n + 1, gt.shape).astype(np.uint8)
    live = LiveConfusion(n)
    live.reset(mask, gt)
    for _ in range(60):
        box = _random_stroke(rng, mask, n + 2)                # values n, n+1: void / outside
        live.update(mask, box)
        full = ConfusionMatrix(n).update(mask, gt)
        np.testing.assert_array_equal(live.full, full.full)
    s_live, s_full = live.scores(), ConfusionMatrix(n).update(mask, gt).scores()
    np.testing.assert_allclose(s_live.iou, s_full.iou, equal_nan=True)
    assert s_live.miou == pytest.approx(s_full.miou)
    assert s_live.pixel_accuracy == pytest.approx(s_full.pixel_accuracy)


def test_whole_mask_replacement_and_shape_change():
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 4, (10, 12)).astype(np.uint8)
    mask = np.full(gt.shape, 3, np.uint8)
    live = LiveConfusion(3)
    live.reset(mask, gt)
    new = rng.integers(0, 4, gt.shape).astype(np.uint8)
    assert live.update(new, None)
    np.testing.assert_array_equal(live.full, ConfusionMatrix(3).update(new, gt).full)
    assert not live.update(new, (0, 0, 12, 10))           # nothing changed
    assert not live.update(new, (50, 50, 60, 60))         # box outside the image


def test_pair_counts_and_delta_match_confusion_matrix():
    rng = np.random.default_rng(4)
    gt = rng.integers(0, 7, (9, 9)).astype(np.uint8)
    a = rng.integers(0, 7, gt.shape).astype(np.uint8)
    b = a.copy()
    b[2:5, 3:7] = 1
    np.testing.assert_array_equal(pair_counts(a, gt, 5), ConfusionMatrix(5).update(a, gt).full)
    delta = patch_delta(a, b, gt, 5)
    np.testing.assert_array_equal(ConfusionMatrix(5).update(a, gt).full + delta,
                                  ConfusionMatrix(5).update(b, gt).full)


def test_reset_size_mismatch_is_reported():
    with pytest.raises(ValueError, match="ground truth"):
        LiveConfusion(3).reset(np.zeros((4, 5), np.uint8), np.zeros((5, 4), np.uint8))


def test_uncertainty_maps():
    probs = np.zeros((4, 1, 3), np.float32)
    probs[:, 0, 0] = [1, 0, 0, 0]          # certain
    probs[:, 0, 1] = 0.25                  # uniform
    probs[:, 0, 2] = [0.5, 0.5, 0, 0]
    m = uncertainty.uncertainty(probs, "margin")
    np.testing.assert_allclose(m[0], [0, 0.75, 0.5], atol=1e-6)
    e = uncertainty.uncertainty(probs.astype(np.float16), "entropy")
    np.testing.assert_allclose(e[0], [0, 1, 0.5], atol=1e-3)
    with pytest.raises(ValueError):
        uncertainty.uncertainty(probs, "bogus")


def test_error_codes_per_class_and_all():
    gt = np.array([[0, 1, 2, 9]], np.uint8)           # 9: void (n = 3)
    pred = np.array([[0, 2, 3, 1]], np.uint8)         # 3: unlabelled in the prediction
    all_codes = error_map.error_codes(pred, gt, 3)
    np.testing.assert_array_equal(all_codes, [[0, 1, 2, 0]])
    c2 = error_map.error_codes(pred, gt, 3, cls=2)
    np.testing.assert_array_equal(c2, [[0, 1, 2, 0]])  # FP at gt=1, FN where gt=2 -> void
    c1 = error_map.error_codes(pred, gt, 3, cls=1)
    np.testing.assert_array_equal(c1, [[0, 2, 0, 0]])  # pred 1 on void GT is not scored
    assert error_map.error_counts(c2) == (1, 1)


def test_class_mapping_by_name():
    labels = preset("camvid")
    model_names = ["road", "SKY", "tree", "Unknown thing", "sign_symbol"]
    mapping = class_mapping.auto_match(model_names, labels)
    ids = {c.name: c.id for c in labels.classes}
    assert mapping == [ids["Road"], ids["Sky"], ids["Tree"], labels.void_value, ids["SignSymbol"]]
    model_labels = np.array([[0, 1, 3, 4]], np.uint8)
    probs = np.zeros((5, 1, 4), np.float32)
    probs[[0, 1, 3, 4], 0, [0, 1, 2, 3]] = 0.6
    probs[2, 0, :] = 0.4                               # tree keeps 0.4 everywhere
    out_l, out_p = class_mapping.apply_mapping(model_labels, probs, mapping, labels)
    np.testing.assert_array_equal(out_l, [[ids["Road"], ids["Sky"], labels.void_value, ids["SignSymbol"]]])
    assert out_p.shape == (labels.num_classes, 1, 4)
    np.testing.assert_allclose(out_p.sum(axis=0), 1.0, atol=1e-6)
    assert out_p[ids["Tree"], 0, 2] == pytest.approx(1.0)     # the dropped class's mass is renormalised away
    assert "to void: Unknown thing" in class_mapping.describe(mapping, model_names, labels)
    assert class_mapping.is_identity(labels.names, labels)
