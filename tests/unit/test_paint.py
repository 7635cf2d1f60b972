"""core.paint: brush/eraser strokes, fills, replace-in-region, picking, remapping (no Qt)."""

import numpy as np

from segstudio.core import paint

VOID = 11


def blank(h=40, w=50, value=VOID):
    return np.full((h, w), value, np.uint8)


def test_single_pixel_brush_sets_exactly_one_pixel():
    m = blank()
    e = paint.paint_stroke(m, (10.5, 7.5), (10.5, 7.5), 1, 3)
    assert e.count == 1 and m[7, 10] == 3 and np.count_nonzero(m == 3) == 1


def test_disc_diameter_matches_brush_size():
    m = blank()
    paint.paint_stroke(m, (25.0, 20.0), (25.0, 20.0), 10, 2)
    ys, xs = np.nonzero(m == 2)
    assert xs.max() - xs.min() + 1 in (9, 10, 11)
    assert ys.max() - ys.min() + 1 in (9, 10, 11)


def test_stroke_interpolates_between_points_without_gaps():
    m = blank()
    paint.paint_stroke(m, (5.5, 20.5), (45.5, 20.5), 3, 1)
    assert (m[20, 5:46] == 1).all()          # continuous line, not dots
    assert (m[19, 6:45] == 1).all() and (m[21, 6:45] == 1).all()
    assert (m[17, :] == VOID).all()


def test_edit_bbox_and_changed_patch_cover_exactly_the_written_pixels():
    m = blank()
    before = m.copy()
    e = paint.paint_stroke(m, (10, 10), (30, 25), 5, 4)
    x0, y0, x1, y1 = e.bbox
    diff = before != m
    assert diff[:, :x0].sum() == diff[:, x1:].sum() == diff[:y0].sum() == diff[y1:].sum() == 0
    assert np.array_equal(diff[y0:y1, x0:x1], e.changed)


def test_stroke_outside_mask_and_clipped_at_edges():
    m = blank()
    assert paint.paint_stroke(m, (-100, -100), (-90, -90), 5, 1) is None
    e = paint.paint_stroke(m, (-3, -3), (3, 3), 6, 1)
    assert e is not None and m[0, 0] == 1


def test_brush_size_clamped():
    assert paint.clamp_brush(0) == 1 and paint.clamp_brush(5000) == 1000


def test_eraser_writes_void_and_preserve_mode_only_paints_void():
    m = blank()
    m[:, :25] = 0
    paint.paint_stroke(m, (10, 10), (40, 10), 5, 2, preserve_void=VOID)
    assert (m[10, 5:25] == 0).all() and (m[10, 26:40] == 2).all()
    paint.paint_stroke(m, (0, 10), (49, 10), 5, VOID)  # eraser
    assert (m[10] == VOID).all()


def test_flood_fill_contiguous_region_only():
    m = blank()
    m[5:15, 5:15] = 1
    m[5:15, 30:40] = 1          # same class, not connected
    e = paint.flood_fill(m, 7.2, 8.9, 4)
    assert e.count == 100 and (m[5:15, 5:15] == 4).all() and (m[5:15, 30:40] == 1).all()
    assert paint.flood_fill(m, 7, 8, 4) is None            # already that class
    assert paint.flood_fill(m, 32, 8, 2, preserve_void=VOID) is None   # preserve: class region untouched
    assert paint.flood_fill(m, 0, 0, 2, preserve_void=VOID).count == 40 * 50 - 200


def test_flood_fill_uint16():
    m = np.full((10, 10), 300, np.uint16)
    m[:, 5] = 7
    paint.flood_fill(m, 1, 1, 9)
    assert (m[:, :5] == 9).all() and (m[:, 6:] == 300).all()


def test_polygon_fill_triangle():
    m = blank()
    e = paint.fill_polygon(m, [(10, 10), (40, 10), (10, 35)], 5)
    assert m[12, 12] == 5 and m[33, 38] == VOID and e.count > 300
    assert paint.fill_polygon(m, [(1, 1), (2, 2)], 5) is None


def test_replace_in_rect_only_touches_that_class_inside_rect():
    m = blank()
    m[:, :20] = 3
    rect = paint.rect_from_points((30, 30), (10, 5), m.shape)
    assert rect == (10, 5, 31, 31)
    e = paint.replace_in_rect(m, rect, 3, 6)
    assert (m[5:31, 10:20] == 6).all() and (m[:5, :20] == 3).all() and (m[5:31, 20:31] == VOID).all()
    assert e.count == 26 * 10


def test_pick_and_histogram_and_remap():
    m = blank()
    m[0, 0] = 2
    assert paint.pick(m, 0.9, 0.1) == 2 and paint.pick(m, 1, 0) == VOID and paint.pick(m, -1, 0) is None
    h = paint.histogram(m, 12)
    assert h[2] == 1 and h[VOID] == 40 * 50 - 1
    lut = np.arange(256, dtype=np.uint8)
    lut[2] = 1
    assert paint.remap(m, lut)[0, 0] == 1
    assert paint.remap(m.astype(np.uint16), lut.astype(np.uint16))[0, 0] == 1


def test_changed_bbox():
    a = blank()
    b = a.copy()
    assert paint.changed_bbox(a, b) is None
    b[3, 7] = 1
    b[9, 2] = 1
    assert paint.changed_bbox(a, b) == (2, 3, 8, 10)


def test_edit_records_old_values_for_incremental_counts():
    m = blank()
    m[:, :10] = 0
    e = paint.paint_stroke(m, (5, 5), (15, 5), 5, 2)
    old_counts = np.bincount(e.old, minlength=12)
    assert old_counts[0] > 0 and old_counts[VOID] > 0 and old_counts.sum() == e.count
    e = paint.replace_in_rect(m, (0, 0, 50, 40), 0, 3)
    assert (e.old == 0).all() and e.value == 3


def test_sparse_mask_accumulates_across_tiles():
    sm = paint.SparseMask((600, 700))
    patch = np.ones((100, 400), bool)
    sm.add((200, 200, 600, 300), patch)
    sm.add((0, 0, 2, 2), np.array([[True, False], [False, False]]))
    arr = sm.to_array()
    assert arr.shape == (600, 700) and arr[250, 590] and arr[0, 0] and not arr[0, 1]
    assert sm.count() == 40001 and not arr[199, 200]


def test_histogram_large_arrays_exact():
    m = np.full((1100, 1000), 3, np.uint8)
    m[:7] = 250
    h = paint.histogram(m, 12)
    assert h[3] == 1093 * 1000 and h.sum() == 1093 * 1000 and h.dtype == np.int64
    m16 = m.astype(np.uint16) * 200
    assert paint.histogram(m16, 60001)[600] == 1093 * 1000
