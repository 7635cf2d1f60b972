"""Shared pieces of the importers: errors, what a reader hands the driver, name normalisation.

A *reader* (one module per source format) turns the source into :class:`SourceItem` s, one per
label file and image. Each item decodes to a :class:`Decoded`: an ``H×W`` int32 array of *local*
ids (``-1`` = unlabelled / void) plus, through the reader's ``names`` list, the source class name
of every local id. The driver maps those names onto the project's label set; readers know nothing
about the project's classes. Numpy / OpenCV / PIL only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from segstudio.core.errors import SegStudioError
from segstudio.core.labels import Color, LabelSet

UNLABELLED = -1


class ImportFailed(SegStudioError):
    """An import cannot run; ``problems`` lists every problem found (the message shows them all)."""

    def __init__(self, message: str, problems: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class ImportCancelled(ImportFailed):
    """The caller set the cancel event before anything was written."""


def norm_name(name: str) -> str:
    """Class-name key for matching: letter case, spaces and punctuation ignored (``Traffic-Light`` ==
    ``traffic light`` == ``trafficlight``)."""
    return re.sub(r"[\W_]+", "", name).casefold()


@dataclass
class Decoded:
    """One decoded label file: local ids (``-1`` unlabelled) and what was left out or overlapped."""

    local: np.ndarray                                    # H×W int32, index into the reader's names
    skipped: dict[str, int] = field(default_factory=dict)  # e.g. {"line shape": 2}
    overlap_px: int = 0                                  # pixels claimed by more than one shape/annotation


@dataclass
class SourceItem:
    """One label file (or one image entry of a COCO file) matched to a project image."""

    key: str                              # project key it lands on
    origin: str                           # what to name in messages: the file (and entry)
    size: tuple[int, int] | None          # (h, w) the source declares, None: known once decoded
    decode: Callable[[tuple[int, int]], Decoded]   # called with the image's (h, w) as displayed


@dataclass
class SourceClass:
    """A class of the source, as its own files name it (colour: for new project classes)."""

    name: str
    color: Color | None = None
    void: bool = False                    # the source itself marks it unlabelled (e.g. labelmap's void)
    background: bool = False              # CVAT / labelme background: void unless the project has it


@dataclass
class Scan:
    """What a reader found: items to import, the source's classes, and problems / skips."""

    items: list[SourceItem] = field(default_factory=list)
    classes: list[SourceClass] = field(default_factory=list)   # local id -> class
    problems: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)         # label files whose image is not in the project
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> files/entries
    notes: list[str] = field(default_factory=list)
    label_set: LabelSet | None = None                          # the source's own label set (local id = class id)
    label_set_source: str = ""                                 # where the class list came from

    def skip(self, reason: str, what: str) -> None:
        self.skipped.setdefault(reason, []).append(what)

    def class_id(self, name: str, color: Color | None = None, background: bool = False) -> int:
        """Local id of ``name`` (exact spelling), added at the end when new."""
        for i, c in enumerate(self.classes):
            if c.name == name:
                return i
        self.classes.append(SourceClass(name, color, background=background))
        return len(self.classes) - 1


