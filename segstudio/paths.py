"""Where SegStudio finds its shipped resources (label presets, icons, the default model).

Works from a source checkout / editable install (``<repo>/resources``) and from a
PyInstaller bundle (``sys._MEIPASS/resources``). ``SEGSTUDIO_RESOURCES`` overrides both.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_MODEL_NAME = "camvid_default.pt"


def resources_dir() -> Path:
    override = os.environ.get("SEGSTUDIO_RESOURCES")
    if override:
        return Path(override)
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def default_model_path() -> Path:
    """Path of the shipped default checkpoint (may not exist in a partial checkout)."""
    return resources_dir() / "models" / DEFAULT_MODEL_NAME
