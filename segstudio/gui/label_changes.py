"""Label-set edits that renumber ids (merge, delete, moving the void value, presets).

An edit is a new :class:`LabelSet` plus, for each new class, the old values that feed it
(``sources``). From these :func:`build_lut` makes the old-value -> new-value table. The open
image's mask is rewritten through :meth:`Document.apply_mask` as one undoable step that
also carries the label sets; every other saved mask and prediction on disk is rewritten
atomically (after the user confirmed). Undoing the step restores the old label set and
rewrites the other masks back through :func:`inverse_lut` (merged pixels stay merged).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from segstudio.core import masks, paint
from segstudio.core.errors import SegStudioError
from segstudio.core.labels import LabelSet


def _lut_size(old: LabelSet, new: LabelSet) -> int:
    return 256 if old.dtype == np.uint8 and new.dtype == np.uint8 else 65536


def build_lut(old: LabelSet, new: LabelSet, sources: list[Iterable[int]]) -> np.ndarray | None:
    """old value -> new value; old ids no new class claims become the new void. None: identity."""
    size = _lut_size(old, new)
    lut = np.arange(size, dtype=np.int64)
    claimed = np.zeros(size, bool)
    for new_id, srcs in enumerate(sources):
        for s in srcs:
            lut[s] = new_id
            claimed[s] = True
    for v in range(old.max_value + 1):
        if not claimed[v] and (v < old.num_classes or v == old.void_value):
            lut[v] = new.void_value
    lut = lut.astype(new.dtype)
    valid = old.valid_values_lut(size)
    identity = np.arange(size, dtype=new.dtype)
    return None if np.array_equal(lut[valid], identity[valid]) else lut


def inverse_lut(old: LabelSet, new: LabelSet, lut: np.ndarray) -> np.ndarray:
    """new value -> old value; a merged class goes back to the old class of the same name."""
    size = _lut_size(old, new)
    inv = np.arange(size, dtype=np.int64)
    valid_old = old.valid_values_lut(size)
    for v in range(new.max_value + 1):
        cands = [int(u) for u in np.flatnonzero((lut[:size] == v) & valid_old)]
        if not cands:
            continue
        choice = cands[0]
        if v < new.num_classes:
            name = new.classes[v].name
            same = [u for u in cands if u < old.num_classes and old.classes[u].name == name]
            choice = same[0] if same else choice
        elif v == new.void_value and old.void_value in cands:
            choice = old.void_value
        inv[v] = choice
    return inv.astype(old.dtype)


def stored_masks(store: Path) -> list[Path]:
    out = []
    for sub in ("masks", "predictions"):
        folder = store / sub
        if folder.is_dir():
            out += sorted(p for p in folder.glob("*.png") if not p.name.startswith("."))
    return out


def rewrite_store(store: Path, old: LabelSet, new: LabelSet, lut: np.ndarray, skip: Iterable[Path] = (),
                  progress: Callable[[int, int], bool] | None = None) -> tuple[int, list[str]]:
    """Remap every saved mask/prediction under ``store`` (atomic per file). Returns (count, errors).

    ``progress(done, total)`` may return False to stop early.
    """
    skip_set = {Path(p).resolve() for p in skip}
    files = [p for p in stored_masks(store) if p.resolve() not in skip_set]
    errors: list[str] = []
    done = 0
    for i, path in enumerate(files):
        if progress is not None and progress(i, len(files)) is False:
            break
        try:
            arr = masks.read_mask(path, old)
            masks.write_mask(path, paint.remap(arr, lut).astype(new.dtype, copy=False), new)
            done += 1
        except (SegStudioError, OSError) as exc:
            errors.append(str(exc))
    return done, errors


def sources_by_id(old: LabelSet, new: LabelSet) -> list[set[int]]:
    """Sources for a label set that keeps ids as they are (presets): class i <- old class i."""
    return [{i} if i < old.num_classes else set() for i in range(new.num_classes)]


class LabelController:
    """Applies label-set edits to the open document and the project store.

    ``confirm(text) -> bool`` asks the user (a message box in the app, a stub in tests);
    ``progress(done, total) -> bool`` reports disk rewrites.
    """

    def __init__(self, doc, confirm: Callable[[str], bool],
                 progress: Callable[[int, int], bool] | None = None) -> None:
        self.doc = doc
        self.confirm = confirm
        self.progress = progress
        doc.labels_hook = self._switch

    def _open_mask_path(self) -> list[Path]:
        doc = self.doc
        return [doc.project.mask_path(doc.key)] if doc.key is not None else []

    def apply(self, new: LabelSet, sources: list[Iterable[int]], description: str = "Edit labels") -> bool:
        """Make ``new`` the project's label set; ``sources[i]``: old values that become class ``i``."""
        doc = self.doc
        if doc.project is None:
            return False
        old = doc.labels
        lut = build_lut(old, new, sources)
        if lut is None:
            doc.set_labels(new)
            return True
        doc.end_stroke()
        doc.saver.flush()
        others = [p for p in stored_masks(doc.project.store) if p not in self._open_mask_path()]
        if others and not self.confirm(
                f"This edit changes class ids: {len(others)} saved mask(s) and prediction(s) in "
                f"{doc.project.store} will be rewritten now (the open image can be undone with Ctrl+Z). Continue?"):
            return False
        inv = inverse_lut(old, new, lut)
        new_mask = paint.remap(doc.mask, lut).astype(new.dtype) if doc.mask is not None else None
        _, errors = rewrite_store(doc.project.store, old, new, lut, self._open_mask_path(), self.progress)
        doc.project.set_labels(new)
        doc.histories.clear(except_key=doc.key)
        if doc.mask is not None and new_mask is not None:
            if new_mask.dtype != doc.mask.dtype:
                doc.mask = new_mask   # wider ids: a new array, history of the old width is void
                doc.histories.clear()
                doc.saver.mark_dirty(doc.key)
                doc.maskReplaced.emit()
            else:
                doc.apply_mask(new_mask, description, meta={"labels": (old, new), "luts": (lut, inv)})
        doc.labelsRenumbered.emit()
        doc.set_labels(new)
        for e in errors:
            doc.message.emit(e)
        return True

    def _switch(self, labels: LabelSet, lut: np.ndarray) -> None:
        """Undo/redo of a renumbering step: rewrite the other stored masks, then switch labels."""
        doc = self.doc
        doc.saver.wait()   # (not flush: the open mask is already in the target ids)
        _, errors = rewrite_store(doc.project.store, doc.labels, labels, lut, self._open_mask_path(), self.progress)
        doc.project.set_labels(labels)
        for e in errors:
            doc.message.emit(e)
