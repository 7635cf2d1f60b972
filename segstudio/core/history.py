"""Undo/redo as patches: each step keeps, per touched tile, the tight box of changed pixels
before and after (zlib-compressed), never whole masks.

* :class:`PatchRecorder` captures the "before" pixels of a stroke lazily, tile by tile, the
  first time the stroke reaches a tile (so a stroke costs nothing on a 16K mask).
* :class:`Step` is one undoable action (a stroke, a fill, a whole-mask change from a model
  prediction); ``meta`` carries extra state a step restores (e.g. the label set of a merge).
* :class:`History` is the undo/redo pair of stacks of one image.
* :class:`HistoryStore` keeps one history per image key under a global byte budget
  (default 64 MB): when over it, the globally oldest steps are dropped first.
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
    """One undoable action: its patches, a description for menus, and optional extra state."""
    description: str
    patches: list[Patch]
    meta: dict[str, Any] = field(default_factory=dict)
    seq: int = field(default_factory=lambda: next(_seq))

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
        return cls(description, patches, dict(meta or {}))


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
        return Step(self.description, patches, dict(meta or {})) if patches else None

    def cancel(self) -> None:
        """Put the recorded tiles back (abandon the stroke)."""
        for (ty, tx), b in self._tiles.items():
            ys, xs = ty * TILE, tx * TILE
            self.mask[ys:ys + TILE, xs:xs + TILE] = b
        self._tiles.clear()


class History:
    """Undo and redo stacks of one image."""

    def __init__(self) -> None:
        self.undo_stack: deque[Step] = deque()
        self.redo_stack: deque[Step] = deque()
        self.nbytes = 0

    def push(self, step: Step) -> list[Step]:
        """Add a new step; returns the redo steps it discarded."""
        dropped = list(self.redo_stack)
        self.nbytes -= sum(s.nbytes for s in dropped)
        self.redo_stack.clear()
        self.undo_stack.append(step)
        self.nbytes += step.nbytes
        return dropped

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
        return step

    def redo(self, mask: np.ndarray) -> Step | None:
        if not self.redo_stack:
            return None
        step = self.redo_stack.pop()
        step.redo(mask)
        self.undo_stack.append(step)
        return step

    def drop_oldest(self) -> Step | None:
        if not self.undo_stack:
            return None
        step = self.undo_stack.popleft()
        self.nbytes -= step.nbytes
        return step

    def oldest_seq(self) -> int | None:
        return self.undo_stack[0].seq if self.undo_stack else None

    def clear(self) -> None:
        self.undo_stack.clear()
        self.redo_stack.clear()
        self.nbytes = 0

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
