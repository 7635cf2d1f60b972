"""Core pieces of the labelling loop's "expected next": protected (locked) classes in every tool,
the view-only brightness/contrast/gamma table, and cached thumbnails."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from segstudio.core import paint, thumbs
from segstudio.core.view_adjust import ViewAdjust, adjust_lut, apply_lut

VOID = 11


def test_locked_class_is_never_painted_over_by_any_tool():
    mask = np.full((20, 20), VOID, np.uint8)
    mask[:, :10] = 3                                         # left half: class 3 (locked)
    prot = paint.protect_table(mask.dtype, locked=[3], void_value=VOID)
    st = paint.stroke_stamp((0, 10), (20, 10), 6, mask.shape)
    edit = paint.apply_stamp(mask, *st, 5, protected=prot)
    assert (mask[:, :10] == 3).all() and edit.count > 0 and (mask[8:12, 12:18] == 5).all()
    eraser = paint.apply_stamp(mask, (0, 0, 20, 20), np.ones((20, 20), bool), VOID, protected=prot)
    assert (mask[:, :10] == 3).all() and eraser.count > 0 and (mask[:, 10:] == VOID).all()
    assert paint.replace_in_rect(mask, (0, 0, 20, 20), 3, 1, prot) is None
    assert paint.is_protected(prot, 3) and not paint.is_protected(prot, 5)


def test_preserve_labels_is_the_protect_everything_but_void_case():
    mask = np.full((4, 4), VOID, np.uint8)
    mask[0] = 2
    prot = paint.protect_table(mask.dtype, void_value=VOID, preserve=True)
    paint.apply_stamp(mask, (0, 0, 4, 4), np.ones((4, 4), bool), 7, protected=prot)
    assert (mask[0] == 2).all() and (mask[1:] == 7).all()
    assert paint.protect_table(np.uint8) is None
    assert paint.protect_table(np.uint16, locked=[300]).shape == (65536,)


def test_view_adjust_lut():
    assert np.array_equal(adjust_lut(), np.arange(256, dtype=np.uint8))
    assert ViewAdjust().identity and not ViewAdjust(gamma=2).identity
    bright = adjust_lut(brightness=0.2)
    assert bright[0] == 51 and bright[255] == 255
    flat = adjust_lut(contrast=0.0)
    assert (flat == 128).all()
    g = adjust_lut(gamma=2.0)
    assert g[64] == round(((64 / 255) ** 0.5) * 255) and g[0] == 0 and g[255] == 255
    with pytest.raises(ValueError):
        adjust_lut(gamma=0)
    rgb = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    before = rgb.copy()
    out = apply_lut(rgb, bright)
    assert np.array_equal(rgb, before) and out is not rgb     # the data is never changed
    assert np.array_equal(out, bright[rgb])


def test_thumbnail_made_cached_and_remade_when_the_image_changes(tmp_path):
    img = tmp_path / "a.png"
    Image.fromarray(np.full((100, 200, 3), 40, np.uint8)).save(img)
    store = tmp_path / "segstudio"
    t = thumbs.thumbnail(store, "a", img, 64)
    assert t.shape == (32, 64, 3) and (t == 40).all()
    cached = thumbs.cache_path(store, "a", 64)
    assert cached.exists()
    Image.fromarray(np.full((10, 10, 3), 9, np.uint8)).save(cached)   # what the cache holds is used
    assert thumbs.thumbnail(store, "a", img, 64).shape == (10, 10, 3)
    Image.fromarray(np.full((100, 200, 3), 200, np.uint8)).save(img)
    st = cached.stat()
    os.utime(img, (st.st_atime + 10, st.st_mtime + 10))               # image newer than its thumbnail
    assert (thumbs.thumbnail(store, "a", img, 64) == 200).all()
    small = thumbs.make_thumbnail(np.zeros((8, 8, 3), np.uint8), 64)
    assert small.shape == (8, 8, 3)                                   # never scaled up
