"""Tiled inference with blended overlaps, long-side limiting, and band-wise upsampling.

Tiles: ``fit_tile`` shrinks the tile side (at most ``tile``) to the smallest that needs no more
tiles, so overlaps stay near ``overlap`` and little work repeats; ``tile_starts`` spreads ``n = ceil((L - overlap) / (tile - overlap))`` tiles evenly
over each axis (first at 0, last flush with the border), so neighbours overlap by at least
``overlap`` pixels. Each tile's class probabilities are weighted by a separable window that
ramps linearly from ~0 to 1 across the overlap with each neighbour (1 elsewhere, also along
the image border) and accumulated; a pixel's probabilities are the weight-normalised sum.

Tiles of a tile row run through the network in batches (``logits_fn`` or ``batch_fn``,
``batch_size``), and ``progress(done, total)`` is called after each batch (it may raise to
cancel: the prediction stops there, within one batch of tiles). Cells covered by one tile only
(the tile interiors: most of the image) are final as soon as their tile ran: their labels are
the argmax of that tile's logits — no softmax, no blending (the blend's weights are 1 there, and
softmax keeps the order). Softmax and the weighted blend run only on the overlap strips, in a
class-planes (C-contiguous) layout where they are fast; the interior's probabilities are only
computed when the caller asks for them (``want_probs``).

Tile size: ``auto_tile`` is the largest tile side the Predictor uses by default, per device
(CPU: per-pixel network speed drops on larger tiles as activations leave the cache, while
smaller tiles repeat more overlap; see ``CPU_TILE``). Memory stays bounded by the tile side.

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
CPU_TILE = 1280                     # auto_tile on the CPU: the fastest per image pixel (benchmarks/bench_tiling.py)
TILE_MULTIPLE = 32                  # tile sides are rounded up to this (networks pad to multiples of it)
DEFAULT_OVERLAP = 128
AUTO_TILE_PIXELS = 2048 * 2048      # Predictor(tile=None) tiles images larger than this
DEFAULT_BUDGET = 1 << 30            # bytes allowed for a full C×H×W float32 probability array

ProbsFn = Callable[[np.ndarray], np.ndarray]   # H×W×3 uint8 tile -> C×H×W float32 probabilities
BatchProbsFn = Callable[[np.ndarray], np.ndarray]   # N×H×W×3 uint8 tiles -> N×C×H×W float32 probabilities
LogitsFn = Callable[[np.ndarray], torch.Tensor]     # N×H×W×3 uint8 tiles -> N×C×H×W logits (any device)
Progress = Callable[[int, int], None]          # (tiles done, tiles in the image)


def auto_tile(device_type: str) -> int:
    """Largest tile side for automatic tiling on ``device_type`` ("cpu", "cuda", …).

    CPU: ``CPU_TILE`` (measured: the network's per-pixel speed peaks near 1024² and falls past
    ~1500² as activations leave the cache; 1280 balances that against the overlap that smaller
    tiles repeat). Accelerators: ``DEFAULT_TILE`` (bigger tiles keep them busy). Never above
    ``DEFAULT_TILE``, which bounds the memory of one tile's activations."""
    return min(DEFAULT_TILE, CPU_TILE if device_type == "cpu" else DEFAULT_TILE)


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


def class_argmax(scores: torch.Tensor, dtype: np.dtype) -> np.ndarray:
    """``C×h×w`` scores (any strides, any device) -> ``h×w`` class ids as ``dtype``; first maximum wins."""
    if scores.device.type == "cpu":
        return _argmax((scores if scores.dtype in (torch.float32, torch.float16) else scores.float()).numpy(), dtype)
    ids = scores.argmax(0).to(torch.uint8 if np.dtype(dtype) == np.uint8 else torch.int32).cpu().numpy()
    return ids.astype(dtype, copy=False)


