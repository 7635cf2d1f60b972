"""Thumbnails of project images: made from the guarded image reader, cached on disk.

``thumbnail(project_store, key, image_path, size)`` returns an ``h×w×3`` uint8 RGB array whose
long side is at most ``size``: from ``<store>/thumbs/<size>/<key>.png`` when that file is newer
than the image, else made (area-averaged down-scaling) and written there atomically. Pure
numpy/OpenCV/PIL; the GUI calls it on a worker thread (``gui.thumbnails``).
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from segstudio.core import atomic
from segstudio.core.images import read_image

DIR = "thumbs"


def cache_path(store: Path, key: str, size: int) -> Path:
    return Path(store) / DIR / str(int(size)) / f"{key}.png"


def make_thumbnail(rgb: np.ndarray, size: int) -> np.ndarray:
    """``rgb`` scaled down (never up) so that its long side is at most ``size`` pixels."""
    h, w = rgb.shape[:2]
    scale = min(1.0, size / max(h, w, 1))
    if scale >= 1.0:
        return np.ascontiguousarray(rgb)
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    return cv2.resize(rgb, (tw, th), interpolation=cv2.INTER_AREA)


def thumbnail(store: Path, key: str, image_path: Path, size: int = 64, write_cache: bool = True) -> np.ndarray:
    """The cached thumbnail of ``key`` (made and cached when missing or older than the image)."""
    cached = cache_path(store, key, size)
    try:
        if cached.stat().st_mtime >= Path(image_path).stat().st_mtime:
            with Image.open(cached) as im:
                return np.asarray(im.convert("RGB"))
    except (OSError, ValueError):
        pass
    thumb = make_thumbnail(read_image(image_path).rgb, size)
    if write_cache:
        buf = io.BytesIO()
        Image.fromarray(thumb).save(buf, format="PNG", compress_level=1)
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_bytes(cached, buf.getvalue())
        except OSError:
            pass   # a read-only folder still gets thumbnails, just not cached
    return thumb
