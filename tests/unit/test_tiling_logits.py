"""Tiling from logits: single-cover pixels take their tile's logits argmax exactly, overlaps blend as
the probability path does, progress fires per tile and a cancel stops within one tile."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segstudio.models import tiling
from segstudio.models.predictor import Predictor

H, W, TILE, OV = 150, 210, 64, 16


def image(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (9, 9), 3)


def predictor(classes: int = 5) -> Predictor:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 5, padding=2), torch.nn.ReLU(),
                              torch.nn.Conv2d(8, classes, 3, padding=1))
    return Predictor(net.eval(), device="cpu", tile=0)


def tiles(h: int = H, w: int = W, tile: int = TILE, ov: int = OV) -> tuple[list[tuple[int, int]], int, int]:
    grid = tiling._Grid(h, w, tile, ov)
    return [(y, x) for y in grid.ys for x in grid.xs], grid.th, grid.tw


def cover_count(h: int = H, w: int = W) -> np.ndarray:
    count = np.zeros((h, w), int)
    starts, th, tw = tiles(h, w)
    for y, x in starts:
        count[y:y + th, x:x + tw] += 1
    return count


def coarse(p: Predictor):
    """Logits rounded to halves: many exact ties between classes (the first maximum must win)."""
    return lambda batch: torch.round(p._runner.logits(batch) * 2) / 2


@pytest.mark.parametrize("ties", [False, True])
def test_single_cover_pixels_are_the_tiles_logits_argmax(ties):
    p, img = predictor(), image()
    fn = coarse(p) if ties else p._runner.logits
    labels, _ = tiling.predict_tiled(img, None, 5, TILE, OV, logits_fn=fn)
    count = cover_count()
    assert (count == 1).mean() > 0.3 and (count > 1).mean() > 0.3
    starts, th, tw = tiles()
    for y, x in starts:
        ref = np.argmax(fn(np.ascontiguousarray(img[y:y + th, x:x + tw])[None])[0].numpy(), 0)
        one = count[y:y + th, x:x + tw] == 1
        assert np.array_equal(labels[y:y + th, x:x + tw][one], ref[one].astype(np.uint8))


def test_logits_path_matches_the_probability_blend():
    p, img = predictor(), image()
    ref, ref_p = tiling.predict_tiled(img, None, 5, TILE, OV, want_probs=True, batch_fn=p.tiles_probs)
    got, got_p = tiling.predict_tiled(img, None, 5, TILE, OV, want_probs=True, logits_fn=p._runner.logits)
    assert np.allclose(got_p, ref_p, atol=1e-6) and np.allclose(got_p.sum(0), 1, atol=1e-5)
    top2 = np.sort(ref_p, 0)[-2:]
    clear = (top2[1] - top2[0] > 1e-5) | (cover_count() == 1)
    assert clear.mean() > 0.99 and np.array_equal(got[clear], ref[clear])
    labels_only, none = tiling.predict_tiled(img, None, 5, TILE, OV, logits_fn=p._runner.logits)
    assert none is None and np.array_equal(labels_only, got)


def test_class_planes_logits_give_the_same_labels():
    """Scores laid out C-contiguous (as onnxruntime returns them) take the running-maximum argmax."""
    p, img = predictor(), image()
    planes = lambda batch: p._runner.logits(batch).contiguous()   # noqa: E731
    a, _ = tiling.predict_tiled(img, None, 5, TILE, OV, logits_fn=p._runner.logits)
    b, _ = tiling.predict_tiled(img, None, 5, TILE, OV, logits_fn=planes)
    assert np.array_equal(a, b)


def test_many_classes_tile_to_uint16_labels():
    p, img = predictor(300), image(80, 100)
    got, _ = tiling.predict_tiled(img, None, 300, 48, 12, label_dtype=np.uint16, logits_fn=p._runner.logits)
    ref, _ = tiling.predict_tiled(img, None, 300, 48, 12, label_dtype=np.uint16, batch_fn=p.tiles_probs)
    assert got.dtype == np.uint16 and got.max() > 255 and (got == ref).mean() > 0.99


class Cancelled(Exception):
    pass


@pytest.mark.parametrize("batch", [1, 2])
def test_progress_per_tile_and_cancel_within_one_tile(batch):
    p, img = predictor(), image()
    ran, seen = [], []

    def fn(tiles_in):
        ran.append(len(tiles_in))
        return p._runner.logits(tiles_in)

    n = len(tiles()[0])
    tiling.predict_tiled(img, None, 5, TILE, OV, logits_fn=fn, batch_size=batch,
                         progress=lambda d, t: seen.append((d, t)))
    assert sum(ran) == n and seen[-1] == (n, n) and all(t == n for _, t in seen)
    assert [d for d, _ in seen] == sorted({d for d, _ in seen}) and seen[0][0] <= batch

    ran.clear()

    def cancel(done: int, total: int) -> None:
        if done >= 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        tiling.predict_tiled(img, None, 5, TILE, OV, logits_fn=fn, batch_size=batch, progress=cancel)
    assert 3 <= sum(ran) < 3 + batch          # stopped at the first progress report past the cancel


def test_predictor_tiles_from_logits_and_picks_the_cpu_tile():
    p, img = predictor(), image()
    p.tile, p.tile_overlap = TILE, OV
    out = p.predict(img, want_probs=False)
    ref, _ = tiling.predict_tiled(img, None, 5, TILE, OV, logits_fn=p._runner.logits)
    assert out.probs is None and np.array_equal(out.labels, ref)
    assert p.predict(image(40, 50)).labels.shape == (40, 50)     # the runner still works untiled after tiles
    p.tile = None
    assert p._tile_size(4096, 4096) == tiling.auto_tile("cpu") == tiling.CPU_TILE <= tiling.DEFAULT_TILE
    assert p._tile_size(360, 480) is None and tiling.auto_tile("cuda") == tiling.DEFAULT_TILE
