"""COCO run-length encoding of binary masks, in numpy (no pycocotools at run time).

COCO RLE reads the mask in column-major (Fortran) order and stores alternating run lengths,
starting with a run of zeros (possibly of length 0). The compressed ``counts`` string stores
each run length (from the fourth on, as the difference to the run two places earlier) in
5-bit groups, least significant first; a group is ``chr(48 + bits)`` with bit 0x20 set when
another group follows, and the last group's bit 0x10 is the sign. ``pycocotools.mask.decode``
of the result gives back exactly the input; the tests check that and byte equality with
``pycocotools.mask.encode``.
"""

from __future__ import annotations

import numpy as np

_GROUPS = 13  # 13 groups of 5 bits hold any signed 64-bit value


def run_lengths(binary: np.ndarray) -> np.ndarray:
    """Alternating run lengths (zeros first) of ``binary`` read column by column."""
    flat = np.asarray(binary, dtype=bool).ravel(order="F")
    n = flat.size
    if n == 0:
        return np.zeros(0, np.int64)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [n]))
    runs = np.diff(bounds).astype(np.int64)
    if flat[0]:
        runs = np.concatenate(([0], runs))
    return runs


def compress_counts(runs: np.ndarray) -> str:
    """COCO's string form of the run lengths (see module docstring)."""
    runs = np.asarray(runs, dtype=np.int64)
    if runs.size == 0:
        return ""
    x = runs.copy()
    x[3:] -= runs[1:-2]          # delta to the run two places earlier, from the fourth run on
    chunks = np.zeros((x.size, _GROUPS), np.uint8)
    valid = np.zeros((x.size, _GROUPS), bool)
    active = np.ones(x.size, bool)
    for g in range(_GROUPS):
        c = x & 0x1F
        x = x >> 5                # arithmetic shift: negative values stay negative
        more = np.where((c & 0x10) != 0, x != -1, x != 0)
        valid[:, g] = active
        chunks[:, g] = (c | np.where(more, 0x20, 0)) + 48
        active &= more
        if not active.any():
            break
    return chunks[valid].tobytes().decode("ascii")


def encode(binary: np.ndarray) -> dict:
    """``{"size": [h, w], "counts": str}``: a compressed COCO RLE of an ``H×W`` binary mask."""
    h, w = binary.shape
    return {"size": [int(h), int(w)], "counts": compress_counts(run_lengths(binary))}


def bbox(binary: np.ndarray) -> list[float]:
    """COCO box ``[x, y, width, height]`` of the set pixels (pixel units, as ``toBbox``)."""
    cols = np.flatnonzero(binary.any(axis=0))
    rows = np.flatnonzero(binary.any(axis=1))
    if cols.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    x0, x1, y0, y1 = int(cols[0]), int(cols[-1]), int(rows[0]), int(rows[-1])
    return [float(x0), float(y0), float(x1 - x0 + 1), float(y1 - y0 + 1)]
