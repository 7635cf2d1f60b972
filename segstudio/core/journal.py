"""Crash-recovery journal: every edit of an open mask is appended, at once, to
``<folder>/segstudio/.journal/<key>.journal`` and the file is cleared after the mask is saved.

Opening a folder replays any journal left behind (the app was killed between an edit and
its autosave) onto the saved mask and saves the result, so a crash loses at most the
stroke in progress.

Format: a header ``b"SSJ1"`` + ``<H W dtype>``, then records, each
``b"R"`` + ``<x y w h length crc32>`` + zlib-compressed new pixels of that rectangle.
Records are only ever appended; a torn last record (killed mid-write) fails its length or
CRC check and is ignored, as is everything after it.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import IO, Iterable, Iterator

import numpy as np

from segstudio.core import atomic
from segstudio.core.errors import ProjectError, disk_error

JOURNAL_DIR = ".journal"
SUFFIX = ".journal"
_MAGIC = b"SSJ1"
_HEADER = struct.Struct("<4sIIB")         # magic, height, width, bytes per pixel (1 or 2)
_RECORD = struct.Struct("<cIIIIII")       # b"R", x, y, w, h, payload length, crc32
_DTYPES = {1: np.dtype(np.uint8), 2: np.dtype(np.uint16)}


def journal_dir(store: str | os.PathLike) -> Path:
    return Path(store) / JOURNAL_DIR


def journal_path(store: str | os.PathLike, key: str) -> Path:
    return journal_dir(store) / f"{key}{SUFFIX}"


class Journal:
    """Append-only journal of one image's mask (one open file handle, flushed per append)."""

    def __init__(self, path: str | os.PathLike, shape: tuple[int, int], dtype: np.dtype) -> None:
        self.path = Path(path)
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        if self.dtype.itemsize not in _DTYPES:
            raise ValueError(f"journal: unsupported mask dtype {self.dtype}")
        self._fh: IO[bytes] | None = None
        self._size = self.path.stat().st_size if self.path.exists() else 0

    @property
    def offset(self) -> int:
        """Bytes in the journal now; pass to :meth:`clear` after saving the mask as it was then."""
        return self._size

    def _header(self) -> bytes:
        return _HEADER.pack(_MAGIC, self.shape[0], self.shape[1], self.dtype.itemsize)

    def _open(self) -> IO[bytes]:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")
            if self._size == 0:
                self._fh.write(self._header())
                self._size = _HEADER.size
        return self._fh

    def append(self, rects: Iterable[tuple[int, int, np.ndarray]], sync: bool = False) -> None:
        """Append ``(x, y, pixels)`` rectangles (the new content of those parts of the mask)."""
        chunks = []
        for x, y, arr in rects:
            arr = np.ascontiguousarray(arr, dtype=self.dtype)
            payload = zlib.compress(arr.tobytes(), 1)
            h, w = arr.shape
            chunks.append(_RECORD.pack(b"R", x, y, w, h, len(payload), zlib.crc32(payload)) + payload)
        if not chunks:
            return
        data = b"".join(chunks)
        try:
            fh = self._open()
            fh.write(data)
            fh.flush()  # in the OS now: survives the process being killed
            if sync:
                os.fsync(fh.fileno())
        except OSError as exc:  # disk full / read-only: drop the torn tail so later records still replay
            self._drop_tail()
            raise disk_error(self.path, exc, "cannot write the crash journal") from None
        self._size += len(data)

    def _drop_tail(self) -> None:
        try:
            self.close()
        except OSError:
            self._fh = None
        try:
            if self.path.exists():
                os.truncate(self.path, self._size)
        except OSError:
            pass

    def append_mask(self, mask: np.ndarray) -> None:
        """Journal a whole-mask replacement."""
        self.append([(0, 0, mask)])

    def clear(self, upto: int | None = None) -> None:
        """Forget records up to byte ``upto`` (default: all), e.g. once the mask as of then is saved."""
        self.close()
        if not self.path.exists():
            self._size = 0
            return
        size = self.path.stat().st_size
        if upto is None or upto >= size:
            self.path.unlink(missing_ok=True)
            self._size = 0
            return
        if upto <= _HEADER.size:
            self._size = size
            return  # nothing was journaled before ``upto``
        with open(self.path, "rb") as fh:
            fh.seek(upto)
            tail = fh.read()
        atomic.write_bytes(self.path, self._header() + tail)
        self._size = _HEADER.size + len(tail)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def discard(self) -> None:
        self.clear()


