"""``plan_import`` / ``run_import``: read labels made elsewhere into a project, validate-first.

Order of work, as for export: (1) the format's reader lists the label files and the source's
classes, (2) :func:`plan_import` decodes every file and checks everything — each label file has
its image in the project, sizes agree, ids and colours are known, no user mask would be
overwritten unless asked — and raises one :class:`ImportFailed` listing all problems, (3) the
plan says which source class names the project lacks (the GUI asks about them; the CLI adds
them), (4) :func:`run_import` settles the label set, then writes each mask through
``Project.write_mask`` (atomic, status *edited*) and returns an :class:`ImportReport` counting
pixels per class and listing everything left out. Nothing is written before step (4).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from segstudio.core import journal
from segstudio.core.errors import ImageReadError, SegStudioError
from segstudio.core.export.validate import image_size
from segstudio.core.importers import cityscapes, coco, cvat, ids, labelme, rgb, voc, yolo
from segstudio.core.importers.common import (Decoded, ImportCancelled, ImportFailed, ReadContext, Scan, SourceItem,
                                             norm_name)
from segstudio.core.importers.labelset import extend, fresh_label_set, is_fresh, label_set_name, rewrite_store
from segstudio.core.importers.matching import ClassMatch, ImageIndex, read_map, resolve_classes
from segstudio.core.labels import LabelSet
from segstudio.core.project import Project, Status

FORMATS: dict[str, Callable[[ReadContext], Scan]] = {
    "labelme": labelme.read, "coco": coco.read, "voc": voc.read, "cityscapes": cityscapes.read,
    "cvat": cvat.read, "ids": ids.read, "rgb": rgb.read, "yolo-seg": yolo.read}
EXISTING = ("error", "skip", "overwrite")
CACHE_BYTES = 256 << 20
MAX_SHOWN = 50
MAX_LISTED = 10

Progress = Callable[[int, int, str], None]


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f", … ({len(names)} in all)" if len(names) > MAX_LISTED else "")


@dataclass
class ImportPlan:
    """Everything checked, nothing written: what :func:`run_import` will do."""

    project: Project
    fmt: str
    source: Path
    scan: Scan
    labels: LabelSet                    # label set the names are matched to (project's, or a fresh one)
    fresh: bool                         # the project adopts ``labels`` (it had none of its own)
    matches: list[ClassMatch]           # per source class (local id)
    mapping: dict[str, str | None]
    items: list[SourceItem]             # to write, in project order
    existing_skipped: list[str] = field(default_factory=list)
    source_px: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # per local id
    overlap: list[tuple[str, int]] = field(default_factory=list)
    shape_skips: dict[str, dict[str, int]] = field(default_factory=dict)   # reason -> origin -> count
    cache: dict[str, np.ndarray] = field(default_factory=dict)
    untouched: int = 0                  # project images the source has no labels for

    @property
    def unknown(self) -> list[str]:
        """Source class names the project does not know (with pixels), in source order."""
        return [m.source for i, m in enumerate(self.matches)
                if m.unknown and i < self.source_px.size and self.source_px[i] > 0]


@dataclass
class ImportReport:
    fmt: str
    source: Path
    written: list[str]
    labels: LabelSet
    classes_added: list[str] = field(default_factory=list)
    class_lines: list[str] = field(default_factory=list)     # "source -> target: N px"
    pixels: dict[str, int] = field(default_factory=dict)     # project class (and void) -> pixels written
    skipped: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    rewritten: int = 0                                       # stored masks renumbered (void moved)
    cancelled: bool = False

    def summary(self) -> str:
        text = f"imported {len(self.written)} mask(s) from {self.source} ({self.fmt})"
        if self.classes_added:
            text += f"; added {len(self.classes_added)} class(es): {', '.join(self.classes_added)}"
        if self.cancelled:
            text += "; cancelled before the end (the masks listed were written)"
        return text

    def lines(self) -> list[str]:
        out = [self.summary()]
        if self.class_lines:
            out.append("classes:")
            out += [f"  {line}" for line in self.class_lines]
        if self.pixels:
            out.append("pixels written per class:")
            out += [f"  {name}: {n}" for name, n in self.pixels.items()]
        for reason, what in self.skipped.items():
            out.append(f"skipped, {reason}: {len(what)}")
            out += [f"  {w}" for w in what[:MAX_SHOWN]]
            if len(what) > MAX_SHOWN:
                out.append(f"  … and {len(what) - MAX_SHOWN} more")
        out += [f"warning: {w}" for w in self.warnings]
        return out


class _Ticker:
    def __init__(self, progress: Progress | None, cancel: threading.Event | None) -> None:
        self.progress, self.cancel = progress, cancel

    def __call__(self, done: int, total: int, message: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise ImportCancelled("import cancelled; nothing was written")
        if self.progress is not None:
            self.progress(done, total, message)


def _problems_error(source: Path, problems: list[str]) -> ImportFailed:
    shown = problems[:MAX_SHOWN]
    text = f"cannot import {source}: {len(problems)} problem(s):\n  - " + "\n  - ".join(shown)
    if len(problems) > MAX_SHOWN:
        text += f"\n  … and {len(problems) - MAX_SHOWN} more"
    return ImportFailed(text, problems)


def plan_import(project: Project | str | os.PathLike, fmt: str, source: str | os.PathLike,
                labels: LabelSet | None = None, map_file: str | os.PathLike | None = None,
                existing: str = "error", skip_missing: bool = False, progress: Progress | None = None,
                cancel: threading.Event | None = None) -> ImportPlan:
    """Read and check everything (see module docstring); raise one :class:`ImportFailed` with all problems.

    ``labels``: the label set the source's ids/colours refer to (``--labels``; see each format).
    ``existing``: what to do where the user already has a mask: ``error``, ``skip`` or ``overwrite``.
    ``skip_missing``: label files whose image is not in the project are skipped (listed) instead of
    being a problem.
    """
    if fmt not in FORMATS:
        raise ImportFailed(f"unknown import format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if existing not in EXISTING:
        raise ImportFailed(f"unknown choice for existing masks {existing!r}; choose one of {', '.join(EXISTING)}")
    project = project if isinstance(project, Project) else Project(project)
    src = Path(source)
    if not src.exists():
        raise ImportFailed(f"{src}: source not found")
    tick = _Ticker(progress, cancel)
    problems: list[str] = []
    try:
        mapping = read_map(map_file)
    except ImportFailed as exc:
        problems.append(str(exc))
        mapping = {}
    tick(0, 1, "reading the source")
    try:
        scan = FORMATS[fmt](ReadContext(src, ImageIndex(project), labels, project.labels))
    except SegStudioError as exc:
        raise _problems_error(src, [*problems, str(exc)]) from None
    problems += scan.problems
    fresh = is_fresh(project)
    base = fresh_label_set(scan, label_set_name(project)) if fresh else project.labels
    plan = ImportPlan(project, fmt, src, scan, base, fresh, [], mapping, [])

    if scan.unmatched:
        if skip_missing:
            scan.skipped.setdefault("no such image in the project", []).extend(scan.unmatched)
        else:
            problems.append(f"{len(scan.unmatched)} label file(s) name images that are not in {project.folder}: "
                            f"{_listing(scan.unmatched)} (use --skip-missing to leave them out)")
    pending = set(journal.pending(project.store))
    has_user_mask = [it.key for it in scan.items if project.has_mask(it.key) or it.key in pending]
    if has_user_mask and existing == "error":
        problems.append(f"{len(has_user_mask)} image(s) already have a mask of yours: {_listing(has_user_mask)} "
                        "(use --overwrite to replace them, or --skip-existing to keep them)")
    skip_keys = set(has_user_mask) if existing == "skip" else set()
    plan.existing_skipped = [k for k in has_user_mask if k in skip_keys]
    order = {k: i for i, k in enumerate(project.keys())}
    items = sorted((it for it in scan.items if it.key not in skip_keys), key=lambda it: order[it.key])
    counts = np.zeros(len(scan.classes) + 1, np.int64)
    cached = 0
    for n, item in enumerate(items):
        tick(n, len(items), f"checking {item.key}")
        decoded = _decode_checked(project, item, problems)
        if decoded is None:
            continue
        local = decoded.local
        if local.max(initial=-1) >= len(scan.classes):
            problems.append(f"{item.origin}: internal error: class index past the class list")
            continue
        counts += np.bincount((local + 1).reshape(-1), minlength=counts.size)[: counts.size]
        for reason, k in decoded.skipped.items():
            plan.shape_skips.setdefault(reason, {})[item.origin] = k
        if decoded.overlap_px:
            plan.overlap.append((item.origin, decoded.overlap_px))
        plan.items.append(item)
        if cached + local.nbytes <= CACHE_BYTES:
            plan.cache[item.key] = local
            cached += local.nbytes
    if not scan.items and not problems:
        problems.append(f"{src}: no label file for any image of {project.folder}; nothing to import")
    if problems:
        raise _problems_error(src, problems)
    plan.source_px = counts[1:]
    plan.untouched = len(project.keys()) - len(plan.items) - len(plan.existing_skipped)
    plan.matches = resolve_classes(scan.classes, base, mapping)
    return plan


def _decode_checked(project: Project, item: SourceItem, problems: list[str]) -> Decoded | None:
    image = project.images[item.key]
    try:
        size, _ = image_size(image)
    except ImageReadError as exc:
        problems.append(f"{item.origin}: {exc}")
        return None
    if item.size is not None and tuple(item.size) != tuple(size):
        problems.append(f"{item.origin}: declares {item.size[1]}×{item.size[0]} (w×h) but the image "
                        f"{image.name} is {size[1]}×{size[0]}")
        return None
    try:
        decoded = item.decode(size)
    except SegStudioError as exc:
        problems.append(str(exc))
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        problems.append(f"{item.origin}: cannot decode ({type(exc).__name__}: {exc})")
        return None
    if decoded.local.shape != tuple(size):
        problems.append(f"{item.origin}: mask is {decoded.local.shape[1]}×{decoded.local.shape[0]} (w×h) but the "
                        f"image {image.name} is {size[1]}×{size[0]}")
        return None
    return decoded


def run_import(plan: ImportPlan, decisions: dict[str, str] | None = None, progress: Progress | None = None,
               cancel: threading.Event | None = None) -> ImportReport:
    """Write the planned masks. ``decisions[name]`` settles an unknown source class: ``"add"`` (the
    default), ``"void"``, or the name of a project class. Cancel stops before the next mask."""
    tick = _Ticker(progress, cancel)
    total = len(plan.items) + 1
    tick(0, total, "settling the label set")
    project, scan = plan.project, plan.scan
    matches = resolve_classes(scan.classes, plan.labels, plan.mapping, decisions)
    for i, m in enumerate(matches):   # a class the project lacks and no pixel uses is not added
        if m.new is not None and not (i < plan.source_px.size and plan.source_px[i] > 0):
            matches[i] = ClassMatch(m.source, why="unused")
    colors = {c.name: c.color for c in scan.classes}
    old = project.labels
    new, settled, void_lut = extend(plan.labels, matches, colors)
    lut = np.full(len(scan.classes) + 1, new.void_value, np.int64)
    for i, m in enumerate(settled):
        if m.target is not None:
            lut[i + 1] = m.target
    lut = lut.astype(new.dtype)
    report = ImportReport(plan.fmt, plan.source, [], new)
    report.classes_added = [c.name for c in new.classes[plan.labels.num_classes:]]
    if plan.fresh:
        report.classes_added = [c.name for c in new.classes]
    for i, m in enumerate(settled):
        target = new.classes[m.target].name if m.target is not None else f"void ({new.void_name})"
        how = {"name": "same name", "map": "--map", "void": "void", "background": "background, not a class here",
               "unused": "no pixels, not added",
               "unknown": "new class" if m.target is not None and new.classes[m.target].name in report.classes_added
               else "chosen"}.get(m.why, m.why)
        px = int(plan.source_px[i]) if i < plan.source_px.size else 0
        report.class_lines.append(f"{m.source} -> {target} ({how}): {px} px")
    if plan.fresh or new != old:
        report.rewritten = rewrite_store(project, old, new, None if plan.fresh else void_lut)
        if void_lut is not None and not plan.fresh:
            report.warnings.append(f"the void value moved from {old.void_value} to {new.void_value} to make room "
                                   f"for new classes; {report.rewritten} stored mask(s)/prediction(s) rewritten")
    pixels = np.zeros(int(new.max_value) + 1, np.int64)
    try:
        for n, item in enumerate(plan.items):
            tick(n + 1, total, f"writing {item.key}")
            local = plan.cache.pop(item.key, None)
            if local is None:
                local = item.decode(image_size(project.images[item.key])[0]).local
            mask = lut[local + 1]
            journal.journal_path(project.store, item.key).unlink(missing_ok=True)
            project.write_mask(item.key, mask, Status.EDITED)
            report.written.append(item.key)
            pixels += np.bincount(mask.reshape(-1), minlength=pixels.size)[: pixels.size]
    except ImportCancelled:
        report.cancelled = True
    report.pixels = {c.name: int(pixels[c.id]) for c in new.classes if pixels[c.id]}
    if pixels[new.void_value]:
        report.pixels[f"void ({new.void_name})"] = int(pixels[new.void_value])
    report.skipped = dict(scan.skipped)
    if plan.existing_skipped:
        report.skipped["you already have a mask (kept)"] = list(plan.existing_skipped)
    for reason, per_file in plan.shape_skips.items():
        report.skipped[f"{reason}, shapes left out"] = [f"{o}: {k}" for o, k in per_file.items()]
    if plan.overlap:
        total_px = sum(px for _, px in plan.overlap)
        report.warnings.append(f"{total_px} pixel(s) in {len(plan.overlap)} file(s) were covered by shapes or "
                               f"annotations of different classes; the {plan.fmt} overlap rule decided them "
                               f"(docs/import.md)")
    unused = [k for k in plan.mapping if k not in {norm_name(c.name) for c in scan.classes}]
    if unused:
        report.warnings.append(f"--map names {len(unused)} class(es) the source does not have: {', '.join(unused)}")
    if progress is not None and not report.cancelled:
        progress(total, total, "done")
    return report


def import_labels(project: Project | str | os.PathLike, fmt: str, source: str | os.PathLike,
                  labels: LabelSet | None = None, map_file: str | os.PathLike | None = None,
                  existing: str = "error", skip_missing: bool = False, decisions: dict[str, str] | None = None,
                  progress: Progress | None = None, cancel: threading.Event | None = None) -> ImportReport:
    """:func:`plan_import` then :func:`run_import` (unknown classes added unless ``decisions`` say otherwise)."""
    plan = plan_import(project, fmt, source, labels, map_file, existing, skip_missing, progress, cancel)
    return run_import(plan, decisions, progress, cancel)
