"""Tiled dense-CRF refinement for large images: plan overlapping tiles, blend their outputs.

An image of more than ``params.max_pixels`` pixels is cut into a grid of equal-size
tiles, each at most ``max_pixels``, neighbours sharing at least ``params.tile_overlap``
pixels. Every tile is refined on its own (by whichever engine's ``refine_tile`` is
passed in), so the engine's working memory is bounded by the tile budget; only the
``C×H×W`` float32 result and one ``H×W`` weight plane are held for the whole image.
In an overlap the tiles' probabilities are blended with linear ramps (weights summing to
one), which hides seams; long-range bilateral interactions farther than the overlap are
lost at tile borders — the price of bounded memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

Progress = Optional[Callable[[int, int, str], object]]
# refine_tile(image_tile H×W×3 uint8, probs_tile C×H×W, fixed_tile H×W or None) -> C×H×W float32
TileFn = Callable[[np.ndarray, np.ndarray, Optional[np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class Tile:
    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


def _length(extent: int, n: int, overlap: int) -> int:
    """Common tile length when ``n`` tiles with ``overlap`` cover ``extent`` pixels."""
    return extent if n == 1 else math.ceil((extent + (n - 1) * overlap) / n)


def _starts(extent: int, n: int, length: int) -> list[int]:
    if n == 1:
        return [0]
    return [round(i * (extent - length) / (n - 1)) for i in range(n)]


def _count_for(extent: int, max_len: int, overlap: int) -> int | None:
    """Fewest tiles along an axis whose length fits ``max_len`` (None: impossible)."""
    if extent <= max_len:
        return 1
    if max_len <= overlap + 1:
        return None
    n = max(2, math.ceil((extent - overlap) / (max_len - overlap)))
    while _length(extent, n, overlap) > max_len:
        n += 1
    return n


def plan_tiles(height: int, width: int, max_pixels: int, overlap: int) -> list[Tile]:
    """Fewest equal tiles (row-major) of at most ``max_pixels`` covering the image (one if it fits)."""
    if height * width <= max_pixels:
        return [Tile(0, height, 0, width)]
    best: tuple[int, float, int, int] | None = None
    for nx in range(1, width + 1):
        tw = _length(width, nx, overlap)
        if nx > 1 and tw <= overlap + 1:
            break
        ny = _count_for(height, max_pixels // tw, overlap)
        if ny is None:
            continue
        th = _length(height, ny, overlap)
        key = (nx * ny, max(th, tw) / max(1, min(th, tw)), ny, nx)
        if best is None or key < best:
            best = key
        if nx * 1 > best[0]:
            break
    if best is None:  # cannot happen with validated CRFParams; keep a clear failure anyway
        raise ValueError(f"cannot tile {height}×{width} within {max_pixels} pixels and overlap {overlap}")
    _, _, ny, nx = best
    th, tw = _length(height, ny, overlap), _length(width, nx, overlap)
    return [Tile(y, y + th, x, x + tw) for y in _starts(height, ny, th) for x in _starts(width, nx, tw)]


def _ramp(start: int, stop: int, prev_end: int | None, next_start: int | None) -> np.ndarray:
    """1-D blend weights of a tile: linear ramps over the parts shared with its neighbours."""
    w = np.ones(stop - start, np.float32)
    if prev_end is not None and prev_end > start:
        o = prev_end - start
        w[:o] *= (np.arange(o, dtype=np.float32) + 0.5) / o
    if next_start is not None and next_start < stop:
        o = stop - next_start
        w[-o:] *= (o - 0.5 - np.arange(o, dtype=np.float32)) / o
    return w


def _axis_weights(spans: list[tuple[int, int]]) -> dict[tuple[int, int], np.ndarray]:
    out = {}
    for i, (a, b) in enumerate(spans):
        prev_end = spans[i - 1][1] if i > 0 else None
        next_start = spans[i + 1][0] if i + 1 < len(spans) else None
        out[(a, b)] = _ramp(a, b, prev_end, next_start)
    return out


def refine_tiled(image: np.ndarray, probs: np.ndarray, fixed: np.ndarray | None, tiles: list[Tile],
                 refine_tile: TileFn, progress: Progress = None, what: str = "dense CRF") -> np.ndarray:
    """Run ``refine_tile`` on every tile and blend the results into one ``C×H×W`` float32 array."""
    c, h, w = probs.shape
    out = np.zeros((c, h, w), np.float32)
    weight = np.zeros((h, w), np.float32)
    wy = _axis_weights(sorted({(t.y0, t.y1) for t in tiles}))
    wx = _axis_weights(sorted({(t.x0, t.x1) for t in tiles}))
    total = len(tiles)
    for i, t in enumerate(tiles):
        if progress is not None:
            progress(i, total, f"{what}: tile {i + 1}/{total} ({t.y1 - t.y0}×{t.x1 - t.x0} px)")
        ys, xs = t.slices
        q = refine_tile(image[ys, xs], probs[:, ys, xs], None if fixed is None else fixed[ys, xs])
        w2 = wy[(t.y0, t.y1)][:, None] * wx[(t.x0, t.x1)][None, :]
        out[:, ys, xs] += q * w2
        weight[ys, xs] += w2
    out /= weight
    if progress is not None:
        progress(total, total, f"{what}: {total} tiles done")
    return out
