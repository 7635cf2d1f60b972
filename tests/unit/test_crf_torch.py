"""Torch dense CRF: agreement with pydensecrf, exact Gaussian, lattice internals, painted pixels, tiling."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from segstudio.core.crf import CRFParams, dense_crf  # noqa: E402
from segstudio.models.crf_torch import (Permutohedral, dense_crf_torch, gaussian_filter,  # noqa: E402
                                        refine_labels_torch)
from test_crf import noisy_scene  # noqa: E402

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny tensors: one thread avoids oversubscription slowdowns when the machine is busy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    return float((a.argmax(0) == b.argmax(0)).mean()), float(np.abs(a - b).mean())


@pytest.mark.parametrize("h,w,c,seed,noise", [(64, 64, 4, 0, 2.0), (80, 96, 6, 2, 2.5)])
def test_torch_agrees_with_pydensecrf(h, w, c, seed, noise):
    image, probs, truth = noisy_scene(h, w, c, seed=seed, noise=noise)
    image = cv2.GaussianBlur(image, (0, 0), 2)  # soft edges: outputs not saturated, differences show
    ref = dense_crf(image, probs)
    out = dense_crf_torch(image, probs, device=CPU)
    agree, mad = _agreement(ref, out)
    print(f"{h}×{w}, {c} classes: label agreement {agree * 100:.2f} %, mean |Δprob| {mad:.5f}")
    assert agree >= 0.95 and mad < 0.01
    np.testing.assert_allclose(out.sum(0), 1.0, atol=1e-5)
    assert (out.argmax(0) == truth).mean() > (probs.argmax(0) == truth).mean()


def test_bilateral_lattice_reproduces_pydensecrf():
    image, probs, _ = noisy_scene(48, 56, 4, seed=7)
    for srgb in (13.0, 3.0):
        p = CRFParams(gaussian_compat=0, bilateral_srgb=srgb)
        agree, mad = _agreement(dense_crf(image, probs, p), dense_crf_torch(image, probs, p, device=CPU))
        assert agree == 1.0 and mad < 1e-4


def test_gaussian_filter_is_exact():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((2, 9, 11)).astype(np.float32))
    sigma = 1.7
    ys, xs = np.mgrid[:9, :11]
    pos = np.stack([ys.ravel(), xs.ravel()], 1).astype(np.float64)
    k = np.exp(-((pos[:, None] - pos[None]) ** 2).sum(2) / (2 * sigma ** 2))
    expected = (x.numpy().reshape(2, -1).astype(np.float64) @ k.T).reshape(2, 9, 11)
    np.testing.assert_allclose(gaussian_filter(x, sigma).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_lattice_generic_keys_match_packed_and_csr_is_valid():
    image, _, _ = noisy_scene(24, 32, 3, seed=1)
    h, w = image.shape[:2]
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    feats = torch.cat([xx.reshape(-1, 1) / 5, yy.reshape(-1, 1) / 5,
                       torch.from_numpy(image).reshape(-1, 3).float() / 7], 1)
    values = torch.rand(h * w, 3, generator=torch.Generator().manual_seed(0))
    packed = Permutohedral(feats)
    generic = Permutohedral(feats, force_generic_keys=True)
    assert packed.m == generic.m
    torch.testing.assert_close(packed.apply(values), generic.apply(values), rtol=1e-4, atol=1e-4)
    for mat in (packed.splat_mat, packed.slice_mat):  # raises if the CSR invariants do not hold
        torch.sparse_csr_tensor(mat.crow_indices(), mat.col_indices(), mat.values(), mat.shape,
                                check_invariants=True)
    # barycentric weights of every point sum to one
    torch.testing.assert_close(packed.slice_mat @ torch.ones(packed.m, 1), torch.ones(h * w, 1))


def test_torch_fixed_pixels_and_tiling():
    image, probs, _ = noisy_scene(48, 48, 3, seed=5)
    fixed = np.full((48, 48), -1, np.int64)
    fixed[10:14, 5:45] = 0
    p = CRFParams(bilateral_sxy=10, max_pixels=32 * 32, tile_overlap=8)
    calls = []
    tiled = dense_crf_torch(image, probs, p, fixed, progress=lambda d, t, m: calls.append((d, t)), device=CPU)
    assert calls[-1][0] == calls[-1][1] >= 4
    assert np.all(tiled[0, 10:14, 5:45] == 1.0) and np.all(tiled[1:, 10:14, 5:45] == 0.0)
    whole = refine_labels_torch(image, probs, CRFParams(bilateral_sxy=10), fixed, device=CPU)
    assert whole.dtype == np.uint8
    assert (tiled.argmax(0) == whole).mean() > 0.98


def test_torch_zero_iterations_and_disabled_kernels():
    image, probs, _ = noisy_scene(16, 16, 3)
    out = dense_crf_torch(image, probs, CRFParams(iterations=0), device=CPU)
    np.testing.assert_allclose(out, dense_crf(image, probs, CRFParams(iterations=0)), atol=1e-6)
    p = CRFParams(gaussian_compat=0, bilateral_compat=0, iterations=3)
    np.testing.assert_allclose(dense_crf_torch(image, probs, p, device=CPU), dense_crf(image, probs, p), atol=1e-6)


def test_bad_device_is_a_clear_error():
    from segstudio.core.crf_params import CRFError
    from segstudio.models.crf_torch import pick_device

    with pytest.raises(CRFError, match="unknown torch device 'gpu0'"):
        pick_device("gpu0")
    assert pick_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(CRFError, match="no CUDA GPU"):
            pick_device("cuda")
