"""Overlay colour buffers: patch-wise refresh equals a full recolour (fill and outline modes)."""

import numpy as np

from segstudio.core.labels import preset
from segstudio.gui.canvas import layers


def test_render_region_matches_full_colorize():
    labels = preset("camvid")
    lut = layers.overlay_lut(labels, np.uint8)
    assert lut[11] == 0 and lut[0] >> 24 == 0xFF
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 12, (50, 70), dtype=np.uint8)
    for outline in (False, True):
        buf = layers.colorize(mask, lut, outline)
        mask[10:20, 30:45] = 3
        box = layers.render_region(mask, buf, (30, 10, 45, 20), lut, outline)
        assert np.array_equal(buf, layers.colorize(mask, lut, outline))
        assert box[0] <= 30 and box[2] >= 45


def test_boundaries():
    m = np.zeros((5, 5), np.uint8)
    m[1:4, 1:4] = 1
    b = layers.boundaries(m)
    assert not b[2, 2] and b[1, 1] and b[0, 1] and not b[0, 0]


def test_hidden_classes_are_not_drawn_in_the_prediction_layer():
    from segstudio.core.labels import preset
    from segstudio.gui.prediction.layers import hatched

    labels = preset("camvid")
    arr = np.zeros((16, 16), np.uint8)
    arr[:, 8:] = 3
    shown = hatched(arr, labels)
    hidden = hatched(arr, labels, hidden={3})
    assert (hidden[:, 8:] == 0).all()                       # class 3 transparent everywhere
    assert (hidden[:, :8] == shown[:, :8]).all() and shown[:, 8:].any()
