"""``export_project``: select images, check everything, write one format, publish atomically.

Order of work: (1) pick the images by status, (2) run every check (:mod:`.validate`, the
format's own label-set checks, the split spec, the output folder) and raise one
:class:`ExportError` listing all problems, (3) write into a sibling ``DIR.partial-XXXX``
folder, (4) write ``segstudio-export.json`` and rename the folder to ``DIR``. A failure or a
cancel at any point removes the partial folder, so ``DIR`` is either a whole export or absent.
The project is only read. Output is deterministic: same project and options, same bytes.

Faults: a pending crash journal (unsaved edits of a session that ended abruptly) makes the
export refuse, saying how to recover (``recover=True`` replays the journals into the masks
first, as opening the folder in the app does). A disk fault (full, read-only) raises
:class:`~segstudio.core.errors.DiskError` naming the file as it would have been in ``DIR``.
The published folder has the umask's permissions, like the files (not ``mkdtemp``'s 0700).
The partial folder's name carries this host and process id (``DIR.partial-HOST-PID-XXXX``): a
later export removes the partial folders of dead processes on this host (an export killed with
SIGKILL or a power cut) and says so in its warnings; a running export's folder is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from segstudio import __version__
from segstudio.core import journal, masks
from segstudio.core.atomic import fsync_dir, umask
from segstudio.core.errors import DiskError, SegStudioError, disk_error
from segstudio.core.export.camvid import CamvidExporter
from segstudio.core.export.cityscapes import CityscapesExporter
from segstudio.core.export.coco import CocoExporter
from segstudio.core.export.common import (MANIFEST, Context, ExportCancelled, ExportError, Exporter, Item,
                                          Output, output_stem)
from segstudio.core.export.png import PngExporter
from segstudio.core.export.split import assign_splits, parse_split
from segstudio.core.export.validate import check_images, check_out_dir
from segstudio.core.export.voc import VocExporter
from segstudio.core.export.yolo import YoloSegExporter
from segstudio.core.project import STORE_DIR, Project, Status

FORMATS: dict[str, type[Exporter]] = {e.name: e for e in (
    VocExporter, CocoExporter, CityscapesExporter, CamvidExporter, YoloSegExporter, PngExporter)}
ONLY = {"reviewed": (Status.REVIEWED,), "edited": (Status.EDITED, Status.REVIEWED), "all": None}
MAX_SHOWN = 50

Progress = Callable[[int, int, str], None]


@dataclass
class ExportReport:
    format: str
    out_dir: Path
    splits: dict[str, list[str]]                          # split name -> keys written
    skipped: list[str] = field(default_factory=list)      # no mask (allow_missing)
    warnings: list[str] = field(default_factory=list)
    files: int = 0

    @property
    def images(self) -> int:
        return sum(len(v) for v in self.splits.values())

    def summary(self) -> str:
        parts = ", ".join(f"{name} {len(keys)}" for name, keys in self.splits.items())
        text = f"exported {self.images} image(s) ({parts}) as {self.format} to {self.out_dir} ({self.files} files)"
        if self.skipped:
            text += f"; skipped {len(self.skipped)} without a mask"
        return text


class _Ticker:
    def __init__(self, total: int, progress: Progress | None, cancel: threading.Event | None) -> None:
        self.done, self.total, self.progress, self.cancel = 0, total, progress, cancel

    def __call__(self, message: str, steps: int = 1) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise ExportCancelled("export cancelled; nothing was written")
        if self.progress is not None:
            self.progress(self.done, self.total, message)
        self.done += steps


def _problems_error(folder: Path, problems: list[str]) -> ExportError:
    shown = problems[:MAX_SHOWN]
    more = len(problems) - len(shown)
    text = f"cannot export {folder}: {len(problems)} problem(s):\n  - " + "\n  - ".join(shown)
    if more:
        text += f"\n  … and {more} more"
    return ExportError(text, problems)


def _select(project: Project, only: str) -> list[str]:
    statuses = ONLY[only]
    return project.keys() if statuses is None else project.keys_with_status(*statuses)


def _publish(partial: Path, out_dir: Path) -> None:
    """Rename the finished partial folder to ``out_dir`` (replacing a checked previous export)."""
    if out_dir.exists():
        if any(out_dir.iterdir()):
            old = Path(tempfile.mkdtemp(prefix=f"{out_dir.name}.old-", dir=out_dir.parent))
            old.rmdir()
            os.rename(out_dir, old)
            os.rename(partial, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            out_dir.rmdir()
            os.rename(partial, out_dir)
    else:
        os.rename(partial, out_dir)
    fsync_dir(out_dir.parent)  # make the publishing rename durable


def _host_prefix(out_dir: Path) -> str:
    """``DIR.partial-HOST-``: the start of every partial folder this host makes for ``out_dir``."""
    host = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"
    return f"{out_dir.name}.partial-{host}-"


def _partial_prefix(out_dir: Path) -> str:
    return f"{_host_prefix(out_dir)}{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:          # e.g. another user's process: alive
        return True
    return True


def remove_stale_partials(out_dir: Path) -> list[Path]:
    """Remove ``DIR.partial-HOST-PID-*`` folders of this host whose process is gone; returns them."""
    host_part = _host_prefix(out_dir)
    removed = []
    try:
        siblings = list(out_dir.parent.iterdir()) if out_dir.parent.is_dir() else []
    except OSError:
        return removed
    for p in siblings:
        rest = p.name[len(host_part):] if p.name.startswith(host_part) else ""
        pid = rest.split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)) or not p.is_dir() or p.is_symlink():
            continue
        shutil.rmtree(p, ignore_errors=True)
        if not p.exists():
            removed.append(p)
    return removed


def _make_parent(parent: Path) -> Path | None:
    """Create ``parent`` if missing; return the topmost folder created (to undo), else None."""
    top = None
    p = parent
    while not p.exists():
        top = p
        p = p.parent
    parent.mkdir(parents=True, exist_ok=True)
    return top


def _unmake_parent(parent: Path, created: Path | None) -> None:
    """Remove the (empty) folders :func:`_make_parent` created, and no others."""
    if created is None:
        return
    p = parent
    while True:
        try:
            p.rmdir()
        except OSError:
            return
        if p == created:
            return
        p = p.parent


def _journal_problems(project: Project, recover: bool) -> tuple[list[str], list[str]]:
    """(problems, notes) about crash journals: refuse while one holds edits, unless ``recover``."""
    keys = []
    for key in journal.pending(project.store):
        try:
            if journal.read_records(journal.journal_path(project.store, key))[2]:
                keys.append(key)
        except (SegStudioError, OSError):
            keys.append(key)
    if not keys:
        return [], []
    if recover:
        done, errors = journal.recover(project)
        return errors, [f"recovered unsaved edits of {len(done)} image(s) from crash journals into their masks"]
    shown = ", ".join(str(journal.journal_path(project.store, k)) for k in keys[:5])
    return [f"{len(keys)} image(s) have unsaved edits in a crash journal ({shown}{' …' if len(keys) > 5 else ''}): "
            f"run the export again with --recover to save them into the masks first (as opening the folder "
            f"in SegStudio does), or open the folder in SegStudio"], []


def _as_published(exc: OSError, partial: Path, out_dir: Path) -> DiskError:
    """A write fault inside the partial folder, naming the file as it would be in ``out_dir``."""
    err = disk_error(None, exc)
    where = Path(err.path)
    try:
        where = out_dir / where.relative_to(partial)
    except ValueError:
        pass
    fault = DiskError(where, err.what, err)
    fault.strerror = err.strerror
    fault.hint = f"export stopped; nothing was published to {out_dir}"
    return fault


def export_project(project_folder: str | os.PathLike, fmt: str, out_dir: str | os.PathLike,
                   split: str | Mapping[str, float] | None = None, seed: int = 0, only: str = "edited",
                   allow_missing: bool = False, overwrite: bool = False, progress: Progress | None = None,
                   cancel: threading.Event | None = None, recover: bool = False) -> ExportReport:
    """Export a SegStudio project folder as ``fmt`` into ``out_dir`` (see module docstring).

    ``progress(done, total, message)`` is called before each step (checking, then writing each
    image, then finishing); ``cancel`` is checked before each image and makes the call raise
    :class:`ExportCancelled` with no output left. Problems raise one :class:`ExportError`.
    """
    folder = Path(project_folder)
    out_dir = Path(os.path.abspath(out_dir))  # normalised: "." and ".." resolved, so it has a name and a parent
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if only not in ONLY:
        raise ExportError(f"unknown selection {only!r}; choose one of {', '.join(ONLY)}")
    if not (folder / STORE_DIR).is_dir():
        raise ExportError(f"{folder}: not a SegStudio project (no {STORE_DIR}/ folder with masks)")
    project = Project(folder)
    labels = project.labels
    exporter = FORMATS[fmt]()

    problems, notes = _journal_problems(project, recover)
    problems += check_out_dir(folder, out_dir, overwrite)
    problems += exporter.problems(labels)
    fractions = None
    try:
        fractions = parse_split(split)
    except ExportError as exc:
        problems.append(str(exc))
    keys = _select(project, only)
    tick = _Ticker(2 * len(keys) + 1, progress, cancel)
    checked = check_images(project, keys, allow_missing, tick)
    problems += checked.problems
    if not keys:
        problems.append(f"{folder}: no image selected (--only {only}); nothing to export")
    elif not checked.keys and not checked.problems:
        problems.append(f"{folder}: none of the {len(keys)} selected image(s) has a mask; nothing to export")
    if problems:
        raise _problems_error(folder, problems)

    split_keys = assign_splits(checked.keys, fractions, seed)
    index = {k: i for i, k in enumerate(checked.keys)}
    splits = {name: [Item(k, project.images[k], output_stem(k, project.images[k]), name, index[k])
                     for k in ks] for name, ks in split_keys.items()}
    ctx = Context(labels, folder.resolve().name, splits, fractions is not None)
    warnings: list[str] = [*notes, *project.warnings, *project.skipped]
    if checked.oriented:
        warnings.append(f"{len(checked.oriented)} image(s) carry an EXIF orientation (e.g. {checked.oriented[0]}): "
                        "they are copied unchanged, their masks follow the displayed (rotated) image")
    for name, ks in split_keys.items():
        if fractions and not ks:
            warnings.append(f"split {name!r} is empty ({len(checked.keys)} image(s) in all)")

    created = None
    try:
        created = _make_parent(out_dir.parent)
        stale = remove_stale_partials(out_dir)
        if stale:
            warnings.append(f"removed {len(stale)} unfinished export folder(s) left by an export that was killed "
                            f"(e.g. {stale[0].name})")
        partial = Path(tempfile.mkdtemp(prefix=_partial_prefix(out_dir), dir=out_dir.parent))
    except OSError as exc:
        _unmake_parent(out_dir.parent, created)
        raise disk_error(out_dir, exc, "cannot create the export folder") from None
    try:
        os.chmod(partial, 0o777 & ~umask())  # published as made by mkdir, not mkdtemp's 0700
        out = Output(partial)
        exporter.begin(out, ctx)
        tick.done += len(checked.skipped)
        for item in (it for name in splits for it in splits[name]):
            tick(f"writing {item.key}")
            mask = checked.cache.pop(item.key, None)
            if mask is None:
                mask = masks.read_mask(project.mask_path(item.key), labels)
            exporter.write(out, item, mask)
        tick("finishing")
        exporter.finish(out)
        warnings += exporter.warnings
        report = ExportReport(fmt, out_dir, {n: list(ks) for n, ks in split_keys.items()},
                              list(checked.skipped), warnings, out.files + 1)
        out.json(MANIFEST, {
            "format": fmt, "segstudio_version": __version__, "project": ctx.project_name,
            "label_set": labels.name, "only": only, "allow_missing": allow_missing,
            "split": fractions, "seed": int(seed), "splits": report.splits, "skipped": report.skipped,
            "files": report.files, "warnings": warnings})
        if cancel is not None and cancel.is_set():
            raise ExportCancelled("export cancelled; nothing was written")
        _publish(partial, out_dir)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        _unmake_parent(out_dir.parent, created)
        raise _as_published(exc, partial, out_dir) from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        _unmake_parent(out_dir.parent, created)
        raise
    if progress is not None:
        progress(tick.total, tick.total, "done")
    return report
