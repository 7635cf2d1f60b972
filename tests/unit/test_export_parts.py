"""Export building blocks: the COCO RLE encoder against pycocotools, splits, polygons."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from segstudio.core.export import rle
from segstudio.core.export.common import ExportError
from segstudio.core.export.polygons import PolygonStats, bridge, mask_polygons, rasterise
from segstudio.core.export.split import assign_splits, parse_split, split_counts

M = pytest.importorskip("pycocotools.mask")
# pycocotools (numpy 2) warns about its own __array__ use on decode; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _ref(binary):
    return M.encode(np.asfortranarray(binary.astype(np.uint8)))


@pytest.mark.parametrize("binary", [
    np.zeros((3, 4), bool), np.ones((3, 4), bool), np.eye(5, dtype=bool), np.ones((1, 1), bool),
    np.pad(np.ones((2, 2), bool), 1), np.tile([True, False], (7, 3)),
])
def test_rle_edge_cases_match_pycocotools(binary):
    ref = _ref(binary)
    mine = rle.encode(binary)
    assert mine["counts"] == ref["counts"].decode() and mine["size"] == list(ref["size"])
    assert np.array_equal(M.decode(mine).astype(bool), binary)


def test_rle_long_runs_and_large_deltas():
    binary = np.zeros((2000, 1500), bool)
    binary[:, 700:] = True
    binary[5, 3] = True
    binary[1999, 1499] = False
    assert rle.encode(binary)["counts"] == _ref(binary)["counts"].decode()


@settings(max_examples=60, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 20), st.integers(1, 20))))
def test_rle_property(binary):
    ref = _ref(binary)
    assert rle.encode(binary)["counts"] == ref["counts"].decode()
    if binary.any():
        assert rle.bbox(binary) == [float(v) for v in M.toBbox(ref)]


def test_parse_split():
    assert parse_split("train=0.8, val=0.2") == {"train": 0.8, "val": 0.2}
    assert parse_split({"a": 0.5, "b": 0.5}) == {"a": 0.5, "b": 0.5}
    assert parse_split(None) is None
    for bad, msg in [("train=0.8,val=0.3", "add up"), ("train", "NAME=FRACTION"), ("train=x,val=1", "number"),
                     ("train=0.5,train=0.5", "twice"), ("a b=1", "letters"), ("train=-0.5,val=1.5", ">= 0")]:
        with pytest.raises(ExportError, match=msg):
            parse_split(bad)


def test_split_counts_exact_and_assignment_seeded_and_stable():
    assert split_counts(10, {"train": 0.8, "val": 0.2}) == {"train": 8, "val": 2}
    assert split_counts(5, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}) == {"a": 2, "b": 2, "c": 1}
    keys = [f"k{i:03d}" for i in range(50)]
    a = assign_splits(keys, {"train": 0.8, "val": 0.2}, seed=1)
    assert len(a["train"]) == 40 and len(a["val"]) == 10
    assert a == assign_splits(keys, {"train": 0.8, "val": 0.2}, seed=1)
    assert a != assign_splits(keys, {"train": 0.8, "val": 0.2}, seed=2)
    assert a["train"] == sorted(a["train"])                      # project order kept within a split
    grown = assign_splits(keys + ["k050"], {"train": 0.8, "val": 0.2}, seed=1)
    moved = set(a["val"]) ^ (set(grown["val"]) - {"k050"})
    assert len(moved) <= 2                                        # adding an image barely moves others
    assert assign_splits(keys, None) == {"train": keys}


def test_polygons_ring_and_island():
    binary = np.zeros((30, 30), bool)
    binary[2:28, 2:28] = True
    binary[8:22, 8:22] = False
    binary[12:18, 12:18] = True             # island inside the hole: its own polygon
    stats = PolygonStats()
    polys = mask_polygons(binary, stats)
    assert stats.polygons == 2 and stats.holes == 1 and stats.dropped == 0
    assert np.array_equal(rasterise(polys, binary.shape), binary)


def test_bridge_without_holes_is_identity():
    ring = np.array([[0, 0], [5, 0], [5, 5], [0, 5]])
    assert bridge(ring, []) is ring
