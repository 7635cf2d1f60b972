"""Read an image and its mask off the GUI thread; results come back as ``LoadResult``.

The mask is the saved one (``masks/<key>.png``, core's rule for what a mask is), else all
void — never the model's prediction: a saved, not yet accepted prediction comes back apart, in
``extras["prediction"]``, and is shown as a prediction until the user accepts it. A crash
journal left for that image is replayed onto the mask. Registered ``preparers`` (e.g. the canvas building
its colour overlay) also run on the worker, so the GUI thread only swaps buffers.
Only the newest request's result is delivered: flipping quickly through images never
shows a stale one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from segstudio.core import journal, paint
from segstudio.core.errors import ProjectError, SegStudioError
from segstudio.core.images import LoadedImage, read_image
from segstudio.core.labels import LabelSet
from segstudio.core.project import Project
from segstudio.gui.workers import Workers


@dataclass
class LoadResult:
    seq: int
    key: str
    path: Path
    labels: LabelSet
    image: LoadedImage | None = None
    mask: np.ndarray | None = None
    source: str = "void"        # "mask" or "void"
    recovered: bool = False     # a journal was replayed: the mask differs from the saved one
    counts: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def load(seq: int, project: Project, key: str, path: Path, preparers: list[Callable[[LoadResult], None]]) -> LoadResult:
    labels = project.labels
    res = LoadResult(seq, key, Path(path), labels)
    try:
        res.image = read_image(path)
        mask = project.read_mask(key)
        res.source = "mask"
        h, w = res.image.size
        if mask is None:
            mask = np.full((h, w), labels.void_value, labels.dtype)
            res.source = "void"
        elif mask.shape != (h, w):
            raise ProjectError(f"{project.mask_path(key)}: mask is {mask.shape[1]}×{mask.shape[0]} "
                               f"but the image is {w}×{h}")
        res.extras["mask_saved"] = res.source == "mask"
        _read_prediction(res, project, key, (h, w))
        jpath = journal.journal_path(project.store, key)
        if jpath.exists():
            mask = journal.replay(jpath, mask, labels.void_value)
            res.recovered = True
        res.mask = np.ascontiguousarray(mask)
        res.counts = paint.histogram(res.mask, labels.max_value + 1)
        for prep in preparers:
            prep(res)
    except (SegStudioError, OSError, ValueError, MemoryError) as exc:
        res.error = str(exc)
        res.image = res.mask = None
    return res


def _read_prediction(res: LoadResult, project: Project, key: str, shape: tuple[int, int]) -> None:
    """The saved prediction into ``res.extras["prediction"]``; a broken one is a note, not an error."""
    try:
        pred = project.read_prediction(key)
    except (SegStudioError, OSError, ValueError) as exc:
        res.extras["prediction_error"] = str(exc)
        return
    if pred is None:
        return
    if pred.shape != shape:
        res.extras["prediction_error"] = (f"{project.prediction_path(key)}: prediction is {pred.shape[1]}×"
                                          f"{pred.shape[0]} but the image is {shape[1]}×{shape[0]}")
        return
    res.extras["prediction"] = pred


class ImageLoader(QObject):
    loaded = Signal(object)  # LoadResult (newest request only)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers = Workers(self, threads=2)
        self.preparers: list[Callable[[LoadResult], None]] = []
        self._seq = 0

    def request(self, project: Project, key: str, path: Path) -> int:
        self._seq += 1
        self.workers.submit(load, self._seq, project, key, path, list(self.preparers), on_done=self._done)
        return self._seq

    def _done(self, res: LoadResult) -> None:
        if res.seq == self._seq:
            self.loaded.emit(res)

    def wait(self, msecs: int = -1) -> bool:
        return self.workers.wait(msecs)
