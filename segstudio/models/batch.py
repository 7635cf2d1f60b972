"""Batch prediction of many image files into mask PNGs, with I/O overlapped with the model.

``run_batch(predictor, images, out_dir, progress=None, cancel=None, ...)`` writes
``out_dir/<stem>.png`` (indexed palette PNG via ``core.masks.write_mask``) per image, and
``<stem>.npy`` (float16 ``C×H×W`` probabilities) with ``save_probs``. A reader pool decodes the
next images while the model runs, a writer pool encodes/writes (and runs the optional dense
CRF) behind it, so the calling (model) thread only waits when the readers fall behind or more
than ``max_pending`` results are queued for writing (bounded memory).

Every write is atomic (temp file + rename): an interrupt (Ctrl+C, ``cancel()``) never
leaves a half-written output; masks already predicted (at most ``max_pending``) are still
written, images not yet predicted are dropped. A file
that cannot be read or predicted is recorded in ``BatchResult.failed`` and the run goes on.
``resume`` skips images whose outputs already exist and removes temp files a killed run left.
``progress(info)`` and ``cancel()`` are called from the calling thread only (safe for a GUI that
forwards them as signals).

Disk faults stop the job: the first write that fails with disk full, read-only file system or
quota exceeded raises :class:`~segstudio.core.errors.DiskError` naming that file (no point
predicting 10,000 images onto a full disk); masks already written stay, no temp file is left,
and a later ``resume`` run completes the job.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

import numpy as np

from segstudio.core import atomic
from segstudio.core.errors import DiskError, SegStudioError, disk_error
from segstudio.core.images import read_image
from segstudio.core.masks import write_mask


@dataclass
class BatchProgress:
    done: int                 # images finished (written, skipped or failed)
    total: int
    written: int
    skipped: int
    failed: int
    elapsed: float            # seconds since the start
    rate: float               # processed images per second (skipped ones not counted)
    eta: float | None         # seconds left, None until a rate is known
    current: Path | None = None
    within: float | None = None   # fraction of the current image done (tiled images report tiles)


@dataclass
class BatchResult:
    total: int = 0
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0
    model_seconds: float = 0.0      # time spent inside predictor.predict
    wait_seconds: float = 0.0       # time the model thread waited for readers/writers

    @property
    def images_per_second(self) -> float:
        n = len(self.written) + len(self.failed)
        return n / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        head = (f"{self.total} images: {len(self.written)} written, {len(self.skipped)} skipped, "
                f"{len(self.failed)} failed in {self.seconds:.1f} s ({self.images_per_second:.2f} img/s)")
        if self.cancelled:
            head += " — interrupted"
        lines = [head] + [f"  FAILED {p}: {why}" for p, why in self.failed]
        return "\n".join(lines)


def plan_outputs(images: Iterable[Path], out_dir: Path) -> tuple[list[tuple[Path, Path]], list[tuple[Path, str]]]:
    """(image, mask path) pairs, and images whose output name collides with an earlier one."""
    seen: dict[str, Path] = {}
    jobs, clashes = [], []
    for src in images:
        src = Path(src)
        key = src.stem.lower()
        if key in seen:
            clashes.append((src, f"output {src.stem}.png already comes from {seen[key].name}"))
            continue
        seen[key] = src
        jobs.append((src, out_dir / f"{src.stem}.png"))
    return jobs, clashes


def _save_probs(path: Path, probs: np.ndarray) -> None:
    with atomic.atomic_open(path, "wb") as fh:
        np.save(fh, probs.astype(np.float16))


def write_outputs(dst: Path, mask: np.ndarray, probs: np.ndarray | None, labels: Any, save_probs: bool) -> None:
    """The one writer of a batch output (every runner): ``dst`` mask PNG, ``<stem>.npy`` with ``save_probs``."""
    write_mask(dst, mask, labels)
    if save_probs:
        _save_probs(dst.with_suffix(".npy"), probs)


def refine_outputs(rgb: np.ndarray, mask: np.ndarray, probs: np.ndarray | None, labels: Any,
                   crf_fn: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(mask, probs) after the optional dense CRF (``crf_fn`` from ``_load_crf``, or None)."""
    if crf_fn is None:
        return mask, probs
    fn, params = crf_fn
    probs = fn(rgb, probs, params)
    return probs.argmax(axis=0).astype(labels.dtype), probs


