"""Pixel logic of the smart tools (segstudio.core.tools): exact arrays on small synthetic images."""

import numpy as np
import pytest

from segstudio.core import paint
from segstudio.core.history import PatchRecorder
from segstudio.core.tools import apply_proposal, grabcut, region, scribble_crf, superpixel, wand
from segstudio.core.crf_params import CRFParams


def full(stamp, shape):
    out = np.zeros(shape, bool)
    if stamp is not None:
        (x0, y0, x1, y1), patch = stamp
        out[y0:y1, x0:x1] = patch
    return out


def two_tone(h=40, w=60, box=(20, 10, 45, 30), noise=0, seed=0):
    rgb = np.full((h, w, 3), (30, 40, 50), np.uint8)
    x0, y0, x1, y1 = box
    rgb[y0:y1, x0:x1] = (220, 60, 40)
    if noise:
        rng = np.random.default_rng(seed)
        rgb = np.clip(rgb.astype(int) + rng.integers(-noise, noise + 1, rgb.shape), 0, 255).astype(np.uint8)
    truth = np.zeros((h, w), bool)
    truth[y0:y1, x0:x1] = True
    return rgb, truth


# -- region relabel ---------------------------------------------------------------------------
def test_region_is_the_connected_region_under_the_click():
    labels = np.zeros((6, 8), np.uint8)
    labels[1:3, 1:4] = 2
    labels[4, 6] = 2                       # same class, not connected
    st = region.region_stamp(labels, 2.5, 1.2)
    expected = np.zeros((6, 8), bool)
    expected[1:3, 1:4] = True
    assert np.array_equal(full(st, labels.shape), expected)
    assert region.region_stamp(labels, -1, 0) is None


def test_region_snaps_to_superpixels():
    labels = np.zeros((4, 8), np.uint8)
    labels[:, :3] = 1                      # region: columns 0-2
    sp_ids = np.repeat(np.array([[0, 0, 1, 1, 2, 2, 3, 3]]), 4, axis=0)
    sp = superpixel.from_labels(sp_ids)
    st = region.region_stamp(labels, 0, 0, superpixels=sp, snap=0.5)   # superpixel 1 is half inside: kept
    assert np.array_equal(full(st, labels.shape), sp_ids <= 1)
    st = region.region_stamp(labels, 0, 0, superpixels=sp, snap=0.75)  # now only superpixel 0
    assert np.array_equal(full(st, labels.shape), sp_ids == 0)


# -- superpixels ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", superpixel.METHODS)
def test_superpixels_cover_the_image_and_follow_a_strong_edge(method):
    rgb, truth = two_tone(48, 64, (24, 0, 64, 48))
    sp = superpixel.compute(rgb, method, 12)
    assert sp.labels.shape == (48, 64) and sp.sizes.sum() == 48 * 64
    # superpixels follow the colour edge: exactly for SLIC / MSLIC / LSC; SLICO and SEEDS (which
    # adapt compactness / work on colour histograms) let at most 15 % of one cross it here
    for i in np.flatnonzero(sp.sizes):
        side = truth[sp.labels == i]
        minority = min(side.mean(), 1 - side.mean())
        assert minority == 0 if method in ("slic", "mslic", "lsc") else minority <= 0.15, (method, i)
    b = sp.boxes[sp.labels[5, 30]]
    ys, xs = np.nonzero(sp.labels == sp.labels[5, 30])
    assert tuple(b) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_superpixel_brush_fills_every_touched_superpixel():
    ids = np.repeat(np.arange(4).repeat(5)[None], 6, axis=0)   # four 5-px-wide vertical bands
    sp = superpixel.from_labels(ids)
    st = superpixel.brush_stamp(sp, (6.5, 2.5), (11.5, 2.5), 1)  # touches bands 1 and 2
    assert np.array_equal(full(st, ids.shape), (ids == 1) | (ids == 2))


def test_superpixel_cache_computes_once_and_evicts():
    rgb, _ = two_tone()
    cache = superpixel.SuperpixelCache(capacity=1)
    a = cache.get("a", rgb, "slico", 10)
    assert cache.get("a", rgb, "slico", 10) is a
    cache.get("b", rgb, "slico", 10)
    assert cache.peek("a", "slico", 10) is None


def test_unknown_superpixel_method_is_a_clear_error():
    with pytest.raises(superpixel.SuperpixelError, match="unknown superpixel method"):
        superpixel.compute(two_tone()[0], "quickshift")


