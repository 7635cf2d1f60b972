"""Checks run before an export writes anything; every problem is collected, none stops the scan.

Per image: the mask exists (or is allowed to be missing, then skipped), is readable, holds only
ids of the label set, and has the size of its image as displayed (EXIF orientation applied, as
the editor shows it). Across images: output names are unique, also ignoring letter case (two
names that differ only in case collide on Windows and macOS), and fit on one line. The output
folder: not the project itself, not inside its ``segstudio/`` store, and empty, missing, or a
previous SegStudio export when ``overwrite`` is set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from segstudio.core import masks
from segstudio.core.errors import ImageReadError, MaskError
from segstudio.core.export.common import MANIFEST, output_stem
from segstudio.core.images import read_image
from segstudio.core.project import STORE_DIR, Project

CACHE_BYTES = 256 << 20   # masks kept from the check for the write pass, up to this many bytes
_ROTATED = (5, 6, 7, 8)   # EXIF orientations that swap width and height


@dataclass
class Checked:
    keys: list[str] = field(default_factory=list)        # exportable, in project order
    skipped: list[str] = field(default_factory=list)     # no mask, allowed by allow_missing
    problems: list[str] = field(default_factory=list)
    oriented: list[str] = field(default_factory=list)    # images with an EXIF orientation other than 1
    cache: dict[str, np.ndarray] = field(default_factory=dict)


def image_size(path: Path) -> tuple[tuple[int, int], int]:
    """``((height, width), exif_orientation)`` of the image as displayed, reading only the header."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            orientation = int(img.getexif().get(0x0112, 1) or 1)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: image file not found") from None
    except (OSError, SyntaxError, ValueError):
        return read_image(path).size, 1  # formats PIL cannot open lazily (e.g. 16-bit colour TIFF)
    if orientation in _ROTATED:
        w, h = h, w
    return (h, w), orientation


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def check_out_dir(project_folder: Path, out_dir: Path, overwrite: bool) -> list[str]:
    folder = project_folder.resolve()
    out = out_dir.resolve()
    if _inside(folder, out):
        return [f"{out_dir}: output folder is or contains the project folder {folder}; choose another"]
    if _inside(out, folder / STORE_DIR):
        return [f"{out_dir}: output folder lies inside the project store {folder / STORE_DIR}; choose another"]
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            return [f"{out_dir}: exists and is not a folder"]
        if any(out.iterdir()):
            if not overwrite:
                return [f"{out_dir}: folder exists and is not empty (use --overwrite to replace a previous export)"]
            if not (out / MANIFEST).is_file():
                return [f"{out_dir}: folder is not empty and holds no {MANIFEST}, so it is not a SegStudio "
                        "export; refusing to replace it even with --overwrite"]
    return []


def check_images(project: Project, keys: list[str], allow_missing: bool,
                 tick: Callable[[str], None]) -> Checked:
    """Check every key's mask and image; ``tick(message)`` is called once per image."""
    res = Checked()
    labels = project.labels
    cached = 0
    for key in keys:
        tick(f"checking {key}")
        image = project.images[key]
        mpath = project.mask_path(key)
        if not mpath.exists():
            if allow_missing:
                res.skipped.append(key)
            else:
                res.problems.append(f"{image}: no mask ({mpath} missing; status {project.status(key).value})")
            continue
        try:
            mask = masks.read_mask(mpath, labels)
        except MaskError as exc:
            res.problems.append(str(exc))
            continue
        try:
            size, orientation = image_size(image)
        except ImageReadError as exc:
            res.problems.append(str(exc))
            continue
        if mask.shape != size:
            res.problems.append(f"{mpath}: mask is {mask.shape[1]}×{mask.shape[0]} (w×h) but its image "
                                f"{image.name} is {size[1]}×{size[0]}")
            continue
        if orientation != 1:
            res.oriented.append(key)
        res.keys.append(key)
        if cached + mask.nbytes <= CACHE_BYTES:
            res.cache[key] = mask
            cached += mask.nbytes
    res.problems += check_names(project, res.keys)
    return res


def check_names(project: Project, keys: list[str]) -> list[str]:
    problems = []
    by_name: dict[str, list[str]] = {}
    for key in keys:
        stem = output_stem(key, project.images[key])
        if any(ch in stem for ch in "\n\r") or os.sep in stem or (os.altsep and os.altsep in stem):
            problems.append(f"{project.images[key]}: file name cannot be written in list files (line break "
                            "or path separator); rename the image")
        by_name.setdefault(stem.lower(), []).append(project.images[key].name)
    for names in by_name.values():
        if len(names) > 1:
            problems.append(f"images {', '.join(sorted(names))} would get the same output name "
                            "(names must differ in more than letter case); rename one")
    return problems
