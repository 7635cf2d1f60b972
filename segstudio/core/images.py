"""Images: read any common file into RGB uint8, whatever its flavour.

JPEG/PNG/TIFF/BMP/WebP; 8- or 16-bit (reduced to 8 bits keeping the significant bits, see
:func:`significant_shift`: 10/12-bit data stays bright); grey, grey+alpha, palette, RGB, RGBA, CMYK; EXIF
orientation applied; non-ASCII paths. Always returns ``H×W×3 uint8`` RGB plus the size as
displayed (after orientation). Alpha is dropped (composited on black is not attempted:
labels refer to the colour channels). Unreadable or truncated files raise
:class:`ImageReadError` naming the file.

Decoding is guarded: a file is opened only if it is a regular file (never a FIFO or device,
which would block), an empty file is refused, and the pixel count in the header is checked
against :func:`max_pixels` (``SEGSTUDIO_MAX_PIXELS``, default 400 MP) before any pixel is
decoded, so a decompression bomb costs no memory. Any decoder failure becomes an
:class:`ImageReadError`.

Listing (:func:`scan_image_names`) never raises for one entry: symlink loops, dangling links,
FIFOs, sockets, devices, folders named like images and unreadable files are skipped and
returned with the reason.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from segstudio.core.errors import ImageReadError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")

DEFAULT_MAX_PIXELS = 20_000 * 20_000  # 16K×16K images are a supported use; beyond 400 MP is refused.


def _env_limit() -> int:
    env = os.environ.get("SEGSTUDIO_MAX_PIXELS", "").replace("_", "")
    return int(env) if env.isdigit() and int(env) > 0 else DEFAULT_MAX_PIXELS


_max_pixels = _env_limit()
# PIL's own bomb check stays as a backstop (also for masks); we refuse from the header first,
# so its warning (between 1× and 2× the limit) never fires for images.
Image.MAX_IMAGE_PIXELS = _max_pixels
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def max_pixels() -> int:
    """Largest image (width × height) SegStudio decodes: :func:`set_max_pixels`, else the
    ``SEGSTUDIO_MAX_PIXELS`` environment variable (read at import), else 400 MP."""
    return _max_pixels


def set_max_pixels(limit: int | None) -> None:
    """Change the decoding limit for this process (None: back to the default / environment)."""
    global _max_pixels
    _max_pixels = _env_limit() if limit is None else int(limit)
    Image.MAX_IMAGE_PIXELS = _max_pixels


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


def significant_shift(top: int) -> int:
    """Right shift that brings integer data whose largest value is ``top`` to 8 bits while keeping
    its significant bits: 0 for data that fits in 8 bits, 4 for 12-bit camera data (≤ 4095),
    8 for full 16-bit data. (A plain ``>> 8`` turned 12-bit images nearly black: 0–15.)"""
    return max(0, int(top).bit_length() - 8)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "f":
        return np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8) if arr.max(initial=0) <= 1.0 \
            else np.clip(arr, 0, 255).astype(np.uint8)
    if arr.dtype.kind in "iu":  # uint16, or 32-bit ints from mode "I" (16-bit data widened by PIL)
        arr = np.clip(arr, 0, 65535)
        return (arr >> significant_shift(int(arr.max(initial=0)))).astype(np.uint8)
    raise TypeError(f"unsupported pixel type {arr.dtype}")


def _read_with_opencv(path: Path) -> np.ndarray | None:
    """16-bit colour TIFF/PNG, which PIL cannot hold as RGB; returns RGB uint8 or None."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)  # imdecode: works with non-ASCII paths
    if data.size == 0:
        return None
    try:
        arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    except cv2.error:
        return None
    if arr is None or arr.size == 0:
        return None
    arr = _to_uint8(arr)
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2)
    if arr.shape[2] == 4:
        arr = arr[..., :3]
    return np.ascontiguousarray(arr[..., ::-1])


def _deep_colour(img: Image.Image, path: Path) -> bool:
    """Whether a file PIL opened as RGB(A) holds more than 8 bits per sample (16-bit PNG / TIFF)."""
    try:
        if img.format == "TIFF":
            bits = img.tag_v2.get(258, 8)
            return max(bits if isinstance(bits, tuple) else (bits,)) > 8
        if img.format == "PNG":
            with open(path, "rb") as f:
                head = f.read(26)
            return len(head) == 26 and head[24] == 16
    except (OSError, AttributeError, TypeError, ValueError):
        return False
    return False


