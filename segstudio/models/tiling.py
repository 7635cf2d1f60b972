"""Tiled inference with blended overlaps, long-side limiting, and band-wise upsampling.

Tiles: ``fit_tile`` shrinks the tile side (at most ``tile``) to the smallest that needs no more
tiles, so overlaps stay near ``overlap`` and little work repeats; ``tile_starts`` spreads ``n = ceil((L - overlap) / (tile - overlap))`` tiles evenly
over each axis (first at 0, last flush with the border), so neighbours overlap by at least
``overlap`` pixels. Each tile's class probabilities are weighted by a separable window that
ramps linearly from ~0 to 1 across the overlap with each neighbour (1 elsewhere, also along
the image border) and accumulated; a pixel's probabilities are the weight-normalised sum.

Tiles of a tile row run through the network in batches (``batch_fn``, ``batch_size``), and
``progress(done, total)`` is called after each batch. Cells covered by one tile only (the tile
interiors: most of the image) are final as soon as their tile ran — argmax, no accumulation.

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

DEFAULT_TILE = 2048                 # the largest tile side; actual tiles are fitted to the image (fit_tile)
TILE_MULTIPLE = 32                  # tile sides are rounded up to this (networks pad to multiples of it)
DEFAULT_OVERLAP = 128
AUTO_TILE_PIXELS = 2048 * 2048      # Predictor(tile=None) tiles images larger than this
DEFAULT_BUDGET = 1 << 30            # bytes allowed for a full C×H×W float32 probability array

ProbsFn = Callable[[np.ndarray], np.ndarray]   # H×W×3 uint8 tile -> C×H×W float32 probabilities
BatchProbsFn = Callable[[np.ndarray], np.ndarray]   # N×H×W×3 uint8 tiles -> N×C×H×W float32 probabilities
Progress = Callable[[int, int], None]          # (tiles done, tiles in the image)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    if tile <= 0:
        raise ValueError("tile size must be positive")
    if not 0 <= overlap < tile:
        raise ValueError(f"tile overlap must be in [0, tile): got {overlap} for tile {tile}")
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    return sorted({int(round(i * (length - tile) / (n - 1))) for i in range(n)})


def fit_tile(length: int, max_tile: int, overlap: int) -> int:
    """The smallest tile side (≤ ``max_tile``) that covers ``length`` with as few tiles as ``max_tile`` needs.

    ``n = ceil((L - ov) / (T - ov))`` tiles of side ``T`` are needed anyway; shrinking them to
    ``ceil((L + (n - 1)·ov) / n)`` (rounded up to ``TILE_MULTIPLE``) keeps the overlaps at
    ``ov`` instead of spreading the slack into wider overlaps — less repeated work per pixel.
    """
    if length <= max_tile:
        return length
    ov = _overlap(overlap, max_tile)
    n = math.ceil((length - ov) / (max_tile - ov))
    side = math.ceil((length + (n - 1) * ov) / n)
    side = min(max_tile, -(-side // TILE_MULTIPLE) * TILE_MULTIPLE)
    return side


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
    """Class axis (0) argmax, first maximum wins. Torch reduces a class axis that is innermost in
    memory (channels-last tiles) fast; over a C-contiguous array a running maximum is ~10× faster."""
    if acc.strides[0] == acc.itemsize:
        return torch.from_numpy(acc).argmax(0).numpy().astype(dtype, copy=False)
    best = acc[0].copy()
    idx = np.zeros(acc.shape[1:], dtype)
    for c in range(1, acc.shape[0]):
        better = acc[c] > best
        idx[better] = c
        np.maximum(best, acc[c], out=best)
    return idx


def predict_tiled(rgb: np.ndarray, probs_fn: ProbsFn | None, num_classes: int, tile: int = DEFAULT_TILE,
                  overlap: int = DEFAULT_OVERLAP, want_probs: bool = False, label_dtype=np.uint8,
                  budget: int = DEFAULT_BUDGET, *, batch_fn: BatchProbsFn | None = None, batch_size: int = 1,
                  progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels (and blended probabilities if wanted and within ``budget``) of ``rgb`` by tiles.

    ``batch_fn`` (``N×h×w×3`` uint8 -> ``N×C×h×w`` float32) runs up to ``batch_size`` tiles of a
    tile row per call; else ``probs_fn`` runs one tile at a time. ``progress(done, total)`` is
    called after every batch of tiles.
    """
    height, width = rgb.shape[:2]
    th, tw = fit_tile(height, tile, overlap), fit_tile(width, tile, overlap)
    ys, xs = tile_starts(height, th, _overlap(overlap, th)), tile_starts(width, tw, _overlap(overlap, tw))
    rcuts = sorted({0, height, *ys, *(y + th for y in ys)})
    ccuts = sorted({0, width, *xs, *(x + tw for x in xs)})
    # the first and last tile (in raster order) covering each row / column interval
    first_row = [min(i for i, y in enumerate(ys) if y <= r < y + th) for r in rcuts[:-1]]
    last_row = [max(i for i, y in enumerate(ys) if y <= r) for r in rcuts[:-1]]
    first_col = [min(j for j, x in enumerate(xs) if x <= c < x + tw) for c in ccuts[:-1]]
    last_col = [max(j for j, x in enumerate(xs) if x <= c) for c in ccuts[:-1]]
    labels = np.empty((height, width), dtype=label_dtype)
    probs = None
    if want_probs and num_classes * height * width * 4 <= budget:
        probs = np.empty((num_classes, height, width), np.float32)
    if batch_fn is None:
        if probs_fn is None:
            raise ValueError("predict_tiled needs probs_fn or batch_fn")
        batch_fn, batch_size = (lambda tiles: probs_fn(tiles[0])[None]), 1
    cells: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    total, done = len(ys) * len(xs), 0
    col_cells = [[c for c in range(len(ccuts) - 1) if x <= ccuts[c] and ccuts[c + 1] <= x + tw] for x in xs]
    for i, y in enumerate(ys):
        wy = axis_weights(ys, i, th)
        rows = [r for r in range(len(rcuts) - 1) if y <= rcuts[r] and rcuts[r + 1] <= y + th]
        for j0 in range(0, len(xs), max(1, batch_size)):
            js = list(range(j0, min(len(xs), j0 + max(1, batch_size))))
            out = batch_fn(np.stack([rgb[y:y + th, xs[j]:xs[j] + tw] for j in js]))
            if out.shape != (len(js), num_classes, th, tw):
                raise ValueError(f"tile probabilities have shape {out.shape}, "
                                 f"expected {(len(js), num_classes, th, tw)}")
            for k, j in enumerate(js):
                _blend(out[k], y, xs[j], i, j, wy, axis_weights(xs, j, tw), rows, col_cells[j], rcuts, ccuts,
                       (first_row, last_row, first_col, last_col), cells, labels, probs)
            done += len(js)
            if progress is not None:
                progress(done, total)
    assert not cells, "tiling left cells unfinished"
    return labels, probs


