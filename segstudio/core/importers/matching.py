"""Matching an import's sources to the project: label files to images, source class names to classes.

Images: a label file names its image (COCO ``file_name``, labelme ``imagePath``) or shares its stem
(mask files); :class:`ImageIndex` finds the project key by file name, stem, SegStudio export stem
(``a_jpg``) or with a known suffix removed (``_leftImg8bit``), exact spelling first, then ignoring
letter case. Classes: :func:`resolve_classes` matches each source name to a project class by
:func:`~segstudio.core.importers.common.norm_name`; a ``--map`` file (:func:`read_map`) decides first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from segstudio.core.export.common import output_stem
from segstudio.core.importers.common import ImportFailed, SourceClass, norm_name
from segstudio.core.jsonfile import read_json
from segstudio.core.labels import LabelSet
from segstudio.core.project import Project

IMAGE_SUFFIXES = ("_leftImg8bit",)
BACKGROUND_NAMES = {"background", "_background_", "bg"}
VOID_NAMES = {"void", "unlabelled", "unlabeled", "ignore", "ignored", "dontcare"}
ADD, VOID = "add", "void"       # decisions for a name the project does not know


class ImageIndex:
    """Project images looked up by the names label files use for them."""

    def __init__(self, project: Project) -> None:
        self.exact: dict[str, set[str]] = {}
        self.folded: dict[str, set[str]] = {}
        for key, path in project.images.items():
            for name in {key, path.name, path.stem, output_stem(key, path)}:
                self.exact.setdefault(name, set()).add(key)
                self.folded.setdefault(name.casefold(), set()).add(key)

    def _one(self, table: dict[str, set[str]], name: str) -> str | None:
        keys = table.get(name)
        return next(iter(keys)) if keys and len(keys) == 1 else None

    def lookup(self, ref: str, strip: tuple[str, ...] = ()) -> str | None:
        """Key of the image ``ref`` (a path or name, any folder part ignored) refers to, else None."""
        base = PurePosixPath(ref.replace("\\", "/")).name
        stem = os.path.splitext(base)[0]
        names = [base, stem, *(stem + s for s in IMAGE_SUFFIXES)]
        for suffix in (*strip, *IMAGE_SUFFIXES):
            if stem.endswith(suffix) and len(stem) > len(suffix):
                names.append(stem[: -len(suffix)])
                names += [stem[: -len(suffix)] + s for s in IMAGE_SUFFIXES]
        for table, fold in ((self.exact, False), (self.folded, True)):
            for n in names:
                key = self._one(table, n.casefold() if fold else n)
                if key is not None:
                    return key
        return None


def read_map(path: str | os.PathLike | None) -> dict[str, str | None]:
    """A ``--map`` file: a JSON object ``{"source name": "project name" or null}`` (null: void)."""
    if path is None:
        return {}
    p = Path(path)
    data = read_json(p, "class map", ImportFailed, missing="class map file not found")
    if not isinstance(data, dict) or not all(isinstance(k, str) and (v is None or isinstance(v, str))
                                             for k, v in data.items()):
        raise ImportFailed(f'{p}: a class map is a JSON object {{"source name": "project name" or null}}')
    return {norm_name(k): v for k, v in data.items()}


@dataclass
class ClassMatch:
    """Where one source class goes: a project class, the void, or (``new``) a class to add."""

    source: str
    target: int | None = None     # project class id; None with new=False: void
    new: str | None = None        # name of the project class to add
    why: str = ""                 # "name", "map", "void", "background", "unknown"

    @property
    def unknown(self) -> bool:
        return self.why == "unknown"


def resolve_classes(classes: list[SourceClass], labels: LabelSet, mapping: dict[str, str | None],
                    decisions: dict[str, str] | None = None) -> list[ClassMatch]:
    """One :class:`ClassMatch` per source class (in local id order).

    Order of rules: the source's own void -> void; the map file; the same name in the project
    (case and punctuation ignored); the project's void name -> void; a background name the project
    lacks -> void; otherwise *unknown*, settled by ``decisions[name]`` (``"add"``, ``"void"`` or a
    project class name; default add).
    """
    by_norm = {norm_name(c.name): c.id for c in labels.classes}
    void_norm = norm_name(labels.void_name)
    decisions = decisions or {}
    out = []
    for sc in classes:
        key = norm_name(sc.name)
        if sc.void:
            out.append(ClassMatch(sc.name, why="void"))
        elif key in mapping:
            out.append(_target(sc.name, mapping[key], by_norm, void_norm, "map"))
        elif key in by_norm:
            out.append(ClassMatch(sc.name, by_norm[key], why="name"))
        elif key == void_norm or key in VOID_NAMES:
            out.append(ClassMatch(sc.name, why="void"))
        elif sc.background or key in BACKGROUND_NAMES:
            out.append(ClassMatch(sc.name, why="background"))
        else:
            choice = decisions.get(sc.name, ADD)
            if choice == ADD:
                out.append(ClassMatch(sc.name, new=sc.name, why="unknown"))
            elif choice == VOID:
                out.append(ClassMatch(sc.name, why="unknown"))
            else:
                m = _target(sc.name, choice, by_norm, void_norm, "unknown")
                out.append(m)
    return out


def _target(source: str, name: str | None, by_norm: dict[str, int], void_norm: str, why: str) -> ClassMatch:
    if name is None or norm_name(name) == void_norm:
        return ClassMatch(source, why=why)
    if norm_name(name) in by_norm:
        return ClassMatch(source, by_norm[norm_name(name)], why=why)
    return ClassMatch(source, new=name, why=why)
