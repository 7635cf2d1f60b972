"""The open image: its mask, undo history, incremental class counts; fixed pixels on request.

:class:`Document` is the one place that changes a mask. Tools call ``begin_stroke`` /
``stroke`` / ``end_stroke``, ``flood_fill``, ``fill_polygon``, ``replace_in_rect``; panels
(model prediction, CRF, …) call :meth:`Document.apply_mask` to replace the whole mask as
ONE undo step. Every change emits ``maskEdited(bbox)`` with the dirty box, is journaled at
once and autosaved a second later. Other panels read ``key``, ``mask``, ``image``,
``labels`` and :meth:`fixed_pixels`, and listen to ``imageChanged`` / ``maskEdited``.
Fixed pixels are not kept here: steps of the user's tools are marked as paint and
:meth:`fixed_pixels` asks the image's :class:`~segstudio.core.history.History` (what is painted
*now*: undone strokes do not count). ``extras["prediction"]`` holds the saved, never accepted
prediction of the open image (shown as a prediction, never as its mask).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from segstudio.core import paint
from segstudio.core.history import DEFAULT_BUDGET, HistoryStore, PatchRecorder, Step
from segstudio.core.images import LoadedImage
from segstudio.core.labels import LabelSet, preset
from segstudio.core.project import Project, Status
from segstudio.gui.loader import ImageLoader, LoadResult
from segstudio.gui.persistence import AutoSaver

BBox = tuple[int, int, int, int]


class Document(QObject):
    imageChanged = Signal(str)        # key of the image now shown ("" when none)
    loadStarted = Signal(str)         # key being read
    loadFailed = Signal(str, str)     # key, message
    maskEdited = Signal(object)       # dirty bbox (x0, y0, x1, y1), exclusive ends
    maskReplaced = Signal()           # the whole mask changed identity/size (rare)
    countsChanged = Signal()
    historyChanged = Signal()
    labelsChanged = Signal()
    labelsRenumbered = Signal()       # the next labelsChanged renumbers class ids (merge, delete, …)
    statusChanged = Signal(str, str)  # key, Status value
    message = Signal(str)

    def __init__(self, parent: QObject | None = None, history_budget: int = DEFAULT_BUDGET,
                 autosave_ms: int | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.key: str | None = None
        self.path: Path | None = None
        self.image: LoadedImage | None = None
        self.mask: np.ndarray | None = None
        self.counts: np.ndarray = np.zeros(0, np.int64)
        self.extras: dict[str, Any] = {}
        self.histories = HistoryStore(history_budget)
        self._recorder: PatchRecorder | None = None
        self._loading: str | None = None
        # hook run when an undo/redo crosses a label-set change: (labels, lut to apply to other masks)
        self.labels_hook: Callable[[LabelSet, np.ndarray], None] | None = None
        self.loader = ImageLoader(self)
        self.loader.loaded.connect(self._on_loaded)
        kwargs = {} if autosave_ms is None else {"delay_ms": autosave_ms}
        self.saver = AutoSaver(lambda: (self.key, self.mask), self, **kwargs)
        self.saver.saved.connect(self._on_saved)
        self.saver.failed.connect(lambda _k, msg: self.message.emit(msg))

    # -- queries -------------------------------------------------------------------------
    @property
    def labels(self) -> LabelSet:
        return self.project.labels if self.project is not None else preset("camvid")

    @property
    def loading(self) -> bool:
        return self._loading is not None

    @property
    def dirty(self) -> bool:
        return self.saver.is_dirty(self.key)

    def value_at(self, x: float, y: float) -> int | None:
        return None if self.mask is None else paint.pick(self.mask, x, y)

    def fixed_pixels(self) -> np.ndarray | None:
        """Bool H×W (read-only): pixels of the open image the user's applied paint steps (brush,
        fill, polygon, replace) set to a class; derived from its undo history."""
        if self.key is None or self.mask is None:
            return None
        return self.histories.get(self.key).fixed_pixels(self.mask, self.labels.void_value)

    def history(self):
        return self.histories.get(self.key) if self.key is not None else None

    # -- project and image switching ---------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        self.close_image()
        self.saver.set_project(project)
        self.project = project
        self.histories.clear()
        self.labelsChanged.emit()

    def open(self, key: str, path: str | Path) -> None:
        """Start loading ``key``; the current image is saved (in the background) first."""
        if self.project is None:
            return
        self.end_stroke()
        if self.key is not None and self.mask is not None:
            self.saver.save(self.key, self.mask)
        self._loading = key
        self.loadStarted.emit(key)
        self.loader.request(self.project, key, Path(path))

    def _on_loaded(self, res: LoadResult) -> None:
        self._loading = None
        if res.error is not None or res.mask is None:
            self._clear_image()
            self.loadFailed.emit(res.key, res.error or "unknown error")
            self.imageChanged.emit("")
            return
        if res.labels is not self.labels:  # label set changed while reading: rebuild derived data
            res.counts = paint.histogram(res.mask, self.labels.max_value + 1)
            res.extras.pop("canvas", None)
            res.extras.pop("prediction", None)   # read in the old ids
        self.end_stroke()
        if self.key is not None and self.mask is not None and self.key != res.key:
            self.saver.save(self.key, self.mask)   # edits made while the next image was loading
        self.key, self.path, self.image, self.mask = res.key, res.path, res.image, res.mask
        self.counts = res.counts if res.counts is not None else paint.histogram(res.mask, self.labels.max_value + 1)
        self.extras = res.extras
        if res.recovered:
            self.saver.mark_dirty(res.key)
            self.message.emit(f"{res.key}: unsaved edits recovered from the journal")
        self.imageChanged.emit(res.key)
        self.countsChanged.emit()
        self.historyChanged.emit()

    def close_image(self) -> None:
        self.end_stroke()
        self.saver.flush()
        self._clear_image()
        self.imageChanged.emit("")

    def _clear_image(self) -> None:
        self.key = self.path = self.image = self.mask = None
        self.extras = {}
        self.counts = np.zeros(0, np.int64)

    def wait_loaded(self, msecs: int = -1) -> None:
        self.loader.wait(msecs)

    # -- editing: strokes ------------------------------------------------------------------
    def begin_stroke(self, description: str) -> None:
        self.end_stroke()
        if self.mask is not None:
            self._recorder = PatchRecorder(self.mask, description)

    def stroke(self, p0: tuple[float, float], p1: tuple[float, float], size: float, value: int,
               preserve: bool = False) -> BBox | None:
        """Paint one segment of the stroke in progress (brush or eraser)."""
        if self.mask is None:
            return None
        if self._recorder is None:
            self.begin_stroke("Brush")
        st = paint.stroke_stamp(p0, p1, size, self.mask.shape)
        if st is None:
            return None
        assert self._recorder is not None
        self._recorder.touch(st[0])
        edit = paint.apply_stamp(self.mask, st[0], st[1], value, protected=self.protected(preserve))
        self._edited(edit)
        return edit.bbox

    def end_stroke(self) -> Step | None:
        rec, self._recorder = self._recorder, None
        if rec is None:
            return None
        step = rec.finish()
        if step is not None:
            step.paint_void = self.labels.void_value     # the user's own paint: fixes pixels
            self._commit(step)
        return step

    # -- editing: one-shot tools -----------------------------------------------------------------
    def _one_shot(self, description: str, bbox: BBox | None, apply: Callable[[np.ndarray], paint.Edit | None]) -> bool:
        if self.mask is None or bbox is None:
            return False
        self.begin_stroke(description)
        assert self._recorder is not None
        self._recorder.touch(bbox)
        edit = apply(self.mask)
        if edit is not None:
            self._edited(edit)
        return self.end_stroke() is not None

    def flood_fill(self, x: float, y: float, value: int, preserve: bool = False) -> bool:
        if self.mask is None:
            return False
        old = paint.pick(self.mask, x, y)
        if old is None or old == value or paint.is_protected(self.protected(preserve), old):
            return False
        found = paint.region_at(self.mask, int(x), int(y))
        if found is None:
            return False
        bbox, region = found
        return self._one_shot("Flood fill", bbox, lambda m: paint.apply_stamp(m, bbox, region, value))

    def fill_polygon(self, points: list[tuple[float, float]], value: int, preserve: bool = False) -> bool:
        if self.mask is None:
            return False
        st = paint.polygon_stamp(points, self.mask.shape)
        if st is None:
            return False
        prot = self.protected(preserve)
        return self._one_shot("Polygon", st[0], lambda m: paint.apply_stamp(m, st[0], st[1], value, protected=prot))

    def replace_in_rect(self, a: tuple[float, float], b: tuple[float, float], old: int, value: int) -> bool:
        if self.mask is None:
            return False
        rect = paint.rect_from_points(a, b, self.mask.shape)
        prot = self.protected(False)
        return self._one_shot("Replace class", rect, lambda m: paint.replace_in_rect(m, rect, old, value, prot))

    def apply_stamp(self, description: str, stamp: tuple[BBox, np.ndarray] | None, value: int,
                    preserve: bool = False) -> bool:
        """Smart tools (``core.tools``): write ``value`` over a proposal ``(bbox, bool patch)`` as ONE undo step."""
        if self.mask is None or stamp is None:
            return False
        bbox, patch = stamp
        prot = self.protected(preserve)
        return self._one_shot(description, bbox, lambda m: paint.apply_stamp(m, bbox, patch, value, protected=prot))

    def protected(self, preserve: bool = False):
        """Values no tool may write over: the label panel's locked classes (``locked_classes``), and with
        ``preserve`` every non-void value (``core.paint.protect_table``)."""
        dtype = self.mask.dtype if self.mask is not None else np.uint8
        return paint.protect_table(dtype, getattr(self, "locked_classes", ()), self.labels.void_value, preserve)

    def _edited(self, edit: paint.Edit) -> None:
        if edit.count == 0:
            return
        n = self.counts.size
        if n:
            self.counts -= np.bincount(edit.old, minlength=n)[:n]
            if edit.value < n:
                self.counts[edit.value] += edit.count
        self.maskEdited.emit(edit.bbox)
        self.countsChanged.emit()

    # -- whole-mask changes, undo, redo -----------------------------------------------------------
    def apply_mask(self, new_mask: np.ndarray, description: str, meta: dict[str, Any] | None = None) -> bool:
        """Replace the whole mask (e.g. by a prediction or CRF result) as ONE undo step."""
        if self.mask is None:
            return False
        self.end_stroke()
        new_mask = np.asarray(new_mask)
        if new_mask.shape != self.mask.shape:
            raise ValueError(f"apply_mask: new mask is {new_mask.shape}, open mask is {self.mask.shape}")
        step = Step.from_masks(self.mask, new_mask.astype(self.mask.dtype, copy=False), description, meta)
        if step is None:
            return False
        step.redo(self.mask)
        self._commit(step)
        self._after_step(step, full_counts=True)
        return True

    def undo(self) -> bool:
        return self._walk(undo=True)

    def redo(self) -> bool:
        return self._walk(undo=False)

    def _walk(self, undo: bool) -> bool:
        if self.mask is None or self.key is None:
            return False
        self.end_stroke()
        hist = self.histories.get(self.key)
        stack = hist.undo_stack if undo else hist.redo_stack
        if not stack:
            return False
        step = stack[-1]
        box = step.bbox
        before = self._region_counts(box) if box else None
        (hist.undo if undo else hist.redo)(self.mask)
        if "labels" in step.meta:
            old_labels, new_labels = step.meta["labels"]
            luts = step.meta["luts"]
            self._switch_labels(old_labels if undo else new_labels, luts[1] if undo else luts[0])
        self.saver.record(self.key, self.mask, [(p.x, p.y, p.before() if undo else p.after()) for p in step.patches])
        if box and "labels" not in step.meta and before is not None:
            n = self.counts.size
            self.counts += self._region_counts(box)[:n] - before[:n]
        self._after_step(step, full_counts="labels" in step.meta)
        self.historyChanged.emit()
        return True

    def _region_counts(self, box: BBox) -> np.ndarray:
        x0, y0, x1, y1 = box
        assert self.mask is not None
        return paint.histogram(self.mask[y0:y1, x0:x1], max(self.counts.size, 1))

    def _commit(self, step: Step) -> None:
        assert self.key is not None and self.mask is not None
        self.histories.push(self.key, step)
        self.saver.record(self.key, self.mask, [(p.x, p.y, p.after()) for p in step.patches])
        self.historyChanged.emit()

    def _after_step(self, step: Step, full_counts: bool) -> None:
        assert self.mask is not None
        if full_counts:
            self.counts = paint.histogram(self.mask, self.labels.max_value + 1)
        box = step.bbox
        if box is not None:
            self.maskEdited.emit(box)
        self.countsChanged.emit()

    # -- labels ----------------------------------------------------------------------------------
    def _switch_labels(self, labels: LabelSet, lut: np.ndarray) -> None:
        if self.labels_hook is not None:
            self.labels_hook(labels, lut)
        elif self.project is not None:
            self.project.set_labels(labels)
        self.histories.clear(except_key=self.key)
        self.labelsRenumbered.emit()
        self.labelsChanged.emit()

    def set_labels(self, labels: LabelSet) -> None:
        """Label-set change that keeps every id (rename, recolour, add a class)."""
        if self.project is None:
            return
        self.project.set_labels(labels)
        if self.mask is not None:
            counts = np.zeros(labels.max_value + 1, np.int64)
            n = min(counts.size, self.counts.size)
            counts[:n] = self.counts[:n]
            self.counts = counts
        self.labelsChanged.emit()
        self.countsChanged.emit()

    # -- status and saving ---------------------------------------------------------------------------
    def save(self, wait: bool = False) -> None:
        self.end_stroke()
        if self.key is not None and self.mask is not None:
            self.saver.save(self.key, self.mask, wait=wait)

    def _on_saved(self, key: str) -> None:
        if self.project is not None:   # edited, or back to predicted/unlabelled when nothing is labelled
            self.statusChanged.emit(key, self.project.status(key).value)

    def set_status(self, key: str, status: Status) -> None:
        """Set a status (e.g. reviewed); the open image's edits are saved first."""
        if self.project is None:
            return
        if key == self.key and self.mask is not None:
            self.saver.mark_dirty(key)   # make sure the reviewed state has a mask on disk
            self.saver.save(key, self.mask, wait=True, keep_empty=True)
        self.project.set_status(key, status)
        self.statusChanged.emit(key, Status(status).value)