class _Grid:
    """Tiles of one image: their starts, the cells cut along every tile edge, and which tiles cover a cell."""

    def __init__(self, height: int, width: int, tile: int, overlap: int) -> None:
        self.th, self.tw = fit_tile(height, tile, overlap), fit_tile(width, tile, overlap)
        self.ys = tile_starts(height, self.th, _overlap(overlap, self.th))
        self.xs = tile_starts(width, self.tw, _overlap(overlap, self.tw))
        self.rcuts, self.first_row, self.last_row = _cuts(height, self.ys, self.th)
        self.ccuts, self.first_col, self.last_col = _cuts(width, self.xs, self.tw)
        self.rows = [_inside(self.rcuts, y, self.th) for y in self.ys]     # cell rows within tile row i
        self.cols = [_inside(self.ccuts, x, self.tw) for x in self.xs]     # cell columns within tile column j

    @property
    def total(self) -> int:
        return len(self.ys) * len(self.xs)

    def alone(self, r: int, c: int) -> bool:
        """Whether cell ``(r, c)`` has one covering tile."""
        return self.first_row[r] == self.last_row[r] and self.first_col[c] == self.last_col[c]

    def last(self, r: int, c: int, i: int, j: int) -> bool:
        """Whether tile ``(i, j)`` is the last (raster order) to cover cell ``(r, c)``."""
        return self.last_row[r] == i and self.last_col[c] == j


def _cuts(length: int, starts: list[int], size: int) -> tuple[list[int], list[int], list[int]]:
    """Cell boundaries along one axis, and the first and last tile covering each cell interval."""
    cuts = sorted({0, length, *starts, *(s + size for s in starts)})
    first = [min(i for i, s in enumerate(starts) if s <= a < s + size) for a in cuts[:-1]]
    last = [max(i for i, s in enumerate(starts) if s <= a) for a in cuts[:-1]]
    return cuts, first, last


def _inside(cuts: list[int], start: int, size: int) -> list[int]:
    return [k for k in range(len(cuts) - 1) if start <= cuts[k] and cuts[k + 1] <= start + size]


def _scores_fn(probs_fn: ProbsFn | None, batch_fn: BatchProbsFn | None, logits_fn: LogitsFn | None,
               batch_size: int) -> tuple[LogitsFn, bool, int]:
    """One ``N×h×w×3 -> N×C×h×w`` tensor function, whether it gives logits, and the batch size."""
    if logits_fn is not None:
        return logits_fn, True, max(1, batch_size)
    if batch_fn is not None:
        return (lambda tiles: torch.from_numpy(batch_fn(tiles))), False, max(1, batch_size)
    if probs_fn is None:
        raise ValueError("predict_tiled needs logits_fn, batch_fn or probs_fn")
    return (lambda tiles: torch.from_numpy(probs_fn(tiles[0])[None])), False, 1


