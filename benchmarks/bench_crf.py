"""Dense-CRF benchmark: wrapper overhead over a bare pydensecrf call, and a tiled 2048×2048 run.

    python benchmarks/bench_crf.py [--runs 7] [--classes 12] [--big 2048] [--torch]

1. 480×360 (a CamVid frame when ../shared/data/camvid is there, else synthetic), C classes:
   ``segstudio.core.crf.dense_crf`` vs the minimal pydensecrf sequence (unary, two kernels,
   inference, reshape), interleaved, median of ``--runs``; prints the ratio (goal ≤ 1.05).
2. ``--big``×``--big`` synthetic image with default ``max_pixels`` (tiled): wall time.
3. ``--torch``: the torch engine on the 480×360 input too (device: CUDA when available).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from segstudio.core.crf import PROB_FLOOR, CRFParams, dense_crf  # noqa: E402


def synthetic(h: int, w: int, c: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Blocky colour image with noisy, blurred one-hot probabilities."""
    import cv2

    rng = np.random.default_rng(seed)
    cell = max(8, min(h, w) // 12)
    truth = rng.integers(0, c, (h // cell + 1, w // cell + 1))
    truth = np.kron(truth, np.ones((cell, cell), np.int64))[:h, :w]
    colours = rng.integers(0, 256, (c, 3))
    image = np.clip(colours[truth] + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)
    onehot = (truth[None] == np.arange(c)[:, None, None]).astype(np.float32)
    logits = np.stack([cv2.GaussianBlur(p, (0, 0), 3) for p in onehot]) * 4
    logits += rng.normal(0, 1.0, logits.shape).astype(np.float32)
    probs = np.exp(logits - logits.max(0))
    probs /= probs.sum(0)
    return image, probs.astype(np.float32)


def camvid_frame(c: int) -> tuple[np.ndarray, np.ndarray] | None:
    from segstudio.core.images import list_images, read_image

    base = ROOT.parent / "shared" / "data" / "camvid"
    files = [f for split in ("test", "val", "train") if (base / split).is_dir() for f in list_images(base / split)]
    if not files:
        return None
    image = np.array(read_image(files[0]).rgb)  # writable: pydensecrf refuses read-only buffers
    if image.shape[:2] != (360, 480):
        return None
    _, probs = synthetic(360, 480, c, seed=1)
    return image, probs


def bare(image: np.ndarray, probs: np.ndarray, p: CRFParams) -> np.ndarray:
    import pydensecrf.densecrf as dcrf

    c, h, w = probs.shape
    u = -np.log(np.clip(probs.reshape(c, -1), PROB_FLOOR, 1.0))
    d = dcrf.DenseCRF2D(w, h, c)
    d.setUnaryEnergy(np.ascontiguousarray(u, dtype=np.float32))
    d.addPairwiseGaussian(sxy=p.gaussian_sxy, compat=p.gaussian_compat)
    d.addPairwiseBilateral(sxy=p.bilateral_sxy, srgb=p.bilateral_srgb, rgbim=image, compat=p.bilateral_compat)
    return np.asarray(d.inference(p.iterations), dtype=np.float32).reshape(c, h, w)


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--classes", type=int, default=12)
    ap.add_argument("--big", type=int, default=2048, help="side of the tiled run (0: skip)")
    ap.add_argument("--torch", action="store_true", help="also time the torch engine")
    args = ap.parse_args()
    p = CRFParams()
    real = camvid_frame(args.classes)
    image, probs = real if real is not None else synthetic(360, 480, args.classes)
    print(f"480×360, {args.classes} classes, {'CamVid frame' if real else 'synthetic image'}, {p}")
    a = bare(image, probs, p)
    b = dense_crf(image, probs, p)
    print(f"outputs identical: {np.array_equal(a, b)} (max |Δ| {np.abs(a - b).max():.2e})")
    t_bare, t_wrap = [], []
    for i in range(args.runs):  # interleaved, alternating which goes first
        order = [(bare, t_bare), (dense_crf, t_wrap)]
        for fn, acc in (order if i % 2 == 0 else order[::-1]):
            acc.append(timed(fn, image, probs, p))
    mb, mw = statistics.median(t_bare), statistics.median(t_wrap)
    print(f"bare pydensecrf median {mb * 1000:.1f} ms, dense_crf median {mw * 1000:.1f} ms over {args.runs} runs")
    print(f"wrapper / bare = {mw / mb:.3f}  (goal <= 1.05)")
    if args.torch:
        from segstudio.models.crf_torch import dense_crf_torch, pick_device

        dev = pick_device()
        dense_crf_torch(image, probs, p, device=dev)  # warm-up
        ts = [timed(dense_crf_torch, image, probs, p, None, None, dev) for _ in range(max(3, args.runs // 2))]
        q = dense_crf_torch(image, probs, p, device=dev)
        print(f"torch engine on {dev}: median {statistics.median(ts) * 1000:.1f} ms; label agreement with "
              f"pydensecrf {(q.argmax(0) == b.argmax(0)).mean() * 100:.2f} %, mean |Δprob| {np.abs(q - b).mean():.4f}")
    if args.big:
        n = args.big
        big_image, big_probs = synthetic(n, n, args.classes, seed=2)
        calls = []
        t = timed(lambda: dense_crf(big_image, big_probs, p,
                                    progress=lambda d, tot, msg: calls.append((d, tot, msg))))
        tiles = calls[-1][1]
        print(f"{n}×{n}: {t:.2f} s, {tiles} tile(s) of at most {p.max_pixels} px, overlap {p.tile_overlap} px")


if __name__ == "__main__":
    main()
