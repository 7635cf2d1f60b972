"""Tiled inference throughput against native-size inference, per pixel (prints figures; asserts nothing).

Native: ``Predictor.predict`` on 480×360 images (labels only, no tiling), megapixels per
second. Tiled: one ``SIDE×SIDE`` image through the same predictor with the default tiling
(``tile=None``: tiles of ``tiling.DEFAULT_TILE``, overlap 128), labels only. The ratio
tiled/native is the figure of issue 17 (goal ≥ 0.8). Also prints the tile count, the
progress callbacks seen, and the peak resident memory growth.

Model: ``--model`` or the shipped default model, else a random-weight unet-light (speed does
not depend on the weights).

    python benchmarks/bench_tiling.py [--side 8192] [--model CKPT] [--threads N] [--tile T]
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--side", type=int, default=8192)
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--tile", type=int, default=None, help="tile size (default: the predictor's automatic choice)")
    p.add_argument("--native-images", type=int, default=8)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = args.model or default_model_path()
    if model.exists():
        source, kw = model, {}
    else:
        source, kw = build_model("unet-light", 11).eval(), {"labels": preset("camvid")}
    pred = Predictor(source, device="cpu", engine="torch", tile=args.tile, **kw)

    native = [smooth(360, 480, s) for s in range(args.native_images)]
    pred.predict(native[0], want_probs=False)   # warm-up
    t = time.perf_counter()
    for im in native:
        pred.predict(im, want_probs=False)
    native_mps = len(native) * 360 * 480 / 1e6 / (time.perf_counter() - t)

    big = smooth(args.side, args.side, 1)
    calls: list[tuple[int, int]] = []
    pred.on_progress = lambda done, total: calls.append((done, total))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    pred.predict(big, want_probs=False)
    tiled_s = time.perf_counter() - t
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tiled_mps = args.side * args.side / 1e6 / tiled_s
    tile = args.tile or tiling.DEFAULT_TILE
    print(f"model: {model if model.exists() else 'random unet-light'}, torch {torch.get_num_threads()} thread(s)")
    print(f"native 480×360: {native_mps:.2f} MP/s")
    print(f"tiled {args.side}×{args.side} (tile {tile}, overlap {pred.tile_overlap}): {tiled_mps:.2f} MP/s "
          f"in {tiled_s:.1f} s, {calls[-1][1] if calls else 0} tiles, {len(calls)} progress calls, "
          f"peak RSS +{(rss1 - rss0) / 1024:.0f} MB")
    print(f"ratio tiled/native per pixel: {tiled_mps / native_mps:.2f} (goal ≥ 0.80)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
