"""Shared fixtures: the CamVid folder (skips when absent), deterministic seeds."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no test may touch a real display

import pytest

REPO = Path(__file__).resolve().parents[1]
CAMVID = Path(os.environ.get("SEGSTUDIO_CAMVID", REPO.parent / "shared" / "data" / "camvid"))


@pytest.fixture(scope="session")
def camvid_dir() -> Path:
    if not (CAMVID / "valannot").is_dir():
        pytest.skip(f"CamVid not found at {CAMVID} (../shared/data/camvid); set SEGSTUDIO_CAMVID")
    return CAMVID
