"""Atomic file writes: temp file in the same folder + fsync + rename.

A reader (or a crash) never sees a half-written file: it sees the old file or the new one.
The folder itself is fsynced only with ``durable_dir=True`` (costly: ~5 ms per file on this
disk); without it a power cut right after the rename may bring back the previous version
of the file, never a broken one.

An OS error on the way (disk full, read-only file system, permission) is raised as
:class:`~segstudio.core.errors.DiskError` naming the destination file, and the temp file is
removed. Temp files are named ``.<name>.<random>.tmp``; only a killed process leaves one, and
:func:`remove_stale_temps` (called by ``--resume``) clears them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

from segstudio.core.errors import DiskError, disk_error

_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")   # mkstemp(prefix=".<name>.", suffix=".tmp")


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", durable_dir: bool = False) -> Iterator[IO[Any]]:
    """Open a temp file next to ``path``; on clean exit fsync and rename it over ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise disk_error(path, exc) from None
    try:
        if os.name == "posix":  # mkstemp makes 0600 files; give the user's usual permissions
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except DiskError:
        _unlink(tmp)
        raise
    except OSError as exc:
        _unlink(tmp)
        if exc.filename is not None and os.fspath(exc.filename) not in (tmp, os.fspath(path)):
            raise  # about another file (e.g. the source of a copy): not this write's fault
        raise disk_error(path, exc) from None
    except BaseException:
        _unlink(tmp)
        raise
    if durable_dir:
        fsync_dir(path.parent)


def _unlink(tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def is_temp_name(name: str) -> bool:
    """True for the name of a temp file :func:`atomic_open` makes."""
    return bool(_TEMP.match(name))


def remove_stale_temps(folder: str | os.PathLike, stem: str | None = None) -> list[Path]:
    """Delete temp files a killed writer left in ``folder`` (not recursive); return them.
    With ``stem``, only the temps of files whose name starts with it (e.g. one checkpoint's
    ``m.pt``, ``m.last.pt``, ``m.log.jsonl``). Call only when no other writer writes those files
    (e.g. at the start of ``--resume``)."""
    removed = []
    try:
        with os.scandir(folder) as it:
            names = [e.name for e in it if is_temp_name(e.name) and (stem is None or e.name.startswith(f".{stem}"))]
    except OSError:
        return removed
    for name in names:
        p = Path(folder) / name
        try:
            if p.is_file() and not p.is_symlink():
                p.unlink()
                removed.append(p)
        except OSError:
            continue
    return removed


def _umask() -> int:
    """The process umask; read from /proc where possible (setting it to read it races with
    other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def umask() -> int:
    """The process umask (files are made ``0o666 & ~umask``, folders ``0o777 & ~umask``)."""
    return _umask()


def fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
