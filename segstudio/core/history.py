"""Undo/redo as patches: each step keeps, per touched tile, the tight box of changed pixels
before and after (zlib-compressed), never whole masks.

* :class:`PatchRecorder` captures the "before" pixels of a stroke lazily, tile by tile, the
  first time the stroke reaches a tile (so a stroke costs nothing on a 16K mask).
* :class:`Step` is one undoable action (a stroke, a fill, a whole-mask change from a model
  prediction); ``meta`` carries extra state a step restores (e.g. the label set of a merge).
* :class:`History` is the undo/redo pair of stacks of one image.
* :class:`HistoryStore` keeps one history per image key under a global byte budget
  (default 64 MB): when over it, the globally oldest steps are dropped first.

Fixed pixels (what the user has painted *now*) are derived from the history, never kept
beside it: a step made by the user's own tools carries ``paint_void`` (the void value); it
fixes the pixels it changed to a class and un-fixes those it erased. :meth:`History.fixed_pixels`
replays the applied (not undone) paint steps in order, so an undone stroke no longer counts and
a redone one counts again; steps dropped for the byte budget are folded into a base first.
"""

from __future__ import annotations

import itertools
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from segstudio.core.paint import BBox, changed_bbox, union_bbox

TILE = 256
DEFAULT_BUDGET = 64 * 1024 * 1024
_STEP_OVERHEAD = 200    # bytes per step / patch object, counted so tiny steps are not free
_PATCH_OVERHEAD = 120
_seq = itertools.count()


def _pack(arr: np.ndarray) -> bytes:
    return zlib.compress(np.ascontiguousarray(arr).tobytes(), 1)


@dataclass(frozen=True)
class Patch:
    """One rectangle of a mask, before and after a step (compressed)."""
    x: int
    y: int
    w: int
    h: int
    dtype: str
    before_z: bytes
    after_z: bytes

    @classmethod
    def from_arrays(cls, x: int, y: int, before: np.ndarray, after: np.ndarray) -> "Patch":
        h, w = before.shape
        return cls(x, y, w, h, before.dtype.str, _pack(before), _pack(after))

    @property
    def bbox(self) -> BBox:
        return self.x, self.y, self.x + self.w, self.y + self.h

    @property
    def nbytes(self) -> int:
        return len(self.before_z) + len(self.after_z) + _PATCH_OVERHEAD

    def _unpack(self, data: bytes) -> np.ndarray:
        return np.frombuffer(zlib.decompress(data), np.dtype(self.dtype)).reshape(self.h, self.w)

    def before(self) -> np.ndarray:
        return self._unpack(self.before_z)

    def after(self) -> np.ndarray:
        return self._unpack(self.after_z)

    def write(self, mask: np.ndarray, which: str) -> None:
        mask[self.y:self.y + self.h, self.x:self.x + self.w] = self.before() if which == "before" else self.after()


@dataclass
class Step:
    """One undoable action: its patches, a description for menus, and optional extra state.

    ``paint_void``: set (to the void value) on the user's own paint steps (brush, eraser, fill,
    polygon, replace); None on other steps (prediction, CRF, label merge), which leave the
    fixed pixels alone.
    """
    description: str
    patches: list[Patch]
    meta: dict[str, Any] = field(default_factory=dict)
    seq: int = field(default_factory=lambda: next(_seq))
    paint_void: int | None = None
    shape: tuple[int, int] | None = None    # of the mask it was recorded on

    @property
    def nbytes(self) -> int:
        return _STEP_OVERHEAD + sum(p.nbytes for p in self.patches)

    @property
    def bbox(self) -> BBox | None:
        box = None
        for p in self.patches:
            box = union_bbox(box, p.bbox)
        return box

    def undo(self, mask: np.ndarray) -> BBox | None:
        for p in reversed(self.patches):
            p.write(mask, "before")
        return self.bbox

    def redo(self, mask: np.ndarray) -> BBox | None:
        for p in self.patches:
            p.write(mask, "after")
        return self.bbox

    @classmethod
    def from_masks(cls, before: np.ndarray, after: np.ndarray, description: str,
                   meta: dict[str, Any] | None = None) -> "Step | None":
        """Diff two whole masks tile by tile (None when identical)."""
        if before.shape != after.shape:
            raise ValueError(f"mask shapes differ: {before.shape} vs {after.shape}")
        patches = list(_diff_tiles(before, after, _tiles_of(before.shape)))
        if not patches and not meta:
            return None
        return cls(description, patches, dict(meta or {}), shape=(int(before.shape[0]), int(before.shape[1])))


