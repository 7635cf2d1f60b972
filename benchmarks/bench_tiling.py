"""Tiled inference throughput against native-size inference, per pixel (prints figures; asserts nothing).

Native: ``Predictor.predict`` on 480×360 images (labels only, no tiling), megapixels per
second. Tiled: one ``SIDE×SIDE`` image through the same predictor with the default tiling
(``tile=None``: tiles of at most ``tiling.auto_tile(device)`` — 1280 on the CPU — fitted to the
image, overlap 128), labels only. The ratio tiled/native is the figure of issue 17 (goal ≥ 0.8);
native is measured right before and after each tiled run and averaged, so the ratio compares
the two under the same load; the ratio is given by wall time and by process CPU time (with
``--threads 1`` the latter does not count the time other processes hold the core, so it is the
steadier figure on a shared machine). Also prints the tile count, the progress callbacks seen, and the
peak resident memory growth.

``--tile 768,1024,1280`` measures several largest tile sides in one run (``--rounds`` times,
interleaved), e.g. to choose ``tiling.CPU_TILE``; ``--batch`` sets tiles per network call.

Model: ``--model`` or the shipped default model, else a random-weight unet-light (speed does
not depend on the weights).

    python benchmarks/bench_tiling.py [--side 8192] [--model CKPT] [--threads N] [--tile T[,T…]]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segstudio.core.labels import preset  # noqa: E402
from segstudio.models import tiling  # noqa: E402
from segstudio.models.predictor import Predictor  # noqa: E402
from segstudio.models.registry import build_model  # noqa: E402
from segstudio.paths import default_model_path  # noqa: E402


def smooth(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random colour image (cheap to make at 8192²)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, h // 64), max(2, w // 64), 3), dtype=np.uint8)
    import cv2

    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def timed(fn) -> tuple[float, float]:
    """Wall seconds and process CPU seconds of ``fn()``."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def native_mps(pred: Predictor, images: list[np.ndarray]) -> tuple[float, float]:
    """Native megapixels per wall second and per CPU second."""
    pred.predict(images[0], want_probs=False)   # warm-up
    wall, cpu = timed(lambda: [pred.predict(im, want_probs=False) for im in images])
    mp = len(images) * images[0].shape[0] * images[0].shape[1] / 1e6
    return mp / wall, mp / cpu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--side", type=int, default=8192)
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--tile", default=None, help="largest tile side(s), comma-separated (default: the automatic one)")
    p.add_argument("--batch", type=int, default=None, help="tiles per network call (default: the predictor's)")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--native-images", type=int, default=8)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = args.model or default_model_path()
    if model.exists():
        source, kw = model, {}
    else:
        source, kw = build_model("unet-light", 11).eval(), {"labels": preset("camvid")}
    pred = Predictor(source, device="cpu", engine="torch", batch_size=args.batch, **kw)
    print(f"model: {model if model.exists() else 'random unet-light'}, torch {torch.get_num_threads()} thread(s), "
          f"tiles per call {pred.batch_size}")
    native = [smooth(360, 480, s) for s in range(args.native_images)]
    big = smooth(args.side, args.side, 1)
    tiles = [int(t) for t in args.tile.split(",")] if args.tile else [None]
    for _ in range(args.rounds):
        for tile in tiles:
            pred.tile = tile
            before = native_mps(pred, native)
            calls: list[tuple[int, int]] = []
            pred.on_progress = lambda done, total: calls.append((done, total))
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            tiled_s, tiled_cpu = timed(lambda: pred.predict(big, want_probs=False))
            rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            pred.on_progress = None
            after = native_mps(pred, native)
            tiled_mps, tiled_cpu_mps = args.side * args.side / 1e6 / tiled_s, args.side * args.side / 1e6 / tiled_cpu
            largest = pred._tile_size(args.side, args.side) or args.side
            fitted = tiling.fit_tile(args.side, largest, pred.tile_overlap)
            print(f"native 480×360: {before[0]:.2f} / {after[0]:.2f} MP/s (before / after); "
                  f"per CPU second {before[1]:.2f} / {after[1]:.2f}; load {os.getloadavg()[0]:.1f}")
            print(f"tiled {args.side}×{args.side} (tile ≤ {largest}: {fitted}, overlap {pred.tile_overlap}): "
                  f"{tiled_mps:.2f} MP/s in {tiled_s:.1f} s (per CPU second {tiled_cpu_mps:.2f}), "
                  f"{calls[-1][1] if calls else 0} tiles, "
                  f"{len(calls)} progress calls, peak RSS +{(rss1 - rss0) / 1024:.0f} MB")
            print(f"ratio tiled/native per pixel: {tiled_mps / ((before[0] + after[0]) / 2):.2f} wall, "
                  f"{tiled_cpu_mps / ((before[1] + after[1]) / 2):.2f} CPU time (goal ≥ 0.80)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