def _blend(p, y, x, i, j, wy, wx, rows, cols, rcuts, ccuts, cover, cells, labels, probs) -> None:
    """Add tile ``(i, j)``'s probabilities to its cells; finalise the cells this tile completes.

    A cell covered by this tile alone (the tile's interior) is final at once: its labels are the
    argmax of the tile's probabilities (blending weights are 1 there), with no accumulation."""
    first_row, last_row, first_col, last_col = cover
    for r in rows:
        r0, r1 = rcuts[r], rcuts[r + 1]
        for c in cols:
            c0, c1 = ccuts[c], ccuts[c + 1]
            sub = p[:, r0 - y:r1 - y, c0 - x:c1 - x]
            alone = first_row[r] == last_row[r] == i and first_col[c] == last_col[c] == j
            if alone:
                labels[r0:r1, c0:c1] = _argmax(sub, labels.dtype)
                if probs is not None:
                    probs[:, r0:r1, c0:c1] = sub
                continue
            sub_w = wy[r0 - y:r1 - y, None] * wx[None, c0 - x:c1 - x]
            cell = cells.get((r, c))
            if cell is None:
                cells[(r, c)] = cell = (sub * sub_w, sub_w)
            else:
                acc, wsum = cell
                acc += sub * sub_w
                wsum += sub_w
            if last_row[r] == i and last_col[c] == j:
                acc, wsum = cells.pop((r, c))
                labels[r0:r1, c0:c1] = _argmax(acc, labels.dtype)
                if probs is not None:
                    np.divide(acc, wsum, out=probs[:, r0:r1, c0:c1])


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
