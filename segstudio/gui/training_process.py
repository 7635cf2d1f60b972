"""Run ``segstudio train … --json-progress`` in a separate process and follow it from the GUI.

Training never runs inside the app: a crash, an out-of-memory kill or a stuck CUDA driver in the
child cannot take the window down. :class:`TrainingProcess` wraps a :class:`QProcess`:

* :func:`train_command` builds the command line — ``python -m segstudio train …`` from a source
  install, ``<app> train …`` from a PyInstaller bundle (there ``sys.executable`` is the app);
* stdout is read incrementally and split into lines; every JSON line becomes a ``record(dict)``
  signal (``step`` / ``epoch`` / ``fine-tune`` / ``resume`` / ``done`` events), any other line a
  ``log`` line; stderr goes to ``log`` too and its tail is kept for error reports;
* :meth:`cancel` asks the process to stop (SIGTERM / WM_CLOSE) and kills it after a grace
  period; checkpoints are written atomically after each epoch, so what is on disk stays usable;
* ``ended(outcome, exit_code)`` fires once: outcome is ``"done"``, ``"failed"`` (non-zero exit),
  ``"crashed"`` (killed by a signal, e.g. out of memory), ``"cancelled"`` or ``"not-started"``.
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

DONE, FAILED, CRASHED, CANCELLED, NOT_STARTED = "done", "failed", "crashed", "cancelled", "not-started"
GRACE_MS = 3000
TAIL_LINES = 40
MAX_LINE = 1 << 20   # a runaway line without a newline is cut, not buffered forever


def train_command(args: list[str]) -> tuple[str, list[str]]:
    """(program, arguments) running the ``train`` verb with ``args`` in a fresh process."""
    if getattr(sys, "frozen", False):
        return sys.executable, ["train", *args]
    return sys.executable, ["-m", "segstudio", "train", *args]


class TrainingProcess(QObject):
    started = Signal()
    record = Signal(dict)        # one parsed JSON progress record
    log = Signal(str)            # a non-JSON stdout line or a stderr line
    ended = Signal(str, int)     # outcome, exit code (-1 when there is none)

    def __init__(self, parent: QObject | None = None, grace_ms: int = GRACE_MS) -> None:
        super().__init__(parent)
        self.grace_ms = grace_ms
        self.proc: QProcess | None = None
        self.records: list[dict] = []
        self.stderr_lines: deque[str] = deque(maxlen=TAIL_LINES)
        self.outcome: str | None = None
        self.exit_code: int | None = None
        self.error: str = ""
        self._out_buf = b""
        self._err_buf = b""
        self._cancelled = False
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill)

    # -- control -------------------------------------------------------------------------------
    def start(self, args: list[str], program: str | None = None, workdir: str | None = None) -> None:
        """Start ``segstudio train ARGS`` (or ``program ARGS`` exactly, for tests and tools)."""
        if self.running():
            raise RuntimeError("a training process is already running")
        self.records, self.outcome, self.exit_code, self.error = [], None, None, ""
        self.stderr_lines.clear()
        self._out_buf = self._err_buf = b""
        self._cancelled = False
        prog, argv = (program, list(args)) if program else train_command(args)
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("PYTHONIOENCODING", "utf-8")
        proc.setProcessEnvironment(env)
        if workdir:
            proc.setWorkingDirectory(workdir)
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._error)
        proc.started.connect(self.started)
        self.proc = proc
        self.command = [prog, *argv]
        proc.start(prog, argv)

    def running(self) -> bool:
        return self.proc is not None and self.proc.state() != QProcess.ProcessState.NotRunning

    def cancel(self) -> None:
        """Ask the process to stop; kill it if it is still there after the grace period."""
        if not self.running():
            return
        self._cancelled = True
        assert self.proc is not None
        self.proc.terminate()
        self._kill_timer.start(self.grace_ms)

    def kill(self) -> None:
        """Stop at once (window closing)."""
        if self.running():
            self._cancelled = True
            self._kill()

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the process has ended (tests, shutdown)."""
        if self.proc is None or not self.running():
            return True
        return self.proc.waitForFinished(msecs)

    def stderr_tail(self, lines: int = TAIL_LINES) -> str:
        return "\n".join(list(self.stderr_lines)[-lines:])

    # -- process events ---------------------------------------------------------------------------
    def _kill(self) -> None:
        if self.running():
            assert self.proc is not None
            self.proc.kill()

    def _read_stdout(self) -> None:
        if self.proc is None:
            return
        self._out_buf = self._split(self._out_buf + bytes(self.proc.readAllStandardOutput().data()), self._stdout_line)

    def _read_stderr(self) -> None:
        if self.proc is None:
            return
        self._err_buf = self._split(self._err_buf + bytes(self.proc.readAllStandardError().data()), self._stderr_line)

    @staticmethod
    def _split(buf: bytes, handle) -> bytes:
        *lines, rest = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        for raw in lines:
            handle(raw.decode("utf-8", "replace"))
        if len(rest) > MAX_LINE:
            handle(rest.decode("utf-8", "replace"))
            rest = b""
        return rest

    def _stdout_line(self, line: str) -> None:
        text = line.strip()
        if not text:
            return
        if text.startswith("{"):
            try:
                rec = json.loads(text)
            except ValueError:
                rec = None
            if isinstance(rec, dict):
                self.records.append(rec)
                self.record.emit(rec)
                return
        self.log.emit(text)

    def _stderr_line(self, line: str) -> None:
        text = line.rstrip()
        if not text:
            return
        self.stderr_lines.append(text)
        self.log.emit(text)

    def _error(self, err: QProcess.ProcessError) -> None:
        if err == QProcess.ProcessError.FailedToStart:
            self.error = f"could not start {self.command[0]}: {self.proc.errorString() if self.proc else err}"
            self._end(NOT_STARTED, -1)

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        self._read_stdout()
        self._read_stderr()
        for buf, handle in ((self._out_buf, self._stdout_line), (self._err_buf, self._stderr_line)):
            if buf:
                handle(buf.decode("utf-8", "replace"))
        self._out_buf = self._err_buf = b""
        if self._cancelled:
            outcome = CANCELLED
        elif status == QProcess.ExitStatus.CrashExit:
            outcome = CRASHED
        elif code != 0:
            outcome = FAILED
        else:
            outcome = DONE
        self._end(outcome, int(code) if status == QProcess.ExitStatus.NormalExit else -1)

    def _end(self, outcome: str, code: int) -> None:
        if self.outcome is not None:
            return
        self.outcome, self.exit_code = outcome, code
        self.ended.emit(outcome, code)


def describe_exit(outcome: str, code: int) -> str:
    """One sentence for the user about how the process ended."""
    if outcome == DONE:
        return "Training finished."
    if outcome == CANCELLED:
        return "Training was cancelled."
    if outcome == CRASHED:
        hint = " (it may have run out of memory)" if os.name == "posix" else ""
        return f"The training process crashed{hint}."
    if outcome == NOT_STARTED:
        return "The training process could not be started."
    return f"Training failed (exit code {code})."