def read_records(path: str | os.PathLike) -> tuple[tuple[int, int], np.dtype, list[tuple[int, int, np.ndarray]]]:
    """Header shape, dtype and the intact records of a journal file."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) < _HEADER.size:
        raise ProjectError(f"{path}: journal too short to hold a header")
    magic, h, w, item = _HEADER.unpack_from(data, 0)
    if magic != _MAGIC or item not in _DTYPES:
        raise ProjectError(f"{path}: not a SegStudio journal")
    dtype = _DTYPES[item]
    return (h, w), dtype, list(_iter_records(data, _HEADER.size, dtype, (h, w)))


def _iter_records(data: bytes, pos: int, dtype: np.dtype, shape: tuple[int, int]) -> Iterator[tuple[int, int, np.ndarray]]:
    while pos + _RECORD.size <= len(data):
        tag, x, y, w, h, length, crc = _RECORD.unpack_from(data, pos)
        start = pos + _RECORD.size
        payload = data[start:start + length]
        if tag != b"R" or len(payload) != length or zlib.crc32(payload) != crc:
            return  # torn or corrupt tail: stop here
        if x + w > shape[1] or y + h > shape[0]:
            return
        try:
            arr = np.frombuffer(zlib.decompress(payload), dtype).reshape(h, w)
        except (zlib.error, ValueError):
            return
        yield x, y, arr
        pos = start + length


def replay(path: str | os.PathLike, base: np.ndarray | None, void_value: int) -> np.ndarray:
    """The mask ``base`` (or an all-void mask) with every intact journal record applied."""
    shape, dtype, records = read_records(path)
    if base is None:
        mask = np.full(shape, void_value, dtype)
    else:
        if base.shape != shape:
            raise ProjectError(f"{path}: journal is for a {shape[1]}×{shape[0]} mask, "
                               f"saved mask is {base.shape[1]}×{base.shape[0]}")
        mask = base.astype(dtype, copy=True)
    for x, y, arr in records:
        mask[y:y + arr.shape[0], x:x + arr.shape[1]] = arr
    return mask


def pending(store: str | os.PathLike) -> list[str]:
    """Keys of images that have a journal left behind."""
    folder = journal_dir(store)
    if not folder.is_dir():
        return []
    keys = []
    try:
        with os.scandir(folder) as it:
            for e in it:
                try:
                    if e.name.endswith(SUFFIX) and e.is_file():
                        keys.append(e.name[: -len(SUFFIX)])
                except OSError:  # a symlink loop or vanished entry is not a journal
                    continue
    except OSError:
        return []
    return sorted(keys)


def recover(project) -> tuple[list[str], list[str]]:
    """Replay and save every pending journal of ``project`` (a ``core.project.Project``).

    Returns ``(recovered keys, error messages)``; a journal that cannot be applied is kept
    (renamed ``*.journal.bad``) so nothing is silently lost.
    """
    from segstudio.core.errors import SegStudioError
    from segstudio.core.project import Status

    done, errors = [], []
    for key in pending(project.store):
        path = journal_path(project.store, key)
        try:
            _, _, records = read_records(path)
            if records:
                mask = replay(path, project.read_mask(key), project.labels.void_value)
                project.write_mask(key, mask, Status.EDITED)
                done.append(key)
            path.unlink(missing_ok=True)
        except (SegStudioError, OSError, ValueError) as exc:
            errors.append(f"{path}: journal not recovered ({exc})")
            try:
                path.replace(path.with_name(path.name + ".bad"))
            except OSError:
                pass
    return done, errors