def _png_header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, without decoding (None: not a PNG)."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _too_large(path: Path, claim: str) -> ImageReadError:
    return ImageReadError(f"{path}: image too large: its header claims {claim}, above the limit of "
                          f"{max_pixels() / 1e6:,.0f} MP; refused before decoding (possible decompression "
                          f"bomb; raise SEGSTUDIO_MAX_PIXELS to read it)")


def _check_pixels(path: Path, size: tuple[int, int]) -> None:
    w, h = size
    if w * h > max_pixels():
        raise _too_large(path, f"{w}×{h} = {w * h / 1e6:,.0f} MP")


def _kind_problem(mode: int) -> str | None:
    """Why a file of this ``st_mode`` is not an image file to open (None: a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not an image"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not an image file; not opened"
    if stat.S_ISSOCK(mode):
        return "is a socket, not an image file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not an image file; not opened"
    return "is not a regular file"


def _stat_problem(path: str | os.PathLike, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT:
        return ("dangling symbolic link (its target does not exist)" if os.path.islink(path)
                else "image file not found")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"cannot read: permission denied ({exc.strerror})"
    return f"cannot read ({exc.strerror or exc})"


def file_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be read as an image file, judged without opening it (None: it can)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return _stat_problem(path, exc)
    problem = _kind_problem(st.st_mode)
    if problem is None and st.st_size == 0:
        return "empty file (0 bytes), not an image"
    return problem


def read_image(path: str | os.PathLike) -> LoadedImage:
    """Read ``path`` as RGB uint8 (see module docstring)."""
    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise ImageReadError(f"{path}: {problem}")
    size = None
    try:
        with Image.open(path) as img:
            size = img.size
            _check_pixels(path, size)
            img.load()  # raises on truncated data
            mode = img.mode
            deep_colour = mode in ("RGB", "RGBA") and _deep_colour(img, path)
            img = ImageOps.exif_transpose(img)
            dtype = "uint16" if mode.startswith("I;16") or mode == "I" or deep_colour else "uint8"
            if deep_colour:      # PIL keeps only the high byte of 16-bit colour: read all bits with OpenCV
                rgb = None
            elif mode in ("RGB",):
                rgb = np.asarray(img, dtype=np.uint8)
            elif mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                grey = _to_uint8(np.asarray(img))
                rgb = np.repeat(grey[..., None], 3, axis=2)
            elif mode in ("1", "L", "LA", "P", "PA", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "La", "RGBa"):
                rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
            else:  # e.g. 16-bit RGB TIFF ("RGB;16" etc.) — PIL cannot represent it
                rgb = None
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(f"{path}: image file not found") from None
    except PermissionError as exc:
        raise ImageReadError(f"{path}: cannot read: permission denied ({exc.strerror})") from None
    except Image.DecompressionBombError as exc:  # PIL's own check, in open(), beyond twice our limit
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_large(path, f"{int(found.group(1)) / 1e6:,.0f} MP" if found else "too many pixels") from None
    except MemoryError:
        shown = f" of {size[0]}×{size[1]}" if size else ""
        raise ImageReadError(f"{path}: not enough memory to decode the image{shown}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        text = str(exc)
        broken = "truncated" in text.lower() or isinstance(exc, SyntaxError) or size is not None
        fallback = None
        if not broken and path.suffix.lower() in (".tif", ".tiff", ".png"):
            header = _png_header_size(path)
            if header is not None:
                _check_pixels(path, header)
            fallback = _read_with_opencv(path)
        if fallback is None:
            raise ImageReadError(f"{path}: {_decode_reason(exc)}") from None
        return LoadedImage(fallback, path, "opencv", "uint16")
    except Exception as exc:  # noqa: BLE001 - a decoder bug on a hostile file is still just a bad file
        raise ImageReadError(f"{path}: {_decode_reason(exc)}") from None
    if rgb is None:
        rgb = _read_with_opencv(path)
        if rgb is None:
            raise ImageReadError(f"{path}: unsupported pixel format {mode!r}")
        dtype = "uint16"
    return LoadedImage(np.ascontiguousarray(rgb), path, mode, dtype)


def _decode_reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    low = text.lower()
    if "truncated" in low:
        return f"file is truncated ({text})"
    if "cannot identify image file" in low:
        return "not an image file PIL or OpenCV can read (unknown format or corrupt header)"
    if isinstance(exc, SyntaxError) or "broken" in low or "crc" in low:
        return f"file is corrupt ({text})"
    return f"cannot decode ({type(exc).__name__}: {text})" if text else f"cannot decode ({type(exc).__name__})"


@dataclass
class Listing:
    """What a folder scan found: the usable names (natural order) and the skipped entries."""

    folder: Path
    names: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (name, why)

    def messages(self) -> list[str]:
        """One ``<path>: <why>`` line per skipped entry."""
        return [f"{self.folder / name}: {why}" for name, why in self.skipped]


def scan_files(folder: str | os.PathLike, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> Listing:
    """Regular files directly inside ``folder`` whose suffix is in ``suffixes`` (no hidden files).

    Never raises for one entry and never opens one: symlink loops, dangling links, FIFOs,
    sockets, devices, folders named like files and unreadable files go to ``skipped`` with the
    reason. A plain regular file costs no system call beyond the listing (``d_type``) and one
    ``access``. Raises :class:`ImageReadError` only when ``folder`` itself cannot be listed.
    """
    folder = Path(folder)
    out = Listing(folder)
    try:
        it = os.scandir(folder)
    except NotADirectoryError:
        raise ImageReadError(f"{folder}: not a folder") from None
    except FileNotFoundError:
        raise ImageReadError(f"{folder}: not a folder (it does not exist)") from None
    except OSError as exc:
        raise ImageReadError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None
    with it:
        while True:
            try:
                e = next(it)
            except StopIteration:
                break
            except OSError as exc:  # the folder vanished or an I/O error mid-listing: keep what we have
                out.skipped.append(("", f"listing stopped early ({exc.strerror or exc})"))
                break
            name = e.name
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in suffixes:
                continue
            try:
                if e.is_file(follow_symlinks=False):
                    mode = stat.S_IFREG
                else:
                    mode = os.stat(e.path).st_mode   # follows links: loops and dangling links raise here
            except OSError as exc:
                out.skipped.append((name, f"{_stat_problem(e.path, exc)}; skipped"))
                continue
            problem = _kind_problem(mode)
            if problem is None and not os.access(e.path, os.R_OK):
                problem = "cannot read: permission denied"
            if problem is None:
                out.names.append(name)
            else:
                out.skipped.append((name, f"{problem}; skipped"))
    out.names.sort(key=natural_key)
    return out


def scan_image_names(folder: str | os.PathLike) -> Listing:
    """The image files of ``folder`` (see :func:`scan_files`)."""
    return scan_files(folder, IMAGE_SUFFIXES)


def no_images_error(folder: str | os.PathLike, skipped: int = 0) -> ImageReadError:
    """The error for a folder without images, naming its subfolders that do hold some (a folder
    one level too high is the usual slip: ``camvid`` for ``camvid/val``). Looks at most at 50."""
    folder = Path(folder)
    holders: list[str] = []
    try:
        subs = sorted((e for e in os.scandir(folder) if not e.name.startswith(".") and e.is_dir()),
                      key=lambda e: natural_key(e.name))[:50]
    except OSError:
        subs = []
    for e in subs:
        try:
            with os.scandir(e.path) as it:
                if any(os.path.splitext(x.name)[1].lower() in IMAGE_SUFFIXES for x in it):
                    holders.append(e.name + "/")
        except OSError:
            continue
    kinds = ", ".join(IMAGE_SUFFIXES)
    text = f"{folder}: no image files ({kinds}) directly in this folder"
    if skipped:
        text += f" ({skipped} skipped, see the warnings above)"
    if holders:
        text += f"; subfolders are not read, and these hold images: {', '.join(holders[:6])}"
        text += " …" if len(holders) > 6 else ""
    return ImageReadError(text)


def list_image_names(folder: str | os.PathLike) -> list[str]:
    """Names of the image files directly inside ``folder`` (no hidden files), in natural order.
    Works on names only: building 100,000 ``Path`` objects would cost seconds. Entries that are
    not readable image files are left out (:func:`scan_image_names` says which and why)."""
    return scan_image_names(folder).names


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder``, in natural (human) order of their names."""
    folder = Path(folder)
    return [folder / n for n in list_image_names(folder)]


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> list:
    """Sort key that orders ``img2`` before ``img10``."""
    return [int(t) if t.isdigit() else t.lower() for t in _DIGITS.split(name)]
