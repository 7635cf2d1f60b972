"""Run functions on a QThreadPool and get their results back on the GUI thread.

A worker never touches widgets: it returns a value, and the callback runs on the thread
that owns the :class:`Workers` object (the GUI thread) through a queued signal.
"""

from __future__ import annotations

import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Qt, Signal, Slot


class _Relay(QObject):
    call = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.call.connect(self._run, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _run(self, fn: Callable[[], None]) -> None:
        fn()


class _Task(QRunnable):
    def __init__(self, relay: _Relay, fn: Callable[..., Any], args: tuple,
                 on_done: Callable[[Any], None] | None, on_error: Callable[[BaseException], None] | None) -> None:
        super().__init__()
        self.relay, self.fn, self.args, self.on_done, self.on_error = relay, fn, args, on_done, on_error

    def run(self) -> None:  # worker thread
        try:
            result = self.fn(*self.args)
        except BaseException as exc:  # noqa: BLE001 - reported to the GUI thread
            if self.on_error is None:
                traceback.print_exc()
                return
            callback = (lambda e=exc: self.on_error(e))  # type: ignore[misc]
        else:
            if self.on_done is None:
                return
            callback = (lambda r=result: self.on_done(r))  # type: ignore[misc]
        try:
            self.relay.call.emit(callback)
        except RuntimeError:
            pass  # the receiver is gone (window closed): drop the result


class Workers(QObject):
    """A thread pool whose results come back as callbacks on this object's thread."""

    def __init__(self, parent: QObject | None = None, threads: int | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        if threads:
            self.pool.setMaxThreadCount(threads)
        self._relay = _Relay(self)

    def submit(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None) -> None:
        self.pool.start(_Task(self._relay, fn, args, on_done, on_error))

    def wait(self, msecs: int = -1) -> bool:
        return self.pool.waitForDone(msecs)
