"""Dense CRF (pydensecrf engine): accuracy gain, painted pixels, tiling, parameter plumbing, errors."""

from __future__ import annotations

import builtins
import sys

import cv2
import numpy as np
import pytest

from segstudio.core import crf as crf_mod
from segstudio.core.crf import CRFError, CRFParams, CRFUnavailable, dense_crf, refine_labels, unary_energy
from segstudio.core.crf_tiling import plan_tiles
from segstudio.core.errors import SegStudioError


def noisy_scene(h: int = 64, w: int = 64, c: int = 4, seed: int = 0, noise: float = 1.0,
                blur: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image H×W×3 uint8, probs C×H×W float32, truth H×W) — a synthetic noisy-unary scene.

    Truth: a few rectangles per class; each class has its own colour (plus pixel noise);
    probs: blurred one-hot truth with Gaussian noise on the log scale.
    """
    rng = np.random.default_rng(seed)
    truth = np.zeros((h, w), np.int64)
    for k in range(1, c):
        for _ in range(2):
            y0, x0 = rng.integers(0, h - 4), rng.integers(0, w - 4)
            truth[y0:y0 + rng.integers(4, max(5, h // 2)), x0:x0 + rng.integers(4, max(5, w // 2))] = k
    levels = rng.permutation(np.linspace(30, 225, c)).astype(np.int64)
    colours = np.stack([levels, np.roll(levels, 1), np.roll(levels, 2)], 1)
    image = np.clip(colours[truth] + rng.normal(0, 4, (h, w, 3)), 0, 255).astype(np.uint8)
    onehot = (truth[None] == np.arange(c)[:, None, None]).astype(np.float32)
    soft = np.stack([cv2.GaussianBlur(p, (0, 0), blur) for p in onehot])
    logits = np.log(soft + 0.05) + rng.normal(0, noise, soft.shape).astype(np.float32)
    probs = np.exp(logits - logits.max(0))
    probs /= probs.sum(0)
    return image, probs.astype(np.float32), truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crf_raises_accuracy_on_noisy_unaries(seed):
    image, probs, truth = noisy_scene(seed=seed)
    before = (probs.argmax(0) == truth).mean()
    out = dense_crf(image, probs)
    after = (out.argmax(0) == truth).mean()
    assert before < 0.95
    assert after > before + 0.03
    assert out.dtype == np.float32 and out.shape == probs.shape
    np.testing.assert_allclose(out.sum(0), 1.0, atol=1e-5)
    assert np.array_equal(refine_labels(image, probs), out.argmax(0))


def test_inputs_are_not_modified_and_float64_accepted():
    image, probs, _ = noisy_scene(32, 40, 3, seed=4)
    img0, p0 = image.copy(), probs.copy()
    image.flags.writeable = False  # as np.asarray(PIL image) gives
    a = dense_crf(image, probs)
    b = dense_crf(image, probs.astype(np.float64))
    assert np.array_equal(image, img0) and np.array_equal(probs, p0)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_fixed_pixels_never_change_and_pull_neighbours():
    image, probs, truth = noisy_scene(seed=3)
    h, w = truth.shape
    fixed = np.full((h, w), -1, np.int32)
    # paint a stroke that contradicts both truth and unary: class 1 over a 6×30 block
    fixed[20:26, 10:40] = 1
    fixed[50, 50] = 3
    fixed[0, 0] = 255  # void value: free
    out = dense_crf(image, probs, CRFParams(), fixed=fixed)
    painted = (fixed >= 0) & (fixed < 4)
    assert np.all(out[:, painted].argmax(0) == fixed[painted])
    assert np.all(out[1, 20:26, 10:40] == 1.0) and np.all(out[[0, 2, 3], 20:26, 10:40] == 0.0)
    np.testing.assert_allclose(out.sum(0), 1.0, atol=1e-5)
    # the painted class gains probability just outside the stroke compared with no painting
    free = dense_crf(image, probs)
    ring = np.zeros((h, w), bool)
    ring[18:28, 8:42] = True
    ring &= ~painted
    assert out[1][ring].mean() > free[1][ring].mean()


def test_fixed_pixels_survive_tiling():
    image, probs, _ = noisy_scene(64, 64, 3, seed=5)
    fixed = np.full((64, 64), 255, np.uint8)
    fixed[30:34, :] = 2  # crosses every tile seam
    out = dense_crf(image, probs, CRFParams(max_pixels=1200, tile_overlap=8), fixed=fixed)
    assert np.all(out[2, 30:34] == 1.0)


def test_tiled_matches_whole_image():
    image, probs, truth = noisy_scene(64, 64, 4, seed=6)
    whole = dense_crf(image, probs, CRFParams(bilateral_sxy=10))
    calls = []
    tiled = dense_crf(image, probs, CRFParams(bilateral_sxy=10, max_pixels=40 * 40, tile_overlap=16),
                      progress=lambda d, t, m: calls.append((d, t, m)))
    total = calls[0][1]
    assert total >= 4 and calls[-1][:2] == (total, total)
    assert [c[0] for c in calls] == list(range(total + 1))
    np.testing.assert_allclose(tiled.sum(0), 1.0, atol=1e-5)
    agree = (tiled.argmax(0) == whole.argmax(0)).mean()
    assert agree > 0.98
    assert np.abs(tiled - whole).mean() < 0.02
    assert (tiled.argmax(0) == truth).mean() > (probs.argmax(0) == truth).mean()


def test_whole_image_reports_progress_once():
    image, probs, _ = noisy_scene(16, 16, 2)
    calls = []
    dense_crf(image, probs, progress=lambda d, t, m: calls.append((d, t)))
    assert calls == [(0, 1), (1, 1)]


@pytest.mark.parametrize("h,w,budget,overlap", [(64, 64, 1600, 16), (100, 30, 1024, 4), (2048, 2048, 10**6, 64),
                                                (37, 1000, 4096, 8), (50, 50, 2500, 0)])
def test_tile_plan_covers_image_within_budget(h, w, budget, overlap):
    tiles = plan_tiles(h, w, budget, overlap)
    cover = np.zeros((h, w), np.int32)
    for t in tiles:
        assert (t.y1 - t.y0) * (t.x1 - t.x0) <= budget
        assert 0 <= t.y0 < t.y1 <= h and 0 <= t.x0 < t.x1 <= w
        cover[t.slices] += 1
    assert cover.min() >= 1
    if len(tiles) > 1:  # neighbours share at least the overlap
        ys = sorted({(t.y0, t.y1) for t in tiles})
        xs = sorted({(t.x0, t.x1) for t in tiles})
        for spans in (ys, xs):
            for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
                assert a1 - b0 >= overlap


class _SpyCRF:
    """Stands in for pydensecrf.densecrf.DenseCRF2D and records every call."""

    log: list = []

    def __init__(self, w, h, c):
        self.shape = (c, h, w)
        _SpyCRF.log.append(("init", w, h, c))

    def setUnaryEnergy(self, u):
        _SpyCRF.log.append(("unary", u.dtype, u.shape, u.flags.c_contiguous))

    def addPairwiseGaussian(self, **kw):
        _SpyCRF.log.append(("gaussian", kw))

    def addPairwiseBilateral(self, **kw):
        _SpyCRF.log.append(("bilateral", {k: v for k, v in kw.items() if k != "rgbim"},
                            kw["rgbim"].dtype, kw["rgbim"].shape, kw["rgbim"].flags.c_contiguous))

    def inference(self, n):
        _SpyCRF.log.append(("inference", n))
        c, h, w = self.shape
        return np.full((c, h * w), 1.0 / c, np.float32)


def test_parameters_reach_pydensecrf_unchanged(monkeypatch):
    class FakeModule:
        DenseCRF2D = _SpyCRF

    monkeypatch.setattr(crf_mod, "_dcrf", FakeModule)
    _SpyCRF.log = []
    image, probs, _ = noisy_scene(24, 40, 3)
    p = CRFParams(iterations=7, gaussian_sxy=2.5, gaussian_compat=4.0, bilateral_sxy=55.0,
                  bilateral_srgb=9.5, bilateral_compat=6.0)
    dense_crf(image, probs, p)
    assert _SpyCRF.log == [
        ("init", 40, 24, 3),
        ("unary", np.float32, (3, 24 * 40), True),
        ("gaussian", {"sxy": 2.5, "compat": 4.0}),
        ("bilateral", {"sxy": 55.0, "srgb": 9.5, "compat": 6.0}, np.uint8, (24, 40, 3), True),
        ("inference", 7),
    ]
    _SpyCRF.log = []
    dense_crf(image, probs, CRFParams(gaussian_compat=0))  # a zero weight skips that kernel
    assert [e[0] for e in _SpyCRF.log] == ["init", "unary", "bilateral", "inference"]


def test_unary_is_negative_log_probability_with_painted_override():
    probs = np.array([[[0.7, 0.0]], [[0.2, 0.5]], [[0.1, 0.5]]], np.float32)  # C=3, H=1, W=2
    fixed = np.array([[-1, 2]])
    u = unary_energy(probs, fixed, 0.9)
    np.testing.assert_allclose(u[:, 0], -np.log([0.7, 0.2, 0.1]), rtol=1e-6)
    np.testing.assert_allclose(u[:, 1], -np.log([0.05, 0.05, 0.9]), rtol=1e-6)
    assert np.isfinite(unary_energy(np.zeros((2, 2, 2), np.float32))).all()  # clipped, not -log(0)


def test_zero_iterations_returns_input_distribution():
    image, probs, _ = noisy_scene(16, 16, 3)
    out = dense_crf(image, probs, CRFParams(iterations=0))
    clipped = np.clip(probs, crf_mod.PROB_FLOOR, 1)
    np.testing.assert_allclose(out, clipped / clipped.sum(0), atol=1e-5)


def test_params_round_trip_and_validation():
    p = CRFParams(iterations=3, bilateral_srgb=5)
    assert CRFParams.from_dict(p.to_dict()) == p
    assert CRFParams.from_dict({"iterations": 8}).bilateral_sxy == 80.0
    assert isinstance(CRFParams.from_dict({"iterations": 8.0}).iterations, int)
    d = CRFParams()
    assert (d.iterations, d.gaussian_sxy, d.gaussian_compat, d.bilateral_sxy, d.bilateral_srgb,
            d.bilateral_compat) == (5, 3, 3, 80, 13, 10)
    with pytest.raises(CRFError, match="unknown CRF parameter.*bilateral_xy"):
        CRFParams.from_dict({"bilateral_xy": 3}, "p.json")
    with pytest.raises(CRFError, match="p.json: CRF parameter bilateral_srgb must be > 0"):
        CRFParams.from_dict({"bilateral_srgb": 0}, "p.json")
    for bad in ({"iterations": -1}, {"fixed_confidence": 1.0}, {"iterations": 2.5}, {"gaussian_sxy": "3"},
                {"max_pixels": 10}, {"gaussian_compat": float("nan")}):
        with pytest.raises(CRFError):
            CRFParams.from_dict(bad)
    assert issubclass(CRFError, SegStudioError)


def test_shape_and_type_errors_are_clear():
    image, probs, _ = noisy_scene(16, 16, 2)
    with pytest.raises(CRFError, match="image is 16×15 but probabilities are 16×16"):
        dense_crf(image[:, :15], probs)
    with pytest.raises(CRFError, match="C×H×W"):
        dense_crf(image, probs[0])
    with pytest.raises(CRFError, match="uint8"):
        dense_crf(image.astype(np.float32), probs)
    with pytest.raises(CRFError, match="fixed"):
        dense_crf(image, probs, fixed=np.zeros((3, 3), np.int32))
    bad = probs.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(CRFError, match="NaN"):
        dense_crf(image, bad)


def test_missing_pydensecrf_says_how_to_install(monkeypatch):
    monkeypatch.setattr(crf_mod, "_dcrf", None)
    monkeypatch.delitem(sys.modules, "pydensecrf.densecrf", raising=False)
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("pydensecrf"):
            raise ImportError("No module named 'pydensecrf'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    image, probs, _ = noisy_scene(16, 16, 2)
    with pytest.raises(CRFUnavailable, match="pip install pydensecrf2"):
        dense_crf(image, probs)


def test_single_class_and_grey_image():
    grey = np.full((8, 9), 100, np.uint8)
    out = dense_crf(grey, np.ones((1, 8, 9), np.float32))
    assert out.shape == (1, 8, 9) and np.all(out == 1)
    image, probs, _ = noisy_scene(16, 16, 2)
    rgba = np.concatenate([image, np.full((16, 16, 1), 255, np.uint8)], 2)
    np.testing.assert_array_equal(dense_crf(rgba, probs), dense_crf(image, probs))