def ids_to_local(values: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Source values -> local ids through ``lut`` (values past its end become unlabelled)."""
    v = values.astype(np.int64, copy=False)
    out = np.full(v.shape, UNLABELLED, np.int32)
    inside = v < lut.size
    out[inside] = lut[v[inside]]
    return out


def find_files(root: Path, patterns: tuple[str, ...], recursive: bool = False) -> list[Path]:
    """Files under ``root`` matching any glob pattern (no hidden files), sorted by path."""
    found: set[Path] = set()
    for pat in patterns:
        found.update(root.rglob(pat) if recursive else root.glob(pat))
    return sorted(p for p in found if p.is_file() and not p.name.startswith("."))


def read_values(path: Path, data: bytes | None = None) -> np.ndarray:
    """Raw values of an id PNG: palette indices or grey levels (8 or 16 bit), never colours."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data) if data is not None else path) as img:
            img.load()
            mode = img.mode
            if mode in ("P", "L", "1"):
                return np.array(img.convert("L") if mode == "1" else img, dtype=np.uint8)
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.array(img)
                if arr.size and (arr.min() < 0 or arr.max() > 65535):
                    raise ImportFailed(f"{path}: values outside 0..65535")
                return arr.astype(np.uint16)
    except FileNotFoundError:
        raise ImportFailed(f"{path}: file not found") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImportFailed(f"{path}: unreadable mask ({exc})") from None
    raise ImportFailed(f"{path}: a {mode} image is not an id mask (indexed or greyscale PNG expected); "
                       "colour masks are imported with --format rgb or cvat")


def read_rgb(path: Path, data: bytes | None = None) -> np.ndarray:
    """``H×W×3`` uint8 colours of a colour mask (a palette PNG is expanded through its palette)."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data) if data is not None else path) as img:
            img.load()
            return np.array(img.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise ImportFailed(f"{path}: file not found") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImportFailed(f"{path}: unreadable colour mask ({exc})") from None


def colour_code(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]


def colours_to_local(rgb: np.ndarray, table: dict[Color, int], origin: str, what: str) -> np.ndarray:
    """Colours -> local ids through ``table``; unknown colours raise, naming each with its pixel count."""
    lut = {(r << 16) | (g << 8) | b: v for (r, g, b), v in table.items()}
    uniq, inverse, counts = np.unique(colour_code(rgb).reshape(-1), return_inverse=True, return_counts=True)
    unknown = [(int(u), int(n)) for u, n in zip(uniq, counts) if int(u) not in lut]
    if unknown:
        shown = ", ".join(f"({u >> 16}, {(u >> 8) & 255}, {u & 255}) {n} px" for u, n in unknown[:8])
        more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
        raise ImportFailed(f"{origin}: {len(unknown)} colour(s) not in {what}: {shown}{more}")
    ids = np.array([lut[int(u)] for u in uniq], dtype=np.int32)
    return ids[inverse].reshape(rgb.shape[:2])


def values_to_local(values: np.ndarray, classes: int, voids: tuple[int, ...], origin: str,
                    what: str) -> np.ndarray:
    """Id mask values -> local ids: ``0..classes-1`` kept, ``voids`` unlabelled, anything else an error."""
    top = int(values.max(initial=0))
    lut = np.full(max(top + 1, classes), -2, np.int32)
    lut[:classes] = np.arange(classes, dtype=np.int32)
    for v in voids:
        if v <= top:
            lut[v] = UNLABELLED
    local = lut[values]
    bad = np.unique(values[local == -2]) if (local == -2).any() else np.zeros(0, int)
    if bad.size:
        shown = ", ".join(map(str, bad[:10].tolist())) + (" …" if bad.size > 10 else "")
        raise ImportFailed(f"{origin}: values {shown} are not ids of {what} "
                           f"(classes 0..{classes - 1}, void {', '.join(map(str, voids))})")
    return local


def find_up(start: Path, name: str, levels: int = 3) -> Path | None:
    """``name`` in ``start`` or one of its first ``levels`` parents (a SegStudio export's labels.json)."""
    p = start
    for _ in range(levels + 1):
        if (p / name).is_file():
            return p / name
        if p.parent == p:
            break
        p = p.parent
    return None


@dataclass
class ReadContext:
    """What a reader is given: the source path, the project's image index, ``--labels`` if any."""

    source: Path
    index: object                          # matching.ImageIndex (kept untyped: no import cycle)
    given_labels: LabelSet | None = None
    project_labels: LabelSet | None = None


def source_label_set(ctx: ReadContext, start: Path, default: LabelSet | None) -> tuple[LabelSet | None, str]:
    """The label set the source's ids/colours refer to: ``--labels``, a ``labels.json`` in or above
    ``start`` (SegStudio exports write one), else ``default``; with where it came from."""
    if ctx.given_labels is not None:
        return ctx.given_labels, "--labels"
    found = find_up(start, "labels.json")
    if found is not None:
        return LabelSet.load(found), str(found)
    return default, "default"


def classes_of(labels: LabelSet) -> list[SourceClass]:
    return [SourceClass(c.name, tuple(c.color)) for c in labels.classes]  # type: ignore[arg-type]


def mask_items(scan: Scan, files: list[Path], index, decode: Callable[[Path, tuple[int, int]], Decoded],
               stem_of: Callable[[Path], str] = lambda p: p.stem, strip: tuple[str, ...] = ()) -> None:
    """One :class:`SourceItem` per mask file whose stem names a project image."""
    first: dict[str, str] = {}
    for f in files:
        key = index.lookup(stem_of(f), strip)
        if key is None:
            scan.unmatched.append(str(f))
            continue
        if key in first:
            scan.problems.append(f"{f}: a second label file for image {key!r} (the first is {first[key]})")
            continue
        first[key] = str(f)
        scan.items.append(SourceItem(key, str(f), None, lambda size, f=f: decode(f, size)))
