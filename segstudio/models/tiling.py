"""Tiled inference with blended overlaps, long-side limiting, and band-wise upsampling.

Tiles: ``tile_starts`` spreads ``n = ceil((L - overlap) / (tile - overlap))`` tiles evenly
over each axis (first at 0, last flush with the border), so neighbours overlap by at least
``overlap`` pixels. Each tile's class probabilities are weighted by a separable window that
ramps linearly from ~0 to 1 across the overlap with each neighbour (1 elsewhere, also along
the image border) and accumulated; a pixel's probabilities are the weight-normalised sum.

Bounded memory: the image is cut along every tile edge into *cells*; every cell has a fixed
set of covering tiles, and is finalised (argmax → labels, optionally normalised probs) as
soon as the last of them ran, then freed. Tiles run in raster order, so the live
accumulators are the overlap strip below the current tile row plus the current tile:
about ``C × (overlap × W + tile²)`` floats, never ``C × H × W``. The full probability array is
only returned when asked for and ``C × H × W × 4`` bytes fit ``budget`` (else ``None``).

``upsample_probs`` brings probabilities computed on a downscaled image (``max_side``) back
to full size by bilinear interpolation (identical to ``F.interpolate(..., "bilinear",
align_corners=False)``), band of rows by band of rows, taking the argmax per band.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

DEFAULT_TILE = 1024
DEFAULT_OVERLAP = 128
AUTO_TILE_PIXELS = 2048 * 2048      # Predictor(tile=None) tiles images larger than this
DEFAULT_BUDGET = 1 << 30            # bytes allowed for a full C×H×W float32 probability array

ProbsFn = Callable[[np.ndarray], np.ndarray]   # H×W×3 uint8 tile -> C×H×W float32 probabilities


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    if tile <= 0:
        raise ValueError("tile size must be positive")
    if not 0 <= overlap < tile:
        raise ValueError(f"tile overlap must be in [0, tile): got {overlap} for tile {tile}")
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    return sorted({int(round(i * (length - tile) / (n - 1))) for i in range(n)})


def _overlap(overlap: int, size: int) -> int:
    """Overlaps of half a tile or more would multiply the work: they shrink to a quarter tile."""
    return overlap if overlap < size // 2 else size // 4


def axis_weights(starts: list[int], i: int, size: int) -> np.ndarray:
    """1-D blending weights of tile ``i`` (length ``size``): linear ramps over its overlaps."""
    w = np.ones(size, np.float32)
    if i > 0:
        ov = starts[i - 1] + size - starts[i]
        if ov > 0:
            w[:ov] = np.minimum(w[:ov], (np.arange(ov, dtype=np.float32) + 0.5) / ov)
    if i < len(starts) - 1:
        ov = starts[i] + size - starts[i + 1]
        if ov > 0:
            w[size - ov:] = np.minimum(w[size - ov:], (np.arange(ov, 0, -1, dtype=np.float32) - 0.5) / ov)
    return w


def _argmax(acc: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return torch.from_numpy(acc).argmax(0).numpy().astype(dtype, copy=False)


def predict_tiled(rgb: np.ndarray, probs_fn: ProbsFn, num_classes: int, tile: int = DEFAULT_TILE,
                  overlap: int = DEFAULT_OVERLAP, want_probs: bool = False, label_dtype=np.uint8,
                  budget: int = DEFAULT_BUDGET) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels (and blended probabilities if wanted and within ``budget``) of ``rgb`` by tiles."""
    height, width = rgb.shape[:2]
    th, tw = min(tile, height), min(tile, width)
    ys, xs = tile_starts(height, th, _overlap(overlap, th)), tile_starts(width, tw, _overlap(overlap, tw))
    rcuts = sorted({0, height, *ys, *(y + th for y in ys)})
    ccuts = sorted({0, width, *xs, *(x + tw for x in xs)})
    # the last tile (in raster order) covering each row / column interval
    last_row = [max(i for i, y in enumerate(ys) if y <= r) for r in rcuts[:-1]]
    last_col = [max(j for j, x in enumerate(xs) if x <= c) for c in ccuts[:-1]]
    labels = np.empty((height, width), dtype=label_dtype)
    probs = None
    if want_probs and num_classes * height * width * 4 <= budget:
        probs = np.empty((num_classes, height, width), np.float32)
    cells: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for i, y in enumerate(ys):
        wy = axis_weights(ys, i, th)
        rows = [r for r in range(len(rcuts) - 1) if y <= rcuts[r] and rcuts[r + 1] <= y + th]
        for j, x in enumerate(xs):
            wx = axis_weights(xs, j, tw)
            p = probs_fn(rgb[y:y + th, x:x + tw])
            if p.shape != (num_classes, th, tw):
                raise ValueError(f"tile probabilities have shape {p.shape}, expected {(num_classes, th, tw)}")
            weight = wy[:, None] * wx[None, :]
            for r in rows:
                r0, r1 = rcuts[r], rcuts[r + 1]
                for c in range(len(ccuts) - 1):
                    c0, c1 = ccuts[c], ccuts[c + 1]
                    if not (x <= c0 and c1 <= x + tw):
                        continue
                    sub_w = weight[r0 - y:r1 - y, c0 - x:c1 - x]
                    contrib = p[:, r0 - y:r1 - y, c0 - x:c1 - x] * sub_w
                    cell = cells.get((r, c))
                    if cell is None:
                        cells[(r, c)] = cell = (contrib, sub_w.copy())
                    else:
                        acc, wsum = cell
                        acc += contrib
                        wsum += sub_w
                    if last_row[r] == i and last_col[c] == j:
                        acc, wsum = cells.pop((r, c))
                        labels[r0:r1, c0:c1] = _argmax(acc, labels.dtype)
                        if probs is not None:
                            np.divide(acc, wsum, out=probs[:, r0:r1, c0:c1])
    assert not cells, "tiling left cells unfinished"
    return labels, probs


