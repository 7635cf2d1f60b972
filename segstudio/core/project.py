"""Project store: any image folder becomes a project, its state kept in ``<folder>/segstudio/``.

Layout::

    <folder>/                 the user's images (never modified)
    <folder>/segstudio/
        labels.json           the label set (CamVid, the default model's, until the user changes it)
        masks/<key>.png       the user's labels (indexed PNG)
        predictions/<key>.png model output not yet accepted
        state.json            per-image status and the optional ground-truth folder

``key`` is the image file's stem, or its full name when two images share a stem
(``a.jpg`` and ``a.png``). Every write is atomic (temp + fsync + rename).

Opening never fails on a bad project file: ``state.json`` and ``labels.json`` are checked
against their schema; a bad one is moved aside to ``*.bad`` (a bad entry of ``state.json`` is
dropped, the original kept as ``state.json.bad``), the project opens with the defaults, and the
reason is in :attr:`Project.warnings`. Folder entries that are not readable images (symlink
loops, FIFOs, …) are left out of :attr:`Project.images` and listed in :attr:`Project.skipped`.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from enum import Enum
from pathlib import Path

import numpy as np

from segstudio.core import atomic, labels as labels_mod, masks
from segstudio.core.errors import LabelSetError, ProjectError
from segstudio.core.images import LoadedImage, no_images_error, read_image, scan_image_names
from segstudio.core.labels import LabelSet

STORE_DIR = "segstudio"


class Status(str, Enum):
    UNLABELLED = "unlabelled"
    PREDICTED = "predicted"
    EDITED = "edited"
    REVIEWED = "reviewed"


_STATUS_VALUES = frozenset(s.value for s in Status)


def check_state(data: object) -> tuple[dict, list[str], bool]:
    """Check ``state.json`` content against its schema: ``(clean state, problems, fatal)``.

    Schema: an object with ``version`` (int), ``images`` (object: key -> object whose optional
    ``status`` is one of :class:`Status`), ``ground_truth`` (string or null); other entries are
    kept. ``fatal``: the whole file is unusable; otherwise only the listed entries were dropped.
    """
    if not isinstance(data, dict):
        return {}, [f"holds a JSON {type(data).__name__} where an object is expected"], True
    images = data.get("images", {})
    if not isinstance(images, dict):
        return {}, [f"'images' is a {type(images).__name__}, not an object"], True
    gt = data.get("ground_truth")
    if gt is not None and not isinstance(gt, str):
        return {}, [f"'ground_truth' is a {type(gt).__name__}, not a folder name"], True
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        return {}, [f"'version' is {version!r}, not a number"], True
    problems, clean = [], {}
    for key, entry in images.items():
        if not isinstance(entry, dict):
            problems.append(f"image {key!r}: entry is a {type(entry).__name__}, not an object")
            continue
        status = entry.get("status")
        if status is not None and status not in _STATUS_VALUES:
            problems.append(f"image {key!r}: unknown status {status!r}")
            entry = {k: v for k, v in entry.items() if k != "status"}
        clean[key] = entry
    return {**data, "version": version, "images": clean, "ground_truth": gt}, problems, False


def keys_for_names(names: list[str]) -> list[str]:
    """Each image file name's key: the stem, or the full file name where stems collide."""
    stems = [os.path.splitext(n)[0] for n in names]
    counts = Counter(stems)
    return [st if counts[st] == 1 else n for st, n in zip(stems, names)]


def image_keys(paths: list[Path]) -> dict[str, Path]:
    """Map each image to its key (see :func:`keys_for_names`)."""
    return dict(zip(keys_for_names([p.name for p in paths]), paths))


