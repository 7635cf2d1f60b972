"""Small synthetic projects for the import / export-loader tests (random blocky masks with void)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from segstudio.core.labels import LabelSet, preset
from segstudio.core.project import Project, Status


def blocky_mask(rng: np.random.Generator, h: int, w: int, labels: LabelSet, void_share: float = 0.1,
                specks: int = 3) -> np.ndarray:
    """Random class blocks (a coarse grid upscaled), some void blocks and ``specks`` single pixels."""
    gh, gw = max(2, h // 6), max(2, w // 6)
    coarse = rng.integers(0, labels.num_classes, (gh, gw))
    coarse[rng.random((gh, gw)) < void_share] = labels.void_value
    mask = coarse[np.arange(h) * gh // h][:, np.arange(w) * gw // w].astype(labels.dtype)
    for _ in range(specks):
        mask[rng.integers(0, h), rng.integers(0, w)] = rng.integers(0, labels.num_classes)
    return mask


def make_images(folder: Path, n: int, size: tuple[int, int] = (24, 32), seed: int = 0, jpeg_every: int = 3) -> list[str]:
    """``n`` random images (PNG, every ``jpeg_every``-th a JPEG) in ``folder``; returns their keys."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    keys = []
    for i in range(n):
        ext = ".jpg" if jpeg_every and i % jpeg_every == jpeg_every - 1 else ".png"
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f"img{i:02d}{ext}")
        keys.append(f"img{i:02d}")
    return keys


def make_project(root: Path, n: int = 4, labels: LabelSet | None = None, size: tuple[int, int] = (24, 32),
                 seed: int = 0, specks: int = 3, jpeg_every: int = 3) -> tuple[Path, dict[str, np.ndarray]]:
    """A project with ``n`` images, each with a mask (status edited); returns (folder, masks)."""
    labels = labels or preset("camvid")
    folder = root / "proj"
    make_images(folder, n, size, seed, jpeg_every)
    project = Project(folder, default_labels=labels)
    project.set_labels(labels)
    rng = np.random.default_rng(seed + 1)
    out = {}
    for key in project.keys():
        mask = blocky_mask(rng, *size, labels, specks=specks)
        project.write_mask(key, mask, Status.EDITED)
        out[key] = mask
    return folder, out


def empty_copy(root: Path, folder: Path, name: str = "copy") -> Path:
    """A new project folder holding the same image files and no labels."""
    dst = root / name
    dst.mkdir()
    for p in folder.iterdir():
        if p.is_file():
            (dst / p.name).write_bytes(p.read_bytes())
    return dst