def long_side_scale(height: int, width: int, max_side: int | None) -> float:
    """Factor (≤ 1) that brings the long side down to ``max_side``."""
    if not max_side or max(height, width) <= max_side:
        return 1.0
    return max_side / max(height, width)


def resize_rgb(rgb: np.ndarray, scale: float) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _linear_index(n_out: int, n_in: int, lo: int, hi: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source indices i0, i1 and weight of i1 for output positions lo..hi (align_corners=False)."""
    scale = n_in / n_out
    src = ((torch.arange(lo, hi, dtype=torch.float64) + 0.5) * scale - 0.5).clamp_(min=0)
    i0 = src.floor().long().clamp_(max=n_in - 1)
    i1 = (i0 + 1).clamp_(max=n_in - 1)
    return i0, i1, (src - i0).float()


def upsample_probs(small: np.ndarray, height: int, width: int, want_probs: bool = False, label_dtype=np.uint8,
                   budget: int = DEFAULT_BUDGET) -> tuple[np.ndarray, np.ndarray | None]:
    """Bilinear upsampling of ``C×h×w`` probabilities to ``height×width``, band by band."""
    c = small.shape[0]
    src = torch.from_numpy(np.ascontiguousarray(small, dtype=np.float32))
    labels = np.empty((height, width), dtype=label_dtype)
    probs = np.empty((c, height, width), np.float32) if want_probs and c * height * width * 4 <= budget else None
    x0, x1, wx = _linear_index(width, src.shape[2], 0, width)
    band = max(1, min(height, (64 << 20) // max(1, c * width * 4)))
    for lo in range(0, height, band):
        hi = min(height, lo + band)
        y0, y1, wy = _linear_index(height, src.shape[1], lo, hi)
        wy = wy[None, :, None]
        rows = src[:, y0] * (1 - wy) + src[:, y1] * wy                      # C×b×w
        out = rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx               # C×b×W
        labels[lo:hi] = out.argmax(0).numpy().astype(label_dtype, copy=False)
        if probs is not None:
            probs[:, lo:hi] = out.numpy()
    return labels, probs
