"""Shared pieces of the exporters: errors, the per-image item, the output folder writer, PNG encoders.

Every exporter writes through :class:`Output`, which only ever writes inside the temporary
``DIR.partial-XXXX`` folder the driver created; the driver renames that folder to ``DIR`` at
the very end. PNG encoders here are deterministic (fixed zlib level, no text chunks, no time).
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from segstudio.core import atomic
from segstudio.core.errors import SegStudioError
from segstudio.core.labels import LabelSet

MANIFEST = "segstudio-export.json"
PNG_LEVEL = 6  # zlib level of exported PNGs: fixed, so the same mask always gives the same bytes


class ExportError(SegStudioError):
    """An export cannot run; ``problems`` lists every problem found (the message shows them all)."""

    def __init__(self, message: str, problems: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class ExportCancelled(ExportError):
    """The caller set the cancel event; nothing was left on disk."""


def output_stem(key: str, image: Path) -> str:
    """File stem used for every output of one image.

    The project key is the image's stem, or its full name where two images share a stem
    (``a.jpg`` and ``a.png``); such keys become ``a_jpg`` / ``a_png`` so that every format can
    append its own suffix without producing names like ``a.jpg.png``.
    """
    if key == image.name and image.suffix:
        return f"{image.stem}_{image.suffix[1:]}"
    return key


@dataclass(frozen=True)
class Item:
    """One exported image: project key, source image, output stem and split name."""

    key: str
    image: Path
    stem: str
    split: str
    index: int = 0    # position in the project's image order

    @property
    def image_name(self) -> str:
        """Output name of the copied image: the stem plus the original extension (case kept)."""
        return self.stem + self.image.suffix


@dataclass
class Context:
    """What an exporter knows about the whole export (given to ``begin``)."""

    labels: LabelSet
    project_name: str
    splits: dict[str, list[Item]]     # split name -> items, in project order
    explicit_split: bool              # False: the user gave no --split (everything is "train")

    @property
    def items(self) -> list[Item]:
        return [it for items in self.splits.values() for it in items]


@dataclass
class Output:
    """Writes files below ``root`` (the partial folder), atomically, counting them."""

    root: Path
    files: int = 0
    written: list[str] = field(default_factory=list)

    def _path(self, rel: str) -> Path:
        return self.root / rel

    def bytes(self, rel: str, data: bytes) -> None:
        atomic.write_bytes(self._path(rel), data)
        self.files += 1

    def text(self, rel: str, text: str) -> None:
        self.bytes(rel, text.encode("utf-8"))

    def json(self, rel: str, obj: Any, compact: bool = False) -> None:
        if compact:
            text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        else:
            text = json.dumps(obj, ensure_ascii=False, indent=2)
        self.text(rel, text + "\n")

    def lines(self, rel: str, lines: list[str]) -> None:
        self.text(rel, "".join(f"{line}\n" for line in lines))

    def copy(self, rel: str, src: Path) -> None:
        """Copy ``src`` byte for byte (never re-encoded)."""
        with atomic.atomic_open(self._path(rel), "wb") as dst, open(src, "rb") as fh:
            shutil.copyfileobj(fh, dst, 1 << 20)
        self.files += 1


# -- PNG encoders ------------------------------------------------------------------------------
def _save(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=PNG_LEVEL, optimize=False)
    return buf.getvalue()


def png_ids(mask: np.ndarray) -> bytes:
    """Plain id PNG: 8-bit greyscale, or 16-bit greyscale when the array is uint16."""
    if mask.dtype == np.uint16:
        return _save(Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint16)))
    return _save(Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8), mode="L"))


def png_indexed(mask: np.ndarray, labels: LabelSet, palette: list[int] | None = None) -> bytes:
    """Indexed (palette) PNG carrying the label set's colours (or ``palette``, 768 values); values
    must fit in 8 bits."""
    img = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8), mode="P")
    img.putpalette(labels.pil_palette() if palette is None else palette)
    return _save(img)


def png_rgb(rgb: np.ndarray) -> bytes:
    return _save(Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), mode="RGB"))


def colour_view(mask: np.ndarray, labels: LabelSet) -> np.ndarray:
    """``H×W×3`` colours of a validated mask (void and any other value -> void colour)."""
    lut = labels.color_lut(max(labels.max_value, int(mask.max(initial=0))) + 1)
    return lut[mask]


def present_classes(mask: np.ndarray, labels: LabelSet) -> list[int]:
    """Class ids (not void) with at least one pixel, ascending."""
    counts = np.bincount(mask.reshape(-1), minlength=labels.num_classes)[: labels.num_classes]
    return [int(c) for c in np.flatnonzero(counts)]


class Exporter:
    """Base of the format writers. One instance per export (it may keep state)."""

    name = ""
    description = ""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def problems(self, labels: LabelSet) -> list[str]:
        """Reasons this label set cannot be written in this format (checked before writing)."""
        return []

    def begin(self, out: Output, ctx: Context) -> None:
        self.ctx = ctx

    def write(self, out: Output, item: Item, mask: np.ndarray) -> None:
        raise NotImplementedError

    def finish(self, out: Output) -> None:
        out.json("labels.json", self.ctx.labels.to_dict())
