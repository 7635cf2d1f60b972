"""Label sets: the classes of a project (id, name, RGB colour, shortcut key) and its void value.

Class ids are contiguous ``0..n-1``; ``ignore_index`` (void) lies outside that range
(CamVid uses 11, VOC/Cityscapes/ADE20K use 255). Colours are only a view of the ids.
Presets: ``voc``, ``camvid``, ``cityscapes``, ``ade20k``, ``binary``; ``labels.json`` on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

import numpy as np

from segstudio.core import atomic
from segstudio.core.errors import LabelSetError
from segstudio.core.jsonfile import read_json

Color = tuple[int, int, int]


@dataclass(frozen=True)
class LabelClass:
    id: int
    name: str
    color: Color
    key: str | None = None


@dataclass(frozen=True)
class LabelSet:
    classes: tuple[LabelClass, ...]
    ignore_index: int | None = 255
    void_name: str = "void"
    void_color: Color = (0, 0, 0)
    name: str = "custom"
    _by_name: dict = field(default=None, init=False, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if not self.classes:
            raise LabelSetError(f"label set {self.name!r} has no classes")
        for i, c in enumerate(self.classes):
            if c.id != i:
                raise LabelSetError(
                    f"label set {self.name!r}: class ids must be 0..{len(self.classes) - 1} in order; "
                    f"position {i} holds id {c.id} ({c.name!r})")
            if len(c.color) != 3 or not all(0 <= int(v) <= 255 for v in c.color):
                raise LabelSetError(f"label set {self.name!r}: class {c.name!r} has colour {c.color!r}, need 3 values 0..255")
        names = [c.name for c in self.classes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise LabelSetError(f"label set {self.name!r}: duplicate class names {dupes}")
        if self.ignore_index is not None and 0 <= self.ignore_index < len(self.classes):
            raise LabelSetError(
                f"label set {self.name!r}: ignore index {self.ignore_index} collides with class "
                f"{self.classes[self.ignore_index].name!r}")
        object.__setattr__(self, "_by_name", {c.name.lower(): c for c in self.classes})

    # -- queries -----------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def max_value(self) -> int:
        """Largest value a mask of this label set may hold (a class id or the void value)."""
        top = self.num_classes - 1
        return max(top, self.ignore_index) if self.ignore_index is not None else top

    @property
    def dtype(self) -> np.dtype:
        """uint8 while every id and the void value fit, uint16 past 255."""
        return np.dtype(np.uint8) if self.max_value <= 255 else np.dtype(np.uint16)

    @property
    def void_value(self) -> int:
        """What 'unlabelled' is written as: the ignore index, else 255/65535."""
        if self.ignore_index is not None:
            return self.ignore_index
        return int(np.iinfo(self.dtype).max)

    def by_name(self, name: str) -> LabelClass | None:
        return self._by_name.get(name.lower())

    def color_of(self, value: int) -> Color:
        if 0 <= value < self.num_classes:
            return self.classes[value].color
        return self.void_color

    def color_lut(self, size: int | None = None) -> np.ndarray:
        """``(size, 3) uint8`` table: value -> colour (void and unknown ids -> void colour)."""
        size = size or (self.max_value + 1)
        lut = np.empty((size, 3), np.uint8)
        lut[:] = self.void_color
        for c in self.classes[:size]:
            lut[c.id] = c.color
        return lut

    def pil_palette(self) -> list[int]:
        """768-entry flat palette for an indexed (mode ``P``) PNG."""
        return self.color_lut(256).reshape(-1).tolist()

    def valid_values_lut(self, size: int) -> np.ndarray:
        ok = np.zeros(size, bool)
        ok[: min(size, self.num_classes)] = True
        if self.ignore_index is not None and self.ignore_index < size:
            ok[self.ignore_index] = True
        return ok

    # -- edits (return new label sets; masks are rewritten by the caller) ------------------
    def with_classes(self, classes: Iterable[LabelClass]) -> "LabelSet":
        renumbered = tuple(replace(c, id=i) for i, c in enumerate(classes))
        return replace(self, classes=renumbered)

    # -- (de)serialisation -------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "ignore_index": self.ignore_index,
            "void": {"name": self.void_name, "color": list(self.void_color)},
            "classes": [
                {"id": c.id, "name": c.name, "color": list(c.color), **({"key": c.key} if c.key else {})}
                for c in self.classes
            ],
        }

    @classmethod
    def from_dict(cls, data: dict, source: str = "<dict>") -> "LabelSet":
        try:
            raw = data["classes"]
            classes = []
            void_color, void_name = (0, 0, 0), "void"
            ignore = data.get("ignore_index", 255)
            for i, c in enumerate(sorted(raw, key=lambda c: int(c.get("id", 0)))):
                cid = int(c.get("id", i))
                color = tuple(int(v) for v in c["color"])
                if ignore is not None and cid == ignore:  # void listed among classes (classes.json style)
                    void_color, void_name = color, str(c.get("name", "void"))
                    continue
                classes.append(LabelClass(cid, str(c["name"]), color, c.get("key")))  # type: ignore[arg-type]
            void = data.get("void") or {}
            void_color = tuple(int(v) for v in void.get("color", void_color))
            void_name = str(void.get("name", void_name))
            return cls(tuple(classes), None if ignore is None else int(ignore), void_name,
                       void_color, str(data.get("name", Path(source).stem)))  # type: ignore[arg-type]
        except LabelSetError as exc:
            raise LabelSetError(f"{source}: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise LabelSetError(f"{source}: malformed label set ({type(exc).__name__}: {exc})") from None

    def save(self, path: str | Path) -> None:
        atomic.write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "LabelSet":
        path = Path(path)
        data = read_json(path, "label set", LabelSetError, missing="no such label file")
        return cls.from_dict(data, str(path))


def _make(name: str, entries: Iterable[tuple[str, Color]], ignore: int | None,
          void_color: Color = (0, 0, 0), void_name: str = "void") -> LabelSet:
    classes = []
    for i, (n, col) in enumerate(entries):
        key = str(i) if i < 10 else None
        classes.append(LabelClass(i, n, tuple(col), key))  # type: ignore[arg-type]
    return LabelSet(tuple(classes), ignore, void_name, void_color, name)


def voc_color(i: int) -> Color:
    """PASCAL VOC colour map: bits of the id spread over R, G, B from the high bit down."""
    r = g = b = 0
    c = i
    for j in range(8):
        r |= ((c >> 0) & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    return (r, g, b)


VOC_NAMES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
             "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
             "sheep", "sofa", "train", "tvmonitor")

# Colours as in ../shared/data/camvid/classes.json (SegNet tutorial); void = 11 "Unlabelled", black.
CAMVID = (("Sky", (128, 128, 128)), ("Building", (128, 0, 0)), ("Pole", (192, 192, 128)),
          ("Road", (128, 64, 128)), ("Pavement", (60, 40, 222)), ("Tree", (128, 128, 0)),
          ("SignSymbol", (192, 128, 128)), ("Fence", (64, 64, 128)), ("Car", (64, 0, 128)),
          ("Pedestrian", (64, 64, 0)), ("Bicyclist", (0, 128, 192)))

CITYSCAPES = (("road", (128, 64, 128)), ("sidewalk", (244, 35, 232)), ("building", (70, 70, 70)),
              ("wall", (102, 102, 156)), ("fence", (190, 153, 153)), ("pole", (153, 153, 153)),
              ("traffic light", (250, 170, 30)), ("traffic sign", (220, 220, 0)),
              ("vegetation", (107, 142, 35)), ("terrain", (152, 251, 152)), ("sky", (70, 130, 180)),
              ("person", (220, 20, 60)), ("rider", (255, 0, 0)), ("car", (0, 0, 142)),
              ("truck", (0, 0, 70)), ("bus", (0, 60, 100)), ("train", (0, 80, 100)),
              ("motorcycle", (0, 0, 230)), ("bicycle", (119, 11, 32)))


def preset(name: str) -> LabelSet:
    """Return a built-in label set by name (``voc``, ``camvid``, ``cityscapes``, ``ade20k``, ``binary``)."""
    key = name.lower()
    if key == "voc":
        return _make("voc", ((n, voc_color(i)) for i, n in enumerate(VOC_NAMES)), 255, (224, 224, 192))
    if key == "camvid":
        return _make("camvid", CAMVID, 11, (0, 0, 0), "Unlabelled")
    if key == "cityscapes":
        return _make("cityscapes", CITYSCAPES, 255)
    if key == "ade20k":
        from segstudio.core.ade20k_data import ADE20K_CLASSES
        return _make("ade20k", ADE20K_CLASSES, 255)
    if key == "binary":
        return _make("binary", (("background", (0, 0, 0)), ("foreground", (255, 255, 255))), 255, (255, 0, 0))
    raise LabelSetError(f"unknown label preset {name!r}; choose one of {', '.join(PRESETS)}")


PRESETS = ("voc", "camvid", "cityscapes", "ade20k", "binary")


def resolve(spec: str | Path) -> LabelSet:
    """A preset name or a path to a ``labels.json`` (CLI ``--labels`` argument)."""
    text = str(spec)
    if text.lower() in PRESETS:
        return preset(text)
    if not Path(text).exists():
        raise LabelSetError(f"{text!r} is neither a label preset ({', '.join(PRESETS)}) nor an existing labels.json")
    return LabelSet.load(text)
