"""Tiling: batched tiles give the single-tile result, fitted tile sizes, progress within an image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segstudio.models import tiling
from segstudio.models.predictor import Predictor


def image(h: int, w: int, seed: int = 0) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (9, 9), 3)


@pytest.fixture()
def predictor():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 5, padding=2), torch.nn.ReLU(), torch.nn.Conv2d(8, 5, 3, padding=1))
    return Predictor(net.eval(), device="cpu", tile=0)


@pytest.mark.parametrize("batch", [2, 3, 7])
def test_batched_tiles_equal_one_at_a_time(predictor, batch):
    img = image(131, 197)
    ref, ref_p = tiling.predict_tiled(img, predictor.tile_probs, 5, 48, 12, want_probs=True)
    got, got_p = tiling.predict_tiled(img, None, 5, 48, 12, want_probs=True, batch_fn=predictor.tiles_probs,
                                      batch_size=batch)
    assert np.array_equal(ref, got)
    assert np.allclose(ref_p, got_p, atol=1e-6)
    assert np.allclose(got_p.sum(0), 1, atol=1e-5)


def test_progress_counts_every_tile_once(predictor):
    img = image(100, 160)
    seen: list[tuple[int, int]] = []
    tiling.predict_tiled(img, None, 5, 48, 12, batch_fn=predictor.tiles_probs, batch_size=2,
                         progress=lambda d, t: seen.append((d, t)))
    t = tiling.fit_tile(100, 48, 12), tiling.fit_tile(160, 48, 12)
    n = len(tiling.tile_starts(100, t[0], 12)) * len(tiling.tile_starts(160, t[1], 12))
    assert seen[-1] == (n, n) and all(tt == n for _, tt in seen)
    assert [d for d, _ in seen] == sorted({d for d, _ in seen})


@pytest.mark.parametrize("length", [100, 1000, 2049, 4096, 8192, 12000])
@pytest.mark.parametrize("max_tile,ov", [(2048, 128), (512, 64), (64, 16)])
def test_fit_tile_needs_no_more_tiles_and_keeps_overlaps(length, max_tile, ov):
    side = tiling.fit_tile(length, max_tile, ov)
    assert side <= max(max_tile, length) and side <= length
    if length > max_tile:
        starts = tiling.tile_starts(length, side, tiling._overlap(ov, side))
        assert len(starts) == len(tiling.tile_starts(length, max_tile, tiling._overlap(ov, max_tile)))
        assert all(a + side - b >= tiling._overlap(ov, side) for a, b in zip(starts, starts[1:]))
        assert starts[-1] + side == length


def test_predictor_reports_progress_within_a_tiled_image(predictor):
    predictor.tile, predictor.tile_overlap = 64, 16
    seen: list[tuple[int, int]] = []
    predictor.on_progress = lambda d, t: seen.append((d, t))
    out = predictor.predict(image(200, 300), want_probs=False)
    assert out.labels.shape == (200, 300)
    assert len(seen) > 4 and seen[-1][0] == seen[-1][1]


def test_batch_reports_progress_within_a_large_image(predictor, tmp_path):
    """Issue 14, case 13: a large (tiled) image shows signs of life before it is done."""
    import cv2

    from segstudio.models.batch import TextProgress, run_batch

    predictor.tile, predictor.tile_overlap = 64, 16
    cv2.imwrite(str(tmp_path / "big.png"), image(200, 260))
    seen = []
    run_batch(predictor, [tmp_path / "big.png"], tmp_path / "out", progress=seen.append)
    within = [p.within for p in seen if p.within is not None]
    assert len(within) > 4 and within == sorted(within) and within[-1] == 1.0
    assert all(p.done == 0 for p in seen if p.within is not None and p.within < 1)
    assert predictor.on_progress is None
    import io

    stream = io.StringIO()
    TextProgress(stream, every=0)(next(p for p in seen if p.within is not None and 0 < p.within < 1))
    assert "current image" in stream.getvalue()


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_argmax_matches_numpy_with_ties(layout):
    rng = np.random.default_rng(0)
    acc = rng.integers(0, 4, (6, 17, 23)).astype(np.float32)     # many ties: the first maximum wins
    if layout == "channels_last":
        acc = np.ascontiguousarray(acc.transpose(1, 2, 0)).transpose(2, 0, 1)
    assert np.array_equal(tiling._argmax(acc, np.uint8), acc.argmax(0).astype(np.uint8))
