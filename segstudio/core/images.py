"""Images: read any common file into RGB uint8, whatever its flavour.

JPEG/PNG/TIFF/BMP/WebP; 8- or 16-bit; grey, grey+alpha, palette, RGB, RGBA, CMYK; EXIF
orientation applied; non-ASCII paths. Always returns ``H×W×3 uint8`` RGB plus the size as
displayed (after orientation). Alpha is dropped (composited on black is not attempted:
labels refer to the colour channels). Unreadable or truncated files raise
:class:`ImageReadError` naming the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from segstudio.core.errors import ImageReadError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")

Image.MAX_IMAGE_PIXELS = 20_000 * 20_000  # 16K×16K images are a supported use; beyond 400 MP is refused.


@dataclass(frozen=True)
class LoadedImage:
    rgb: np.ndarray          # H×W×3 uint8
    path: Path
    original_mode: str      # PIL mode of the file ("RGB", "I;16", "L", …)
    original_dtype: str     # "uint8" or "uint16"

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the image as displayed (EXIF orientation applied)."""
        return self.rgb.shape[0], self.rgb.shape[1]


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.uint16:
        return (arr >> 8).astype(np.uint8)
    if arr.dtype.kind == "f":
        return np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8) if arr.max(initial=0) <= 1.0 \
            else np.clip(arr, 0, 255).astype(np.uint8)
    if arr.dtype.kind in "iu":  # 32-bit ints from mode "I" (16-bit data widened by PIL)
        top = int(arr.max(initial=0))
        shift = 8 if top > 255 else 0
        return np.clip(arr >> shift, 0, 255).astype(np.uint8)
    raise TypeError(f"unsupported pixel type {arr.dtype}")


def _read_with_opencv(path: Path) -> np.ndarray | None:
    """16-bit colour TIFF/PNG, which PIL cannot hold as RGB; returns RGB uint8 or None."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)  # imdecode: works with non-ASCII paths
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if arr is None:
        return None
    arr = _to_uint8(arr)
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2)
    if arr.shape[2] == 4:
        arr = arr[..., :3]
    return np.ascontiguousarray(arr[..., ::-1])


def read_image(path: str | os.PathLike) -> LoadedImage:
    """Read ``path`` as RGB uint8 (see module docstring)."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: image file not found")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, not an image")
    try:
        with Image.open(path) as img:
            img.load()  # raises on truncated data
            mode = img.mode
            img = ImageOps.exif_transpose(img)
            dtype = "uint16" if mode.startswith("I;16") or mode == "I" else "uint8"
            if mode in ("RGB",):
                rgb = np.asarray(img, dtype=np.uint8)
            elif mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                grey = _to_uint8(np.asarray(img))
                rgb = np.repeat(grey[..., None], 3, axis=2)
            elif mode in ("1", "L", "LA", "P", "PA", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "La", "RGBa"):
                rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
            else:  # e.g. 16-bit RGB TIFF ("RGB;16" etc.) — PIL cannot represent it
                rgb = None
    except FileNotFoundError:
        raise ImageReadError(f"{path}: image file not found") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{path}: image too large ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        fallback = _read_with_opencv(path) if path.suffix.lower() in (".tif", ".tiff", ".png") else None
        if fallback is None:
            reason = "file is truncated" if "truncated" in str(exc).lower() else f"cannot decode ({exc})"
            raise ImageReadError(f"{path}: {reason}") from None
        return LoadedImage(fallback, path, "opencv", "uint16")
    if rgb is None:
        rgb = _read_with_opencv(path)
        if rgb is None:
            raise ImageReadError(f"{path}: unsupported pixel format {mode!r}")
        dtype = "uint16"
    return LoadedImage(np.ascontiguousarray(rgb), path, mode, dtype)


def list_image_names(folder: str | os.PathLike) -> list[str]:
    """Names of the image files directly inside ``folder`` (no hidden files), in natural order.
    Works on names only: building 100,000 ``Path`` objects would cost seconds."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(f"{folder}: not a folder")
    with os.scandir(folder) as it:
        names = [e.name for e in it
                 if not e.name.startswith(".") and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES
                 and e.is_file()]
    names.sort(key=natural_key)
    return names


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder``, in natural (human) order of their names."""
    folder = Path(folder)
    return [folder / n for n in list_image_names(folder)]


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> list:
    """Sort key that orders ``img2`` before ``img10``."""
    return [int(t) if t.isdigit() else t.lower() for t in _DIGITS.split(name)]
