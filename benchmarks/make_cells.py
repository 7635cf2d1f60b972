"""Synthetic grey "microscopy" data set no one tuned the trainer to: blob cells on an uneven background.

512×512 16-bit grey PNG images (``images/``) with binary masks (``masks/``: 0 background,
1 cell), plus a separate held-out set (``test_images/``, ``test_masks/``) for scoring models
trained on the first set. Each image: 15–60 cells (ellipses with wobbly outlines, radius
6–28 px, some touching, textured interiors of varying brightness, a darker nucleus), a smooth
uneven illumination field, defocus blur, Poisson-like shot noise plus read noise, and dim
debris blobs that are *not* cells (so intensity alone is not enough).

    python benchmarks/make_cells.py --out /tmp/cells [--train 24] [--test 12] [--seed 7]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

SIZE = 512


def _wobbly_ellipse(rng, mask: np.ndarray, cy: float, cx: float, r: float) -> None:
    n = 48
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ecc = rng.uniform(0.6, 1.0)
    rot = rng.uniform(0, np.pi)
    wobble = 1 + sum(rng.uniform(-0.08, 0.08) * np.sin(k * t + rng.uniform(0, 6.3)) for k in (2, 3, 5))
    x, y = r * np.cos(t) * wobble, r * ecc * np.sin(t) * wobble
    px = cx + x * np.cos(rot) - y * np.sin(rot)
    py = cy + x * np.sin(rot) + y * np.cos(rot)
    cv2.fillPoly(mask, [np.stack([px, py], 1).round().astype(np.int32)], 1)


def make_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    label = np.zeros((SIZE, SIZE), np.uint8)
    signal = np.zeros((SIZE, SIZE), np.float32)
    for _ in range(int(rng.integers(15, 60))):
        cell = np.zeros_like(label)
        r = rng.uniform(6, 28)
        cy, cx = rng.uniform(0, SIZE, 2)
        _wobbly_ellipse(rng, cell, cy, cx, r)
        texture = cv2.GaussianBlur(rng.normal(0, 1, (SIZE, SIZE)).astype(np.float32), (0, 0), 2.0)
        bright = rng.uniform(0.35, 1.0)
        signal = np.where(cell > 0, bright * (1 + 0.25 * texture), signal)
        nucleus = np.zeros_like(label)
        _wobbly_ellipse(rng, nucleus, cy + rng.uniform(-2, 2), cx + rng.uniform(-2, 2), r * rng.uniform(0.3, 0.5))
        signal = np.where((nucleus > 0) & (cell > 0), signal * rng.uniform(0.5, 0.8), signal)
        label |= cell
    for _ in range(int(rng.integers(3, 12))):        # debris: dim, small, blurry, not labelled
        debris = np.zeros_like(label)
        _wobbly_ellipse(rng, debris, *rng.uniform(0, SIZE, 2), rng.uniform(2, 6))
        signal = np.where((debris > 0) & (label == 0), rng.uniform(0.2, 0.45), signal)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    gy, gx = rng.uniform(-0.5, 0.5, 2)
    cy, cx = rng.uniform(0, 1, 2)
    illum = 0.7 + gy * (yy - 0.5) + gx * (xx - 0.5) + 0.4 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.15)
    img = cv2.GaussianBlur(signal, (0, 0), rng.uniform(1.0, 2.5)) * illum + 0.12 * illum
    photons = rng.uniform(60, 200)
    img = rng.poisson(np.clip(img, 0, None) * photons).astype(np.float32) / photons
    img += rng.normal(0, 0.03, img.shape).astype(np.float32)
    img16 = np.clip(img / 1.6 * 65535, 0, 65535).astype(np.uint16)
    return img16, label


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--train", type=int, default=24)
    ap.add_argument("--test", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    for split, n in (("", args.train), ("test_", args.test)):
        (args.out / f"{split}images").mkdir(parents=True, exist_ok=True)
        (args.out / f"{split}masks").mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img, mask = make_pair(rng)
            Image.fromarray(img).save(args.out / f"{split}images" / f"cell_{i:03d}.png")
            Image.fromarray(mask).save(args.out / f"{split}masks" / f"cell_{i:03d}.png")
    print(f"wrote {args.train} training and {args.test} held-out pairs to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
