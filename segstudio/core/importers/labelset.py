"""The project's label set after an import: classes added for unknown names, or a fresh set.

* A *fresh* project (no ``labels.json`` yet, nothing labelled or predicted) takes the source's
  classes as its label set: the source's own label set where it has one (``--labels``, a
  ``labels.json`` beside the source, a preset the format implies), else the source's class names
  in order (void 255).
* Otherwise classes are only ever appended, so existing ids keep their meaning. When the new ids
  reach the void value (CamVid keeps void at 11), the void moves to 255 (65535 past 255 classes)
  and every stored mask and prediction is rewritten through a lookup table, masks first and
  ``labels.json`` last, each file atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from segstudio.core import journal, masks, paint
from segstudio.core.importers.common import Scan
from segstudio.core.importers.matching import BACKGROUND_NAMES, ClassMatch
from segstudio.core.importers.common import norm_name
from segstudio.core.labels import Color, LabelClass, LabelSet, voc_color
from segstudio.core.project import Project


def stored_files(project: Project) -> list[Path]:
    out = []
    for sub in ("masks", "predictions"):
        folder = project.store / sub
        if folder.is_dir():
            out += sorted(p for p in folder.glob("*.png") if not p.name.startswith("."))
    return out


def is_fresh(project: Project) -> bool:
    """No label set saved and nothing labelled, predicted or journaled yet."""
    return (not project.labels_path.exists() and not stored_files(project)
            and not journal.pending(project.store))


def pick_color(wanted: Color | None, used: set[Color]) -> Color:
    """``wanted`` if free, else the first free colour of the VOC colour map."""
    if wanted is not None and tuple(wanted) not in used:
        return tuple(wanted)  # type: ignore[return-value]
    for i in range(1, 4096):
        col = voc_color(i % 256) if i < 256 else ((i * 97) % 256, (i * 57) % 256, (i * 23) % 256)
        if col not in used:
            return col
    return (255, 255, 255)


def fresh_label_set(scan: Scan, name: str) -> LabelSet:
    """The label set a fresh project adopts from ``scan``."""
    if scan.label_set is not None:
        return scan.label_set
    used: set[Color] = {(0, 0, 0)}
    classes: list[LabelClass] = []
    seen: set[str] = set()
    for sc in scan.classes:
        key = norm_name(sc.name)
        if sc.void or sc.background or key in BACKGROUND_NAMES or key in seen:
            continue
        seen.add(key)
        col = pick_color(sc.color, used)
        used.add(col)
        classes.append(LabelClass(len(classes), sc.name, col, str(len(classes)) if len(classes) < 10 else None))
    if not classes:
        classes = [LabelClass(0, "background", (0, 0, 0))]
    ignore = 255 if len(classes) <= 255 else 65535
    return LabelSet(tuple(classes), ignore, "void", (0, 0, 0), name)


def extend(labels: LabelSet, matches: list[ClassMatch], colors: dict[str, Color | None]) -> tuple[
        LabelSet, list[ClassMatch], np.ndarray | None]:
    """Append the ``new`` classes of ``matches``; return (label set, settled matches, void LUT or None).

    The LUT (old value -> new value) is needed only when the void value had to move.
    """
    by_norm = {norm_name(c.name): c.id for c in labels.classes}
    used = {tuple(c.color) for c in labels.classes} | {tuple(labels.void_color)}
    classes = list(labels.classes)
    settled = []
    for m in matches:
        if m.new is None:
            settled.append(m)
            continue
        key = norm_name(m.new)
        if key not in by_norm:
            col = pick_color(colors.get(m.source), used)
            used.add(col)
            by_norm[key] = len(classes)
            classes.append(LabelClass(len(classes), m.new, col))
        settled.append(ClassMatch(m.source, by_norm[key], None, m.why))
    if len(classes) == labels.num_classes:
        return labels, settled, None
    n = len(classes)
    ignore = labels.ignore_index
    if ignore is None or ignore < n:
        ignore = 255 if n <= 255 else 65535
    new = LabelSet(tuple(classes), ignore, labels.void_name, labels.void_color, labels.name)
    if new.void_value == labels.void_value and new.dtype == labels.dtype:
        return new, settled, None
    size = 256 if labels.dtype == np.uint8 and new.dtype == np.uint8 else 65536
    lut = np.arange(size, dtype=np.int64)
    lut[labels.void_value] = new.void_value
    return new, settled, lut.astype(new.dtype)


def rewrite_store(project: Project, old: LabelSet, new: LabelSet, lut: np.ndarray | None) -> int:
    """Make ``new`` the project's label set, rewriting stored masks/predictions through ``lut`` first.

    Journals left behind are replayed into their masks first (they hold old ids). Returns the
    number of files rewritten.
    """
    done = 0
    if lut is not None:
        journal.recover(project)
        for path in stored_files(project):
            arr = masks.read_mask(path, old)
            masks.write_mask(path, paint.remap(arr, lut).astype(new.dtype, copy=False), new)
            done += 1
    project.set_labels(new)
    return done


def label_set_name(project: Project) -> str:
    return os.path.basename(str(project.folder)) or "imported"