def _tiles_of(shape: tuple[int, ...], bbox: BBox | None = None) -> Iterator[tuple[int, int]]:
    h, w = shape[:2]
    x0, y0, x1, y1 = bbox or (0, 0, w, h)
    for ty in range(y0 // TILE, (y1 - 1) // TILE + 1):
        for tx in range(x0 // TILE, (x1 - 1) // TILE + 1):
            yield ty, tx


def _diff_tiles(before: np.ndarray, after: np.ndarray, tiles) -> Iterator[Patch]:
    h, w = after.shape[:2]
    for ty, tx in tiles:
        ys, xs = ty * TILE, tx * TILE
        b = before[ys:ys + TILE, xs:xs + TILE]
        a = after[ys:ys + TILE, xs:xs + TILE]
        box = changed_bbox(b, a)
        if box is not None:
            x0, y0, x1, y1 = box
            yield Patch.from_arrays(xs + x0, ys + y0, b[y0:y1, x0:x1], a[y0:y1, x0:x1])


class PatchRecorder:
    """Records one step while a tool edits a mask in place.

    Call :meth:`touch` with the box a tool is about to write *before* writing it; the
    recorder copies each newly reached tile once. :meth:`finish` diffs those tiles against
    the mask as it is now and returns the :class:`Step` (None when nothing changed).
    """

    def __init__(self, mask: np.ndarray, description: str) -> None:
        self.mask = mask
        self.description = description
        self._tiles: dict[tuple[int, int], np.ndarray] = {}
        self.bbox: BBox | None = None

    def touch(self, bbox: BBox) -> None:
        self.bbox = union_bbox(self.bbox, bbox)
        for ty, tx in _tiles_of(self.mask.shape, bbox):
            if (ty, tx) not in self._tiles:
                ys, xs = ty * TILE, tx * TILE
                self._tiles[(ty, tx)] = self.mask[ys:ys + TILE, xs:xs + TILE].copy()

    def finish(self, meta: dict[str, Any] | None = None) -> Step | None:
        patches = []
        for (ty, tx), b in self._tiles.items():
            ys, xs = ty * TILE, tx * TILE
            a = self.mask[ys:ys + TILE, xs:xs + TILE]
            box = changed_bbox(b, a)
            if box is not None:
                x0, y0, x1, y1 = box
                patches.append(Patch.from_arrays(xs + x0, ys + y0, b[y0:y1, x0:x1], a[y0:y1, x0:x1]))
        self._tiles.clear()
        shape = (int(self.mask.shape[0]), int(self.mask.shape[1]))
        return Step(self.description, patches, dict(meta or {}), shape=shape) if patches else None

    def cancel(self) -> None:
        """Put the recorded tiles back (abandon the stroke)."""
        for (ty, tx), b in self._tiles.items():
            ys, xs = ty * TILE, tx * TILE
            self.mask[ys:ys + TILE, xs:xs + TILE] = b
        self._tiles.clear()


FixedTiles = dict[tuple[int, int], np.ndarray]   # (tile row, tile col) -> bool tile


def _paint_into(tiles: FixedTiles, shape: tuple[int, int], step: Step) -> None:
    """Apply one paint step to fixed-pixel tiles: changed to a class -> fixed, erased -> not."""
    h, w = shape
    for p in step.patches:
        before, after = p.before(), p.after()
        changed = before != after
        if not changed.any():
            continue
        painted = changed & (after != step.paint_void)
        for ty, tx in _tiles_of(shape, p.bbox):
            ys, xs = ty * TILE, tx * TILE
            ax0, ay0 = max(p.x, xs), max(p.y, ys)
            ax1, ay1 = min(p.x + p.w, xs + TILE, w), min(p.y + p.h, ys + TILE, h)
            if ax0 >= ax1 or ay0 >= ay1:
                continue
            sl = (slice(ay0 - p.y, ay1 - p.y), slice(ax0 - p.x, ax1 - p.x))
            ch, on = changed[sl], painted[sl]
            tile = tiles.get((ty, tx))
            if tile is None:
                if not on.any():
                    continue
                tile = tiles[(ty, tx)] = np.zeros((min(TILE, h - ys), min(TILE, w - xs)), bool)
            region = tile[ay0 - ys:ay1 - ys, ax0 - xs:ax1 - xs]
            region[ch] = on[ch]


class History:
    """Undo and redo stacks of one image (and the fixed pixels they imply)."""

    def __init__(self) -> None:
        self.undo_stack: deque[Step] = deque()
        self.redo_stack: deque[Step] = deque()
        self.nbytes = 0
        self._base: FixedTiles = {}          # paint of steps dropped for the budget
        self._base_shape: tuple[int, int] | None = None
        self._version = 0
        self._fixed_cache: tuple[int, tuple[int, int], np.ndarray] | None = None

    def push(self, step: Step) -> list[Step]:
        """Add a new step; returns the redo steps it discarded."""
        dropped = list(self.redo_stack)
        self.nbytes -= sum(s.nbytes for s in dropped)
        self.redo_stack.clear()
        self.undo_stack.append(step)
        self.nbytes += step.nbytes
        self._version += 1
        return dropped

    def fixed_pixels(self, mask: np.ndarray, void_value: int) -> np.ndarray:
        """Bool H×W: pixels the user's applied paint steps set to a class and that still hold one.

        Derived from the undo stack each time it changed (cached until the next push, undo,
        redo or drop): undone strokes are excluded, redone ones count again. The result is
        read-only.
        """
        shape = (int(mask.shape[0]), int(mask.shape[1]))
        cached = self._fixed_cache
        if cached is not None and cached[0] == self._version and cached[1] == shape:
            fixed = cached[2]
        else:
            tiles = {k: t.copy() for k, t in self._base.items()} if self._base_shape == shape else {}
            for step in self.undo_stack:
                if step.paint_void is not None:
                    _paint_into(tiles, shape, step)
            fixed = np.zeros(shape, bool)
            for (ty, tx), t in tiles.items():
                fixed[ty * TILE:ty * TILE + t.shape[0], tx * TILE:tx * TILE + t.shape[1]] = t
            self._fixed_cache = (self._version, shape, fixed)
        out = fixed & (mask != np.asarray(void_value).astype(mask.dtype))
        out.setflags(write=False)
        return out

    def can_undo(self) -> bool:
        return bool(self.undo_stack)

    def can_redo(self) -> bool:
        return bool(self.redo_stack)

    def undo(self, mask: np.ndarray) -> Step | None:
        if not self.undo_stack:
            return None
        step = self.undo_stack.pop()
        step.undo(mask)
        self.redo_stack.append(step)
        self._version += 1
        return step

    def redo(self, mask: np.ndarray) -> Step | None:
        if not self.redo_stack:
            return None
        step = self.redo_stack.pop()
        step.redo(mask)
        self.undo_stack.append(step)
        self._version += 1
        return step

    def drop_oldest(self) -> Step | None:
        """Forget the oldest step; its paint is folded into the fixed-pixel base first."""
        if not self.undo_stack:
            return None
        step = self.undo_stack.popleft()
        self.nbytes -= step.nbytes
        if step.paint_void is not None and step.shape is not None:
            if self._base_shape != step.shape:
                self._base, self._base_shape = {}, step.shape
            _paint_into(self._base, step.shape, step)
        self._version += 1
        return step

    def oldest_seq(self) -> int | None:
        return self.undo_stack[0].seq if self.undo_stack else None

    def clear(self) -> None:
        self.undo_stack.clear()
        self.redo_stack.clear()
        self.nbytes = 0
        self._base, self._base_shape = {}, None
        self._version += 1

    def __len__(self) -> int:
        return len(self.undo_stack)


class HistoryStore:
    """One :class:`History` per image key, sharing a byte budget (oldest steps dropped first)."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET) -> None:
        self.budget = budget_bytes
        self._histories: dict[str, History] = {}

    def get(self, key: str) -> History:
        hist = self._histories.get(key)
        if hist is None:
            hist = self._histories[key] = History()
        return hist

    def __contains__(self, key: str) -> bool:
        return key in self._histories

    @property
    def nbytes(self) -> int:
        return sum(h.nbytes for h in self._histories.values())

    def push(self, key: str, step: Step) -> int:
        """Record ``step`` for ``key`` and enforce the budget; returns how many steps were dropped."""
        self.get(key).push(step)
        return self._enforce(keep=step)

    def _enforce(self, keep: Step) -> int:
        dropped = 0
        total = self.nbytes
        while total > self.budget:
            candidates = [(h.oldest_seq(), h) for h in self._histories.values() if h.oldest_seq() is not None]
            if not candidates:
                break
            _, hist = min(candidates, key=lambda c: c[0])
            if hist.undo_stack[0] is keep:
                break  # never drop the step just recorded
            total -= hist.drop_oldest().nbytes  # type: ignore[union-attr]
            dropped += 1
        return dropped

    def forget(self, key: str) -> None:
        self._histories.pop(key, None)

    def clear(self, except_key: str | None = None) -> None:
        for k in list(self._histories):
            if k != except_key:
                del self._histories[k]

    def keys(self) -> list[str]:
        return list(self._histories)
