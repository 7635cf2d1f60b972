"""Autosave and crash journaling of edited masks.

Every edit is appended to the image's journal at once (cheap: a compressed patch). A
single-shot timer saves the mask ``delay`` ms after the last edit; switching images and
closing save too. Saving copies the mask and writes it on a one-thread pool (so saves of
one image never overtake each other) through ``Project.write_mask`` (atomic). When a save
lands, the journal records it covers are dropped; records appended meanwhile are kept.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from segstudio.core import journal
from segstudio.core.project import Project
from segstudio.gui.workers import Workers

DEFAULT_DELAY_MS = 1000


class AutoSaver(QObject):
    saved = Signal(str)          # key
    failed = Signal(str, str)    # key, message

    def __init__(self, current: Callable[[], tuple[str | None, np.ndarray | None]],
                 parent: QObject | None = None, delay_ms: int = DEFAULT_DELAY_MS) -> None:
        super().__init__(parent)
        self._current = current
        self.project: Project | None = None
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self.save_current)
        self.workers = Workers(self, threads=1)
        self._journals: dict[str, journal.Journal] = {}
        self.dirty: set[str] = set()
        self.in_flight = 0

    def set_project(self, project: Project | None) -> None:
        self.flush()
        for j in self._journals.values():
            j.close()
        self._journals.clear()
        self.dirty.clear()
        self.project = project

    def journal(self, key: str, mask: np.ndarray) -> journal.Journal:
        j = self._journals.get(key)
        if j is None or j.shape != mask.shape or j.dtype != mask.dtype:
            assert self.project is not None
            j = self._journals[key] = journal.Journal(journal.journal_path(self.project.store, key), mask.shape, mask.dtype)
        return j

    def record(self, key: str, mask: np.ndarray, rects: list[tuple[int, int, np.ndarray]]) -> None:
        """Journal new pixels of ``key`` now and (re)arm the autosave timer."""
        if self.project is None:
            return
        try:
            self.journal(key, mask).append(rects)
        except OSError as exc:  # disk full / read-only: the edit stays in memory, autosave retries
            self.failed.emit(key, f"{key}: crash journal not written ({exc})")
        self.mark_dirty(key)

    def mark_dirty(self, key: str) -> None:
        self.dirty.add(key)
        self.timer.start()

    def is_dirty(self, key: str | None) -> bool:
        return key in self.dirty

    def save_current(self) -> None:
        key, mask = self._current()
        if key is not None and mask is not None:
            self.save(key, mask)

    def save(self, key: str, mask: np.ndarray, wait: bool = False, keep_empty: bool = False) -> None:
        """Save ``key`` if it has unsaved edits: a snapshot now, written on the save thread.

        A mask with nothing labelled is removed rather than saved (``Project.save_user_mask``) unless
        ``keep_empty`` (the user confirmed it, e.g. marked the image reviewed)."""
        if self.project is None or key not in self.dirty:
            return
        self.dirty.discard(key)
        snapshot = mask.copy()
        j = self.journal(key, mask)
        offset = j.offset
        project = self.project
        self.in_flight += 1
        write = project.write_mask if keep_empty else project.save_user_mask
        self.workers.submit(write, key, snapshot,
                            on_done=lambda _r: self._landed(project, key, offset),
                            on_error=lambda e: self._failed(project, key, e))
        if wait:
            self.wait()

    def _landed(self, project: Project, key: str, offset: int) -> None:
        self.in_flight -= 1
        if project is self.project and key in self._journals:
            self._journals[key].clear(offset)
        self.saved.emit(key)

    def _failed(self, project: Project, key: str, exc: BaseException) -> None:
        self.in_flight -= 1
        if project is self.project:
            self.dirty.add(key)   # journal kept; retried by the next save
        self.failed.emit(key, f"{key}: not saved ({exc})")

    def wait(self) -> None:
        """Block until queued saves are written and their callbacks ran."""
        from PySide6.QtCore import QCoreApplication, QEventLoop
        self.workers.wait()
        while self.in_flight:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    def flush(self) -> None:
        """Save the open image if needed and wait for every pending save (close, folder switch)."""
        self.timer.stop()
        self.save_current()
        self.wait()
