"""LRU cache of model outputs per (project, image key, model identity), bounded in bytes.

Entries hold the predicted labels (project class ids) and the probabilities as float16
``C×H×W`` (half the memory of float32; plenty for CRF unaries and uncertainty maps). When a
put would exceed ``max_bytes`` the least recently used entries are evicted; an entry larger
than the whole budget keeps its labels only (probabilities dropped). Thread-safe; no Qt.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Hashable

import numpy as np

DEFAULT_MAX_BYTES = 512 * 1024 * 1024


@dataclass
class CachedPrediction:
    labels: np.ndarray               # H×W project class ids
    probs: np.ndarray | None         # C×H×W float16, or None when it did not fit

    @property
    def nbytes(self) -> int:
        return int(self.labels.nbytes + (self.probs.nbytes if self.probs is not None else 0))


class ProbCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, CachedPrediction] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable) -> CachedPrediction | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: Hashable, labels: np.ndarray, probs: np.ndarray | None) -> CachedPrediction:
        if probs is not None and probs.dtype != np.float16:
            probs = probs.astype(np.float16)
        item = CachedPrediction(labels, probs)
        if item.nbytes > self.max_bytes:
            item = CachedPrediction(labels, None)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            while self._items and self._bytes + item.nbytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes
            self._items[key] = item
            self._bytes += item.nbytes
        return item

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
