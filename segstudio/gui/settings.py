"""Persistent user preferences (recent folders, window layout, view options) over QSettings.

The app uses the user's native settings store; ``SEGSTUDIO_SETTINGS=<file.ini>`` (or passing a
path) redirects everything to one INI file, which tests and scripts use so that they never
touch the user's real settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORG, APP = "SegStudio", "SegStudio"
MAX_RECENT = 10


class AppSettings:
    def __init__(self, path: str | os.PathLike | None = None) -> None:
        path = path or os.environ.get("SEGSTUDIO_SETTINGS")
        self.qs = QSettings(str(path), QSettings.Format.IniFormat) if path else QSettings(ORG, APP)

    def value(self, key: str, default: Any = None, type_: type | None = None) -> Any:
        raw = self.qs.value(key, default)
        if raw is None or type_ is None:
            return raw
        try:
            if type_ is bool:
                return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
            return type_(raw)
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value: Any) -> None:
        self.qs.setValue(key, value)

    # -- recent folders ----------------------------------------------------------------
    def recent_folders(self) -> list[str]:
        raw = self.qs.value("recent/folders", [])
        if isinstance(raw, str):
            raw = [raw]
        return [str(p) for p in (raw or []) if p]

    def add_recent(self, folder: str | os.PathLike) -> None:
        folder = str(Path(folder).resolve())
        items = [folder] + [f for f in self.recent_folders() if f != folder]
        self.qs.setValue("recent/folders", items[:MAX_RECENT])

    def remove_recent(self, folder: str) -> None:
        self.qs.setValue("recent/folders", [f for f in self.recent_folders() if f != folder])

    # -- window layout -------------------------------------------------------------------
    def save_layout(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qs.setValue("window/geometry", geometry)
        self.qs.setValue("window/state", state)

    def layout(self) -> tuple[QByteArray | None, QByteArray | None]:
        return self.qs.value("window/geometry"), self.qs.value("window/state")

    def sync(self) -> None:
        self.qs.sync()
