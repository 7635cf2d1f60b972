"""Helpers of the fault-injection suite (files made here, trees compared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def error_line(err: str, verb: str) -> str:
    """The one error line of ``verb`` on stderr (asserting there is exactly one)."""
    lines = [ln for ln in err.splitlines() if ln.startswith(f"segstudio {verb}: error:")]
    assert len(lines) == 1, err
    return lines[0]


def write_images(folder: Path, n: int, size: tuple[int, int] = (24, 32), seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        p = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return paths


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its bytes (to assert nothing saved changed)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*.tmp")] + [p.name for p in folder.glob("*.partial-*")]