# -- magic wand -------------------------------------------------------------------------------
def test_wand_fills_pixels_within_tolerance_of_the_seed():
    rgb = np.zeros((5, 6, 3), np.uint8)
    rgb[:, :3] = 100
    rgb[:, 3] = 110                         # within 10 of the seed
    rgb[:, 4:] = 150
    st = wand.wand_stamp(rgb, 0, 0, tolerance=10)
    expected = np.zeros((5, 6), bool)
    expected[:, :4] = True
    assert np.array_equal(full(st, (5, 6)), expected)
    assert np.array_equal(full(wand.wand_stamp(rgb, 0, 0, tolerance=9), (5, 6)), expected & (rgb[..., 0] == 100))
    assert full(wand.wand_stamp(rgb, 0, 0, tolerance=60), (5, 6)).all()


def test_wand_within_a_box_and_readonly_images():
    rgb = np.zeros((5, 6, 3), np.uint8)
    rgb.flags.writeable = False
    st = wand.wand_stamp(rgb, 2, 2, 0, within=(1, 1, 4, 3))
    assert st[0] == (1, 1, 4, 3) and st[1].all()


# -- GrabCut ----------------------------------------------------------------------------------
def test_grabcut_box_finds_the_object():
    rgb, truth = two_tone(noise=8)
    st = grabcut.grabcut_stamp(rgb, (15, 5, 50, 35))
    got = full(st, truth.shape)
    assert np.array_equal(got, truth)


def test_grabcut_downscales_big_boxes_and_keeps_hints():
    rgb, truth = two_tone(120, 160, (40, 30, 120, 90), noise=6)
    bg_hint = ((60, 50, 70, 60), np.ones((10, 10), bool))       # inside the object: forced background
    st = grabcut.grabcut_stamp(rgb, (30, 20, 130, 100), hints=[(bg_hint, False)], max_side=60)
    got = full(st, truth.shape)
    assert not got[50:60, 60:70].any()
    expected = truth.copy()
    expected[50:60, 60:70] = False
    import cv2                                       # cut at half size: edges exact to 2 px
    k = np.ones((5, 5), np.uint8)
    assert not (cv2.erode(expected.view(np.uint8), k).view(bool) & ~got).any()
    assert not (got & ~cv2.dilate(expected.view(np.uint8), k).view(bool)).any()
    assert grabcut.grabcut_stamp(rgb, (5, 5, 6, 6)) is None   # a box too small to cut


# -- scribble + CRF ---------------------------------------------------------------------------
def test_scribble_crf_follows_the_colour_edge_and_is_windowed():
    rgb, truth = two_tone(60, 80, (30, 15, 60, 45), noise=4)
    labels = np.zeros((60, 80), np.uint8)                  # the model says "class 0" everywhere
    probs = scribble_crf.probs_from_labels(labels, 3, confidence=0.5)
    stroke = paint.stroke_stamp((36, 30), (54, 30), 3, labels.shape)
    params = CRFParams(bilateral_sxy=30, bilateral_srgb=10, bilateral_compat=10, iterations=10)
    st = scribble_crf.scribble_crf_stamp(rgb, probs, stroke, 2, params, mask=labels)
    got = full(st, truth.shape)
    assert np.array_equal(got, truth)
    win = scribble_crf.scribble_window((0, 0, 10, 10), (1000, 1000), max_pixels=400)
    assert (win[2] - win[0]) * (win[3] - win[1]) <= 400 or win == (0, 0, 18, 18)
    assert scribble_crf.scribble_crf_stamp(rgb, probs, stroke, 7, params) is None   # class the model lacks


def test_probs_from_labels_soft_one_hot_and_void_uniform():
    p = scribble_crf.probs_from_labels(np.array([[0, 1, 9]], np.uint8), 2, confidence=0.8)
    assert np.allclose(p[:, 0, 0], [0.8, 0.2]) and np.allclose(p[:, 0, 1], [0.2, 0.8])
    assert np.allclose(p[:, 0, 2], [0.5, 0.5])


# -- through the shared paint function, one undo step -----------------------------------------
def test_proposal_respects_protected_classes_and_undo_restores_exactly():
    mask = np.zeros((10, 10), np.uint8)
    mask[:, 5:] = 3
    before = mask.copy()
    stamp = ((2, 2, 8, 8), np.ones((6, 6), bool))
    rec = PatchRecorder(mask, "Region")
    rec.touch(stamp[0])
    prot = paint.protect_table(mask.dtype, locked=[3]) if hasattr(paint, "protect_table") else None
    if prot is not None:
        edit = paint.apply_stamp(mask, stamp[0], stamp[1], 1, protected=prot)
        assert (mask[2:8, 2:5] == 1).all() and (mask[:, 5:] == 3).all() and edit.count == 18
    else:
        apply_proposal(mask, stamp, 1)
    step = rec.finish()
    step.undo(mask)
    assert np.array_equal(mask, before)
    step.redo(mask)
    step.undo(mask)
    assert np.array_equal(mask, before)
    edit = apply_proposal(mask, stamp, 1, preserve_void=0)
    assert edit.count == 18 and (mask[2:8, 5:8] == 3).all()