class Project:
    """The ``segstudio/`` store of one image folder. Thread-safe for status updates."""

    def __init__(self, folder: str | Path, default_labels: LabelSet | None = None) -> None:
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise ProjectError(f"{folder}: not a folder")
        self.store = self.folder / STORE_DIR
        self._lock = threading.RLock()
        self._images: dict[str, Path] | None = None
        self.warnings: list[str] = []     # bad project files found (and set aside) on opening
        self.skipped: list[str] = []      # folder entries left out of the listing, with the reason
        self._labels = self._load_labels(default_labels)
        self._state = self._load_state()

    # -- images ------------------------------------------------------------------------
    @property
    def images(self) -> dict[str, Path]:
        """key -> image path, in natural order (listed once, on first use)."""
        if self._images is None:
            listing = scan_image_names(self.folder)
            self.skipped = listing.messages()
            self._images = image_keys([self.folder / n for n in listing.names])
        return self._images

    def keys(self) -> list[str]:
        return list(self.images)

    def require_images(self) -> None:
        """Raise the no-images error (naming subfolders that hold images) when the folder has none."""
        if not self.images:
            raise no_images_error(self.folder, len(self.skipped))

    def read_image(self, key: str) -> LoadedImage:
        return read_image(self.images[key])

    # -- labels ------------------------------------------------------------------------
    @property
    def labels_path(self) -> Path:
        return self.store / "labels.json"

    @property
    def labels(self) -> LabelSet:
        return self._labels

    def set_labels(self, labels: LabelSet) -> None:
        with self._lock:
            labels.save(self.labels_path)
            self._labels = labels

    def _load_labels(self, default: LabelSet | None) -> LabelSet:
        fallback = default or labels_mod.preset("camvid")
        if not self.labels_path.exists():
            return fallback
        try:
            return LabelSet.load(self.labels_path)
        except (LabelSetError, AttributeError, TypeError, ValueError) as exc:
            why = str(exc) if isinstance(exc, LabelSetError) else f"{self.labels_path}: malformed label set ({exc})"
            self._set_aside(self.labels_path, f"{why}; using the {fallback.name!r} label set")
            return fallback

    # -- masks and predictions -----------------------------------------------------------
    def mask_path(self, key: str) -> Path:
        return self.store / "masks" / f"{key}.png"

    def prediction_path(self, key: str) -> Path:
        return self.store / "predictions" / f"{key}.png"

    def has_mask(self, key: str) -> bool:
        return self.mask_path(key).exists()

    def read_mask(self, key: str) -> np.ndarray | None:
        p = self.mask_path(key)
        return masks.read_mask(p, self._labels) if p.exists() else None

    def read_prediction(self, key: str) -> np.ndarray | None:
        p = self.prediction_path(key)
        return masks.read_mask(p, self._labels) if p.exists() else None

    def _ensure_labels_saved(self) -> None:
        if not self.labels_path.exists():
            self._labels.save(self.labels_path)

    def write_mask(self, key: str, mask: np.ndarray, status: Status = Status.EDITED) -> None:
        with self._lock:
            self._ensure_labels_saved()
            masks.write_mask(self.mask_path(key), mask, self._labels)
            self.set_status(key, status)

    def save_user_mask(self, key: str, mask: np.ndarray) -> Status:
        """Autosave's write: the user's mask, status edited — except that a mask with no labelled
        pixel at all (e.g. every stroke undone) is no mask: the file is removed and the status
        falls back to predicted / unlabelled, so accept and export never take it for the user's work."""
        if mask.size and not (mask != self._labels.void_value).any():
            with self._lock:
                try:
                    self.mask_path(key).unlink()
                except FileNotFoundError:
                    pass
                status = Status.PREDICTED if self.prediction_path(key).exists() else Status.UNLABELLED
                self.set_status(key, status)
            return status
        self.write_mask(key, mask, Status.EDITED)
        return Status.EDITED

    def write_prediction(self, key: str, mask: np.ndarray) -> None:
        with self._lock:
            self._ensure_labels_saved()
            masks.write_mask(self.prediction_path(key), mask, self._labels)
            if self.status(key) == Status.UNLABELLED:
                self.set_status(key, Status.PREDICTED)

    # -- state ---------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.store / "state.json"

    def _load_state(self) -> dict:
        empty = {"version": 1, "images": {}, "ground_truth": None}
        path = self.state_path
        if not path.exists():
            return empty
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._set_aside(path, f"{path}: not valid JSON ({exc}); statuses rebuilt from the masks on disk")
            return empty
        except OSError as exc:
            self.warnings.append(f"{path}: cannot read the project state ({exc.strerror or exc}); "
                                 "statuses rebuilt from the masks on disk")
            return empty
        state, problems, fatal = check_state(data)
        if fatal:
            self._set_aside(path, f"{path}: not a valid project state ({problems[0]}); "
                                  "statuses rebuilt from the masks on disk")
            return empty
        if problems:
            kept = self._set_aside(path, f"{path}: {len(problems)} bad entr{'y' if len(problems) == 1 else 'ies'} "
                                         f"dropped ({'; '.join(problems[:5])}{' …' if len(problems) > 5 else ''})",
                                   copy=True)
            if kept is not None:
                try:
                    atomic.write_json(path, state)
                except OSError:
                    pass
        return state

    def _set_aside(self, path: Path, why: str, copy: bool = False) -> Path | None:
        """Keep a bad project file as ``<name>.bad`` (moved, or copied with ``copy``) and record why."""
        target = path.with_name(path.name + ".bad")
        n = 2
        while target.exists():
            target = path.with_name(f"{path.name}.bad{n}")
            n += 1
        try:
            if copy:
                atomic.write_bytes(target, path.read_bytes())
            else:
                os.replace(path, target)
        except OSError as exc:
            self.warnings.append(f"{why}; could not keep it aside as {target.name} ({exc.strerror or exc})")
            return None
        self.warnings.append(f"{why}; the file is kept as {target.name}")
        return target

    def _save_state(self) -> None:
        atomic.write_json(self.state_path, self._state)

    def status(self, key: str) -> Status:
        raw = self._state["images"].get(key, {}).get("status")
        if raw in _STATUS_VALUES:
            return Status(raw)
        if self.has_mask(key):
            return Status.EDITED
        if self.prediction_path(key).exists():
            return Status.PREDICTED
        return Status.UNLABELLED

    def set_status(self, key: str, status: Status) -> None:
        with self._lock:
            self._state["images"].setdefault(key, {})["status"] = Status(status).value
            self._save_state()

    def set_statuses(self, statuses: dict[str, Status]) -> None:
        """Record many statuses with ONE state write (bulk predict / accept on large folders)."""
        with self._lock:
            for key, status in statuses.items():
                self._state["images"].setdefault(key, {})["status"] = Status(status).value
            self._save_state()

    def statuses(self, keys: list[str] | None = None) -> dict[str, Status]:
        """Status of many images at once: recorded statuses, else two folder listings (masks/,
        predictions/) instead of two file checks per image — the rule of :meth:`status`."""

        def names(folder: Path) -> set[str]:
            try:
                with os.scandir(folder) as it:
                    return {e.name for e in it}
            except OSError:
                return set()

        with_mask, with_pred = names(self.store / "masks"), names(self.store / "predictions")
        recorded = self._state["images"]
        out = {}
        for k in (self.keys() if keys is None else keys):
            raw = recorded.get(k, {}).get("status")
            if raw in _STATUS_VALUES:
                out[k] = Status(raw)
            elif f"{k}.png" in with_mask:
                out[k] = Status.EDITED
            elif f"{k}.png" in with_pred:
                out[k] = Status.PREDICTED
            else:
                out[k] = Status.UNLABELLED
        return out

    def keys_with_status(self, *statuses: Status) -> list[str]:
        wanted = {Status(s) for s in statuses}
        return [k for k in self.images if self.status(k) in wanted]

    @property
    def ground_truth(self) -> Path | None:
        gt = self._state.get("ground_truth")
        return Path(gt) if gt else None

    def set_ground_truth(self, folder: str | Path | None) -> None:
        with self._lock:
            if folder is not None and not Path(folder).is_dir():
                raise ProjectError(f"{folder}: ground-truth folder does not exist")
            self._state["ground_truth"] = str(Path(folder).resolve()) if folder else None
            self._save_state()

    def ground_truth_path(self, key: str) -> Path | None:
        """The GT mask for ``key``: ``<gt>/<key>.png`` or any file in the GT folder with that stem."""
        gt = self.ground_truth
        if gt is None:
            return None
        direct = gt / f"{key}.png"
        if direct.exists():
            return direct
        stem = Path(key).stem
        for cand in (gt / f"{stem}.png", gt / f"{stem}_gt.png", gt / f"{stem}_labelIds.png"):
            if cand.exists():
                return cand
        return None