def plan_todo(images: Iterable[str | Path], out_dir: Path, resume: bool,
              save_probs: bool) -> tuple[BatchResult, list[tuple[Path, Path]]]:
    """A fresh result (name clashes already failed, finished outputs skipped with ``resume``) and the jobs left."""
    jobs, clashes = plan_outputs(images, out_dir)
    result = BatchResult(total=len(jobs) + len(clashes), failed=list(clashes))
    todo = []
    for src, dst in jobs:
        if resume and dst.exists() and (not save_probs or dst.with_suffix(".npy").exists()):
            result.skipped.append(src)
        else:
            todo.append((src, dst))
    return result, todo


def _load_crf(crf: Any):
    """(dense_crf, params) or raise with a clear message; imported lazily (optional feature)."""
    try:
        from segstudio.core.crf import CRFParams, dense_crf
    except ImportError as exc:
        raise SegStudioError(f"--crf is not available in this build ({exc})") from None
    params = crf if isinstance(crf, CRFParams) else CRFParams()
    return dense_crf, params


def run_batch(predictor: Any, images: Iterable[str | Path], out_dir: str | Path,
              progress: Callable[[BatchProgress], None] | None = None, cancel: Callable[[], bool] | None = None,
              resume: bool = False, save_probs: bool = False, crf: Any = None, readers: int = 2, writers: int = 2,
              max_pending: int = 4) -> BatchResult:
    """Predict every image into ``out_dir`` (see module docstring); never raises for one bad file."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise disk_error(out_dir, exc, "cannot create the output folder") from None
    if resume:
        atomic.remove_stale_temps(out_dir)
    t0 = time.perf_counter()
    result, todo = plan_todo(images, out_dir, resume, save_probs)
    clashes = list(result.failed)
    crf_fn = _load_crf(crf) if crf else None
    want_probs = bool(save_probs or crf_fn)
    labels = predictor.labels

    def post(src: Path, dst: Path, rgb: np.ndarray, pred: Any) -> None:
        probs = pred.probs
        if want_probs and probs is None:
            raise SegStudioError("image too large for --crf/--save-probs within the memory budget")
        mask, probs = refine_outputs(rgb, pred.labels, probs, labels, crf_fn)
        write_outputs(dst, mask, probs, labels, save_probs)

    def report(current: Path | None, within: float | None = None) -> None:
        if progress is None:
            return
        elapsed = time.perf_counter() - t0
        processed = len(result.written) + len(result.failed) - len(clashes)
        rate = processed / elapsed if elapsed > 0 and processed else 0.0
        done = len(result.written) + len(result.skipped) + len(result.failed)
        eta = (result.total - done) / rate if rate > 0 else None
        progress(BatchProgress(done, result.total, len(result.written), len(result.skipped), len(result.failed),
                               elapsed, rate, eta, current, within))

    pending: deque[tuple[Path, Future]] = deque()
    fatal: list[DiskError] = []   # the first disk fault that stops the job

    def reap(block_until: int) -> None:
        """Collect finished writes; block while more than ``block_until`` are queued."""
        while pending and (pending[0][1].done() or len(pending) > block_until):
            src, fut = pending.popleft()
            if fut.cancelled():
                continue
            t = time.perf_counter()
            try:
                fut.result()
                result.written.append(src)
            except Exception as exc:  # noqa: BLE001
                result.failed.append((src, _why(exc)))
                if isinstance(exc, DiskError) and exc.stops_job and not fatal:
                    fatal.append(exc)
            result.wait_seconds += time.perf_counter() - t

    report(None)
    read_pool = ThreadPoolExecutor(max(1, readers), thread_name_prefix="segstudio-read")
    write_pool = ThreadPoolExecutor(max(1, writers), thread_name_prefix="segstudio-write")
    reads: deque[Future] = deque()
    ahead = max(2, 2 * readers)
    next_read = 0
    try:
        for src, dst in todo:
            if fatal:
                break
            if cancel is not None and cancel():
                result.cancelled = True
                break
            while next_read < len(todo) and len(reads) < ahead:
                reads.append(read_pool.submit(read_image, todo[next_read][0]))
                next_read += 1
            fut = reads.popleft()
            t = time.perf_counter()
            try:
                rgb = fut.result().rgb
            except Exception as exc:  # noqa: BLE001 - a bad file is reported, the run goes on
                result.wait_seconds += time.perf_counter() - t
                result.failed.append((src, _why(exc)))
                report(src)
                continue
            result.wait_seconds += time.perf_counter() - t
            t = time.perf_counter()
            hook = hasattr(predictor, "on_progress")   # tiles within a large image (issue 14, case 13)
            if hook:
                predictor.on_progress = lambda done, n, src=src: report(src, done / n)
            try:
                pred = predictor.predict(rgb, want_probs=want_probs)
            except Exception as exc:  # noqa: BLE001
                result.failed.append((src, _why(exc)))
                report(src)
                continue
            finally:
                result.model_seconds += time.perf_counter() - t
                if hook:
                    predictor.on_progress = None
            pending.append((src, write_pool.submit(post, src, dst, rgb, pred)))
            reap(max_pending)
            report(src)
        reap(0)
    except BaseException:
        result.cancelled = True
        raise
    finally:
        read_pool.shutdown(wait=False, cancel_futures=True)
        # predicted masks still get written (≤ max_pending, atomic), unless the disk refuses writes
        write_pool.shutdown(wait=True, cancel_futures=bool(fatal))
        reap(0)
        result.seconds = time.perf_counter() - t0
        report(None)
    if fatal:
        fault = fatal[0]
        fault.hint = (f"batch stopped after {len(result.written)} of {result.total} image(s) "
                      f"({len(result.skipped)} skipped before); the masks written are kept, "
                      f"run again with --resume to finish")
        raise fault
    return result


def _why(exc: BaseException) -> str:
    if isinstance(exc, SegStudioError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory (try --tile or --max-side)"
    from segstudio.models.loading import error_cause

    cause = error_cause(exc)
    if cause.startswith("TorchScript:"):
        cause += " (a traced model may only run at the input size it was traced at: try --max-side or --tile)"
    return cause


class TextProgress:
    """Plain-text progress bar (no dependencies) for a terminal or a log file."""

    def __init__(self, stream: TextIO | None = None, width: int = 28, every: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = every
        self._last = -1e9
        self._open = False

    def close(self) -> None:
        if self.tty and self._open:
            self.stream.write("\n")
            self.stream.flush()
        self._open = False

    def __call__(self, info: BatchProgress) -> None:
        now = time.perf_counter()
        final = info.done >= info.total and info.current is None
        if not self.tty and not final and now - self._last < self.every:
            return
        self._last = now
        frac = info.done / info.total if info.total else 1.0
        fill = int(round(frac * self.width))
        eta = "--:--" if info.eta is None else _clock(info.eta)
        line = (f"[{'#' * fill}{'.' * (self.width - fill)}] {info.done}/{info.total} {frac:4.0%} "
                f"{info.rate:5.2f} img/s ETA {eta}" + (f"  {info.failed} failed" if info.failed else "")
                + (f"  current image {info.within:.0%}" if info.within is not None and info.within < 1 else ""))
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
            self._open = not final
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
