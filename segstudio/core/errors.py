"""Typed errors of the core layer. Every message names the file and what is wrong.

Each error carries the exit code the command line returns for it (see ``docs/errors.md``):
1 for bad input or a failed job (:class:`SegStudioError`), 3 when the operating system refused
a read or write (:class:`DiskError`: disk full, read-only, permission, I/O error).
"""

from __future__ import annotations

import errno
import os

EXIT_FAILED = 1       # bad input, or the job failed for some of its files
EXIT_USAGE = 2        # bad command line, unknown verb, no display
EXIT_DISK = 3         # the OS refused a read or write (disk full, read-only, permission, I/O)
EXIT_INTERNAL = 4     # a bug: an unexpected exception (traceback in the log / with --debug)
EXIT_INTERRUPTED = 130

# errors after which every further write to the same place fails too: a job stops at the first
STOP_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT})

_WHAT = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded", errno.EROFS: "read-only file system",
         errno.EACCES: "permission denied", errno.EPERM: "permission denied", errno.EIO: "I/O error",
         errno.ENOENT: "no such file or folder", errno.ELOOP: "symbolic link loop",
         errno.ENOTDIR: "a path component is not a folder", errno.EISDIR: "is a folder"}


class SegStudioError(Exception):
    """Base of all errors SegStudio reports to the user (CLI prints, GUI shows a dialog)."""

    exit_code = EXIT_FAILED


class ImageReadError(SegStudioError):
    """An image file could not be read (missing, unreadable, truncated, unsupported)."""


class MaskError(SegStudioError):
    """A mask file is unreadable or holds ids that the label set does not define."""


class LabelSetError(SegStudioError):
    """A label set (labels.json or preset) is malformed."""


class ProjectError(SegStudioError):
    """The project folder or its ``segstudio/`` store is inconsistent."""


class DiskError(SegStudioError, OSError):
    """The OS refused to read or write ``path``: ``<path>: <what> (<errno text>)``.

    Also an :class:`OSError` (same ``errno``/``strerror``/``filename``), so code that handles
    OS errors keeps working. ``stops_job`` is true for disk full / read-only / quota: every
    further write there fails too, so a batch stops at the first one.
    """

    exit_code = EXIT_DISK

    def __init__(self, path: str | os.PathLike, what: str, cause: OSError | None = None, hint: str = "") -> None:
        code = cause.errno if cause is not None else None
        strerror = (cause.strerror or str(cause)) if cause is not None else ""
        OSError.__init__(self, code, strerror, os.fspath(path))
        self.path = os.fspath(path)
        self.what = what
        self.hint = hint

    @property
    def stops_job(self) -> bool:
        return self.errno in STOP_ERRNOS

    def __str__(self) -> str:
        text = f"{self.path}: {self.what}"
        if self.strerror:
            text += f" ({self.strerror})"
        return text + (f"; {self.hint}" if self.hint else "")


def describe_os_error(exc: OSError) -> str:
    """Short words for an OS error ("disk full", "read-only file system", …)."""
    return _WHAT.get(exc.errno or -1, "") or (exc.strerror or type(exc).__name__).lower()


def disk_error(path: str | os.PathLike | None, exc: OSError, action: str = "cannot write") -> DiskError:
    """``exc`` as a :class:`DiskError` naming ``path`` (or the file the OS named)."""
    if isinstance(exc, DiskError):
        return exc
    where = path if path is not None else (exc.filename or "?")
    return DiskError(where, f"{action}: {describe_os_error(exc)}", exc)


def os_error_message(exc: OSError) -> str:
    """``<file>: <what> (<errno text>)`` for any OS error (the file the OS named, if any)."""
    if isinstance(exc, DiskError):
        return str(exc)
    text = f"{describe_os_error(exc)} ({exc.strerror or exc})"
    if exc.filename is None:
        return text
    where = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
    return f"{where}: {text}"
