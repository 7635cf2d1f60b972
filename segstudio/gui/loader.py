"""Read an image and its mask off the GUI thread; results come back as ``LoadResult``.

The mask is the saved one, else the model's prediction, else all void; a crash journal
left for that image is replayed onto it. Registered ``preparers`` (e.g. the canvas building
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
    source: str = "void"        # "mask", "prediction" or "void"
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
        if mask is None:
            mask = project.read_prediction(key)
            res.source = "prediction"
        h, w = res.image.size
        if mask is None:
            mask = np.full((h, w), labels.void_value, labels.dtype)
            res.source = "void"
        elif mask.shape != (h, w):
            where = project.mask_path(key) if res.source == "mask" else project.prediction_path(key)
            raise ProjectError(f"{where}: mask is {mask.shape[1]}×{mask.shape[0]} but the image is {w}×{h}")
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
