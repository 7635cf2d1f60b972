"""Edge snap (core.tools.edge_snap): exact arrays on small synthetic scenes."""

import numpy as np

from segstudio.core.tools import edge_snap, learn_brush


def two_tone(h=20, w=40, edge=24):
    """Dark left of column ``edge``, bright from it on; every pixel labelled 0 so far."""
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:, :edge] = (60, 60, 60)
    rgb[:, edge:] = (200, 190, 180)
    return rgb, np.zeros((h, w), np.uint8)


def cols(h, w, x0, x1, y0=0, y1=None):
    out = np.zeros((h, w), bool)
    out[y0:y1, x0:x1] = True
    return out


def test_an_outline_short_of_the_edge_moves_onto_it():
    rgb, labels = two_tone()
    stroke = cols(20, 40, 4, 10, 6, 14)
    proposal = cols(20, 40, 2, 21, 3, 17)          # stops 3 px before the edge at column 24
    out = edge_snap.snap(rgb, labels, proposal, stroke, value=1, band=4, blur=0)
    # the band reaches column 24 on the right: the outline flows up to the edge (the one-pixel
    # line where the two floods meet, column 23, stays outside) and never crosses it
    assert out[3:17, 2:23].all()
    assert not out[:, 24:].any()
    assert out[stroke].all()


def test_an_outline_past_the_edge_is_pulled_back():
    rgb, labels = two_tone()
    stroke = cols(20, 40, 4, 10, 6, 14)
    proposal = cols(20, 40, 2, 27, 0, 20)          # leaks 3 px into the bright part
    out = edge_snap.snap(rgb, labels, proposal, stroke, value=1, band=4, blur=0)
    assert out[:, 2:23].all()                      # the image's border rows too
    assert not out[:, 24:].any()                   # never past the edge


def test_band_zero_keeps_the_proposal_and_pixels_of_the_class_are_not_proposed():
    rgb, labels = two_tone()
    labels[:, 30:] = 1
    stroke = cols(20, 40, 4, 10, 6, 14)
    proposal = cols(20, 40, 2, 35)
    out = edge_snap.snap(rgb, labels, proposal, stroke, value=1, band=0)
    assert np.array_equal(out, proposal & (labels != 1))


def test_painted_pixels_in_the_band_are_never_taken_but_the_stroke_always_is():
    rgb, labels = two_tone()
    fixed = cols(20, 40, 20, 24)
    labels[fixed] = 2
    stroke = cols(20, 40, 4, 10, 6, 14) | cols(20, 40, 21, 22, 9, 11)   # the user repaints two pixels
    proposal = cols(20, 40, 2, 21, 3, 17) | stroke
    out = edge_snap.snap(rgb, labels, proposal, stroke, value=1, fixed=fixed, band=4, blur=0)
    assert not out[fixed & ~stroke].any()
    assert out[stroke].all()


def test_a_proposal_on_the_image_border_keeps_its_border_pixels():
    rgb, labels = two_tone()
    stroke = cols(20, 40, 0, 6, 0, 20)              # along the left image border
    proposal = cols(20, 40, 0, 18, 0, 20)
    out = edge_snap.snap(rgb, labels, proposal, stroke, value=1, band=3, blur=1.0)
    assert out[:, :18].all()                       # core and border rows kept; band towards the edge
    assert not out[:, 23:].any()


def test_only_what_is_connected_to_the_stroke_is_returned():
    rgb, labels = two_tone()
    stroke = cols(20, 40, 4, 8, 8, 12)
    proposal = stroke | cols(20, 40, 30, 36, 8, 12)   # an island on the other side of the edge
    out = edge_snap.snap(rgb, labels, proposal, stroke, value=1, band=2, blur=0)
    assert not out[:, 24:].any()
    assert out[stroke].all()


def test_in_a_flat_area_the_floods_meet_inside_the_band():
    """No edge to find: a proposal as thin as its stroke grows by about half the band (the floods
    meet halfway), a thick one's outline stays within a pixel or two of where it was."""
    rgb = np.full((40, 40, 3), 90, np.uint8)
    labels = np.zeros((40, 40), np.uint8)
    stroke = cols(40, 40, 18, 21, 18, 21)
    out = edge_snap.snap(rgb, labels, stroke, stroke, value=1, band=4, blur=1.0)
    yy, xx = np.mgrid[:40, :40]
    dist = np.maximum(np.maximum(18 - xx, xx - 20), np.maximum(18 - yy, yy - 20))   # Chebyshev to the stroke
    assert out[dist <= 1].all() and not out[dist > 3].any()
    thick = cols(40, 40, 10, 30, 10, 30)
    out = edge_snap.snap(rgb, labels, thick, stroke, value=1, band=4, blur=1.0)
    assert out[13:27, 13:27].all() and not out[:9].any() and not out[32:].any()   # corners round off
    assert not out[:, :9].any() and not out[:, 32:].any()


def test_the_learning_brush_passes_its_proposal_through_the_snap():
    from test_tools_learn_brush import C, full, scene, square

    rgb, p, labels = scene()
    p[1, :, 15:], p[0, :, 15:] = 0.01, 0.94       # nothing to learn beyond the stroke
    stroke = square(20, 8, 23, 11)
    raw = learn_brush.learning_brush_stamp(rgb, p, labels, stroke, 1, C, user_share=0.01, snap_band=0)
    snapped = learn_brush.learning_brush_stamp(rgb, p, labels, stroke, 1, C, user_share=0.01)
    x0, y0, x1, y1 = learn_brush.window(stroke[0], labels.shape)
    win = np.s_[y0:y1, x0:x1]
    want = np.zeros(labels.shape, bool)
    want[win] = edge_snap.snap(rgb[win], labels[win], full(raw, labels.shape)[win],
                               full(stroke, labels.shape)[win], 1)
    assert np.array_equal(full(snapped, labels.shape), want)
    assert not np.array_equal(want, full(raw, labels.shape))   # the snap did something here
    assert not want[:, :15].any()                              # and stayed off the dark part