def predict_tiled(rgb: np.ndarray, probs_fn: ProbsFn | None, num_classes: int, tile: int = DEFAULT_TILE,
                  overlap: int = DEFAULT_OVERLAP, want_probs: bool = False, label_dtype=np.uint8,
                  budget: int = DEFAULT_BUDGET, *, batch_fn: BatchProbsFn | None = None, batch_size: int = 1,
                  progress: Progress | None = None,
                  logits_fn: LogitsFn | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels (and blended probabilities if wanted and within ``budget``) of ``rgb`` by tiles.

    The tiles' scores come from ``logits_fn`` (``N×h×w×3`` uint8 -> ``N×C×h×w`` logits tensor:
    softmax only where tiles overlap or probabilities are returned), else ``batch_fn`` (-> float32
    probabilities, numpy), running up to ``batch_size`` tiles of a tile row per call, else
    ``probs_fn`` (one ``h×w×3`` tile -> ``C×h×w``). ``progress(done, total)`` is called after every
    batch of tiles; an exception it raises (a cancel) stops the prediction there.
    """
    height, width = rgb.shape[:2]
    grid = _Grid(height, width, tile, overlap)
    scores_fn, are_logits, batch_size = _scores_fn(probs_fn, batch_fn, logits_fn, batch_size)
    labels = np.empty((height, width), dtype=label_dtype)
    probs = None
    if want_probs and num_classes * height * width * 4 <= budget:
        probs = np.empty((num_classes, height, width), np.float32)
    cells: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
    th, tw, xs, done = grid.th, grid.tw, grid.xs, 0
    for i, y in enumerate(grid.ys):
        wy = torch.from_numpy(axis_weights(grid.ys, i, th))
        for j0 in range(0, len(xs), batch_size):
            js = range(j0, min(len(xs), j0 + batch_size))
            out = scores_fn(np.stack([rgb[y:y + th, xs[j]:xs[j] + tw] for j in js]))
            if tuple(out.shape) != (len(js), num_classes, th, tw):
                raise ValueError(f"tile scores have shape {tuple(out.shape)}, "
                                 f"expected {(len(js), num_classes, th, tw)}")
            for k, j in enumerate(js):
                tile_out = _TileOut(out[k], are_logits, y, xs[j])
                wx = torch.from_numpy(axis_weights(xs, j, tw))
                _blend(tile_out, grid, i, j, wy, wx, cells, labels, probs)
            del out
            done += len(js)
            if progress is not None:
                progress(done, grid.total)
    assert not cells, "tiling left cells unfinished"
    return labels, probs


class _TileOut:
    """One tile's ``C×h×w`` scores (logits or probabilities) placed at ``(y, x)`` in the image."""

    def __init__(self, scores: torch.Tensor, are_logits: bool, y: int, x: int) -> None:
        self.scores, self.are_logits, self.y, self.x = scores, are_logits, y, x

    def part(self, r0: int, r1: int, c0: int, c1: int) -> torch.Tensor:
        """The scores of image rows ``r0:r1``, columns ``c0:c1`` (a view)."""
        return self.scores[:, r0 - self.y:r1 - self.y, c0 - self.x:c1 - self.x]

    def probs(self, r0: int, r1: int, c0: int, c1: int) -> torch.Tensor:
        """The class probabilities there: a new C-contiguous float32 tensor. (Softmax over the class
        axis of a class-planes layout: several times faster than over an innermost class axis.)"""
        part = self.part(r0, r1, c0, c1).to(torch.float32, memory_format=torch.contiguous_format, copy=True)
        return torch.softmax(part, 0) if self.are_logits else part


def _blend(t: _TileOut, grid: _Grid, i: int, j: int, wy: torch.Tensor, wx: torch.Tensor,
           cells: dict, labels: np.ndarray, probs: np.ndarray | None) -> None:
    """Add tile ``(i, j)``'s probabilities to its cells; finalise the cells this tile completes.

    A cell covered by this tile alone (the tile's interior: most pixels) is final at once: its
    labels are the argmax of the tile's own scores (logits: no softmax, no blending) and its
    probabilities (only when returned) the tile's softmax. Elsewhere the probabilities are
    weighted by the blending window and accumulated; the last covering tile takes the argmax."""
    rcuts, ccuts = grid.rcuts, grid.ccuts
    for r in grid.rows[i]:
        r0, r1 = rcuts[r], rcuts[r + 1]
        for c in grid.cols[j]:
            c0, c1 = ccuts[c], ccuts[c + 1]
            if grid.alone(r, c):
                labels[r0:r1, c0:c1] = class_argmax(t.part(r0, r1, c0, c1), labels.dtype)
                if probs is not None:
                    probs[:, r0:r1, c0:c1] = t.probs(r0, r1, c0, c1).cpu().numpy()
                continue
            w = (wy[r0 - t.y:r1 - t.y, None] * wx[None, c0 - t.x:c1 - t.x]).to(t.scores.device)
            part = t.probs(r0, r1, c0, c1).mul_(w)
            cell = cells.get((r, c))
            if cell is None:
                cells[(r, c)] = cell = (part, w)
            else:
                cell[0].add_(part)
                cell[1].add_(w)
            if grid.last(r, c, i, j):
                acc, wsum = cells.pop((r, c))
                labels[r0:r1, c0:c1] = class_argmax(acc, labels.dtype)
                if probs is not None:
                    probs[:, r0:r1, c0:c1] = acc.div_(wsum).cpu().numpy()


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
