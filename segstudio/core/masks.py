"""Masks: class-index arrays on disk and back, loss-free.

A mask is an ``H×W`` array of class ids (uint8, or uint16 past 255) with the label set's
void value for unlabelled pixels. On disk it is an indexed (palette) PNG carrying the
label set's colours, or a 16-bit greyscale PNG when ids exceed 255 (PNG palettes hold 256
entries). Never RGB, never JPEG. Reading also accepts greyscale id PNGs and RGB colour
masks, which are mapped back to ids through the palette.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from segstudio.core import atomic
from segstudio.core.errors import MaskError
from segstudio.core.labels import LabelSet


def encode_png(mask: np.ndarray, labels: LabelSet | None = None) -> bytes:
    """PNG bytes of ``mask``: indexed with the palette when ids fit in 8 bits, else 16-bit grey."""
    if mask.ndim != 2:
        raise MaskError(f"mask must be 2-D (H×W class ids), got shape {mask.shape}")
    buf = io.BytesIO()
    wide = (labels is not None and labels.dtype == np.uint16) or (
        labels is None and mask.dtype != np.uint8 and mask.size and int(mask.max()) > 255)
    if not wide:
        img = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8), mode="P")
        if labels is not None:
            img.putpalette(labels.pil_palette())
        # compress_level 1: masks compress very well anyway, and autosave must be fast.
        img.save(buf, format="PNG", compress_level=1)
    else:
        img = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint16))
        img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def write_mask(path: str | Path, mask: np.ndarray, labels: LabelSet | None = None) -> None:
    """Write ``mask`` atomically as an indexed PNG (see module docstring)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise MaskError(f"{path}: masks are stored as PNG only (lossless), not {path.suffix or 'no suffix'}")
    if labels is not None:
        check_ids(mask, labels, str(path))
    atomic.write_bytes(path, encode_png(mask, labels))


def read_mask(path: str | Path, labels: LabelSet | None = None) -> np.ndarray:
    """Read a mask file into class ids; with ``labels``, RGB masks are decoded and ids checked."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in ("P", "L"):
                arr = np.array(img, dtype=np.uint8)
            elif mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.array(img).astype(np.uint16)
            elif mode in ("RGB", "RGBA"):
                if labels is None:
                    raise MaskError(f"{path}: colour (RGB) mask needs a label set to map colours to ids")
                arr = rgb_to_ids(np.array(img.convert("RGB")), labels, str(path))
            else:
                raise MaskError(f"{path}: unsupported mask image mode {mode!r}; expected indexed or greyscale PNG")
    except FileNotFoundError:
        raise MaskError(f"{path}: mask file not found") from None
    except MaskError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise MaskError(f"{path}: unreadable mask ({exc})") from None
    if labels is not None:
        if arr.dtype != labels.dtype:
            arr = arr.astype(labels.dtype)
        check_ids(arr, labels, str(path))
    return arr


def rgb_to_ids(rgb: np.ndarray, labels: LabelSet, source: str = "<array>") -> np.ndarray:
    """Map an ``H×W×3`` colour mask to ids via the label set's colours (void colour -> void value)."""
    code = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    table: dict[int, int] = {}
    shared: dict[int, list[str]] = {}
    for c in labels.classes:
        k = (c.color[0] << 16) | (c.color[1] << 8) | c.color[2]
        if k in table:
            shared.setdefault(k, [labels.classes[table[k]].name]).append(c.name)
        table.setdefault(k, c.id)
    void_code = (labels.void_color[0] << 16) | (labels.void_color[1] << 8) | labels.void_color[2]
    table.setdefault(void_code, labels.void_value)
    uniq, inverse = np.unique(code.reshape(-1), return_inverse=True)
    unknown = [int(u) for u in uniq if int(u) not in table]
    if unknown:
        shown = ", ".join(f"({u >> 16}, {(u >> 8) & 255}, {u & 255})" for u in unknown[:5])
        raise MaskError(f"{source}: {len(unknown)} colour(s) not in label set {labels.name!r}: {shown}")
    ambiguous = [int(u) for u in uniq if int(u) in shared]
    if ambiguous:
        u = ambiguous[0]
        raise MaskError(f"{source}: colour ({u >> 16}, {(u >> 8) & 255}, {u & 255}) is shared by classes "
                        f"{' and '.join(shared[u])} in label set {labels.name!r}: an RGB mask cannot say which")
    ids = np.array([table[int(u)] for u in uniq], dtype=labels.dtype)
    return ids[inverse].reshape(code.shape)


def ids_to_rgb(mask: np.ndarray, labels: LabelSet) -> np.ndarray:
    """Colour view of a mask (for display/export only)."""
    lut = labels.color_lut(max(labels.max_value + 1, int(mask.max(initial=0)) + 1))
    return lut[mask]


def invalid_ids(mask: np.ndarray, labels: LabelSet) -> list[int]:
    """Values in ``mask`` that are neither a class id nor the void value (sorted)."""
    if mask.size == 0:
        return []
    top = int(mask.max())
    counts = np.bincount(mask.reshape(-1), minlength=top + 1)
    ok = labels.valid_values_lut(top + 1)
    return [int(v) for v in np.nonzero((counts > 0) & ~ok)[0]]


def check_ids(mask: np.ndarray, labels: LabelSet, source: str = "<array>") -> None:
    bad = invalid_ids(mask, labels)
    if bad:
        shown = ", ".join(map(str, bad[:10])) + (" …" if len(bad) > 10 else "")
        raise MaskError(
            f"{source}: ids {shown} are outside label set {labels.name!r} "
            f"(classes 0..{labels.num_classes - 1}, void {labels.ignore_index})")
