"""Thumbnails for the file list, made off the GUI thread and cached (memory LRU + disk).

``ThumbnailCache.get(key, path)`` answers at once: the ``QImage`` when it is in memory, else
None after queueing the key. Only rows the view actually paints ask (the model's
``DecorationRole``), so a 100,000-image folder costs what is on screen. The queue is
newest-first and bounded (:attr:`MAX_QUEUE`): after a fast scroll, rows that went by are
dropped, and the rows now visible are made first. One worker thread reads and scales
(``core.thumbs``, which caches on disk under ``segstudio/thumbs/``) and returns an RGB array;
the ``QImage`` is made on the GUI thread, then ``ready(key)`` is emitted.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from segstudio.core import thumbs
from segstudio.gui.workers import Workers


class ThumbnailCache(QObject):
    ready = Signal(str)
    MAX_QUEUE = 256

    def __init__(self, store: Path | None, size: int = 48, capacity: int = 2000,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store, self.size, self.capacity = store, size, capacity
        self.workers = Workers(self, threads=1)
        self._images: OrderedDict[str, QImage | None] = OrderedDict()   # None: could not be made
        self._queue: OrderedDict[str, Path] = OrderedDict()             # newest last
        self._lock = threading.Lock()
        self.made = 0                                                   # tests / diagnostics

    def get(self, key: str, path: Path) -> QImage | None:
        if key in self._images:
            self._images.move_to_end(key)
            return self._images[key]
        with self._lock:
            queued = key in self._queue
            self._queue.pop(key, None)
            self._queue[key] = Path(path)
            while len(self._queue) > self.MAX_QUEUE:
                self._queue.popitem(last=False)           # the oldest request scrolled away
        if not queued:
            self.workers.submit(self._one, on_done=self._deliver)
        return None

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
        self._images.clear()

    def wait(self) -> None:
        self.workers.wait()

    # -- worker thread ----------------------------------------------------------------------
    def _one(self) -> tuple[str, np.ndarray | None] | None:
        """Make the NEWEST queued thumbnail (one task per request; stale tasks find the queue empty)."""
        with self._lock:
            if not self._queue:
                return None
            key, path = self._queue.popitem(last=True)
        try:
            return key, thumbs.thumbnail(self.store, key, path, self.size, write_cache=self.store is not None)
        except Exception:  # noqa: BLE001 - an unreadable image just has no thumbnail
            return key, None

    # -- GUI thread ----------------------------------------------------------------------------
    def _deliver(self, result: tuple[str, np.ndarray | None] | None) -> None:
        if result is None:
            return
        key, rgb = result
        img = None
        if rgb is not None:
            rgb = np.ascontiguousarray(rgb)
            h, w = rgb.shape[:2]
            img = QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888).copy()
        self._images[key] = img
        self.made += 1
        while len(self._images) > self.capacity:
            self._images.popitem(last=False)
        self.ready.emit(key)
