"""Superpixels (SLIC / SLICO / MSLIC / SEEDS / LSC through ``cv2.ximgproc``), their per-image
cache, and the superpixel brush (a stroke fills every superpixel it touches).

:func:`compute` segments an RGB image into superpixels of about ``size`` pixels across;
images above ``max_pixels`` are segmented at a reduced size and the ids scaled back up
(nearest), so the work stays bounded. The result, :class:`Superpixels`, keeps each
superpixel's pixel count and bounding box so a brush stamp or a region snap only touches the
boxes involved, never the whole image. :class:`SuperpixelCache` holds the last few results
by ``(image key, method, size)``; the GUI fills it from a worker thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Hashable

import cv2
import numpy as np

from segstudio.core import paint
from segstudio.core.errors import SegStudioError
from segstudio.core.tools import Stamp

METHODS = ("slic", "slico", "mslic", "seeds", "lsc")
MIN_SIZE, MAX_SIZE = 4, 400
DEFAULT_SIZE = 24
MAX_PIXELS = 4_000_000


class SuperpixelError(SegStudioError):
    """Superpixels cannot be computed (unknown method, OpenCV without ximgproc)."""


@dataclass(frozen=True, eq=False)
class Superpixels:
    labels: np.ndarray   # int32 H×W superpixel ids
    sizes: np.ndarray    # int64, pixel count per id (0 for unused ids)
    boxes: np.ndarray    # int32 n×4 (x0, y0, x1, y1) per id, exclusive ends
    method: str = "slic"
    size: int = DEFAULT_SIZE

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.sizes))

    def ids_in(self, stamp: Stamp) -> np.ndarray:
        """Ids of the superpixels that ``stamp`` touches (sorted, unique)."""
        (x0, y0, x1, y1), patch = stamp
        return np.unique(self.labels[y0:y1, x0:x1][patch])

    def stamp(self, ids: np.ndarray) -> Stamp | None:
        """Union of the superpixels ``ids`` as ``(bbox, bool patch)``."""
        ids = np.asarray(ids, np.int64)
        if ids.size == 0:
            return None
        b = self.boxes[ids]
        x0, y0 = int(b[:, 0].min()), int(b[:, 1].min())
        x1, y1 = int(b[:, 2].max()), int(b[:, 3].max())
        patch = np.isin(self.labels[y0:y1, x0:x1], ids)
        return (x0, y0, x1, y1), patch


def _boxes(labels: np.ndarray, n: int) -> np.ndarray:
    h, w = labels.shape
    flat = labels.reshape(-1)
    ys, xs = np.divmod(np.arange(flat.size, dtype=np.int64), w)
    boxes = np.empty((n, 4), np.int64)
    boxes[:, :2] = np.iinfo(np.int64).max
    boxes[:, 2:] = -1
    np.minimum.at(boxes[:, 0], flat, xs)
    np.minimum.at(boxes[:, 1], flat, ys)
    np.maximum.at(boxes[:, 2], flat, xs + 1)
    np.maximum.at(boxes[:, 3], flat, ys + 1)
    return boxes.astype(np.int32, copy=False)


def from_labels(labels: np.ndarray, method: str = "given", size: int = 0) -> Superpixels:
    """Wrap an existing id map (any non-negative integers) as :class:`Superpixels`."""
    labels = np.ascontiguousarray(labels, np.int32)
    if labels.ndim != 2 or labels.size == 0 or labels.min() < 0:
        raise SuperpixelError(f"superpixel ids must be a non-empty H×W map of ids ≥ 0, got {labels.shape}")
    n = int(labels.max()) + 1
    sizes = np.bincount(labels.reshape(-1), minlength=n).astype(np.int64)
    return Superpixels(labels, sizes, _boxes(labels, n), method, size)


def _ximgproc():
    xi = getattr(cv2, "ximgproc", None)
    if xi is None:
        raise SuperpixelError("superpixels need OpenCV's ximgproc module: pip install opencv-contrib-python-headless")
    return xi


def _segment(rgb: np.ndarray, method: str, size: int, ruler: float, iterations: int) -> np.ndarray:
    xi = _ximgproc()
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    lab = cv2.GaussianBlur(lab, (3, 3), 0)
    h, w = lab.shape[:2]
    if method in ("slic", "slico", "mslic"):
        algo = {"slic": xi.SLIC, "slico": xi.SLICO, "mslic": xi.MSLIC}[method]
        seg = xi.createSuperpixelSLIC(lab, algorithm=algo, region_size=size, ruler=float(ruler))
        seg.iterate(iterations)
        seg.enforceLabelConnectivity(25)
    elif method == "lsc":
        seg = xi.createSuperpixelLSC(lab, region_size=size)
        seg.iterate(iterations)
        seg.enforceLabelConnectivity(25)
    elif method == "seeds":
        n = max(1, (h * w) // (size * size))
        seg = xi.createSuperpixelSEEDS(w, h, 3, n, 4, 2, 5, False)
        seg.iterate(lab, iterations)
    else:
        raise SuperpixelError(f"unknown superpixel method {method!r}; choose one of {', '.join(METHODS)}")
    return seg.getLabels()


def compute(rgb: np.ndarray, method: str = "slic", size: int = DEFAULT_SIZE, ruler: float = 10.0,
            iterations: int = 10, max_pixels: int = MAX_PIXELS) -> Superpixels:
    """Superpixels of an ``H×W×3`` uint8 RGB image, about ``size`` pixels across each."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] < 3 or rgb.dtype != np.uint8:
        raise SuperpixelError(f"superpixels need an H×W×3 uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    size = int(min(MAX_SIZE, max(MIN_SIZE, size)))
    h, w = rgb.shape[:2]
    scale = min(1.0, (max_pixels / float(h * w)) ** 0.5)
    work = np.ascontiguousarray(rgb[..., :3])
    if scale < 1.0:
        work = cv2.resize(work, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    side = min(work.shape[:2])
    if side < MIN_SIZE:                    # too small to split: one superpixel
        labels = np.zeros(work.shape[:2], np.int32)
    else:                                  # ximgproc crashes on a region size larger than the image
        labels = _segment(work, method, min(side, max(MIN_SIZE, round(size * scale))), ruler, iterations)
    if scale < 1.0:
        labels = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
    return from_labels(labels, method, size)


def brush_stamp(sp: Superpixels, p0: tuple[float, float], p1: tuple[float, float], size: float) -> Stamp | None:
    """Every superpixel a round brush of diameter ``size`` dragged ``p0`` → ``p1`` touches."""
    st = paint.stroke_stamp(p0, p1, size, sp.labels.shape)
    if st is None:
        return None
    return sp.stamp(sp.ids_in(st))


class SuperpixelCache:
    """Thread-safe LRU of :class:`Superpixels` by ``(key, method, size)``."""

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Hashable, Superpixels] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key: Hashable, method: str, size: int) -> Superpixels | None:
        with self._lock:
            sp = self._items.get((key, method, int(size)))
            if sp is not None:
                self._items.move_to_end((key, method, int(size)))
            return sp

    def put(self, key: Hashable, sp: Superpixels) -> None:
        with self._lock:
            self._items[(key, sp.method, int(sp.size))] = sp
            self._items.move_to_end((key, sp.method, int(sp.size)))
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, key: Hashable, rgb: np.ndarray, method: str = "slic", size: int = DEFAULT_SIZE) -> Superpixels:
        """The cached superpixels of ``key``, computed (once) when missing."""
        sp = self.peek(key, method, size)
        if sp is None:
            sp = compute(rgb, method, size)
            self.put(key, sp)
        return sp

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
