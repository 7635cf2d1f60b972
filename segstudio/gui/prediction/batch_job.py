"""Batch prediction over many images of the open project, on a worker thread.

:class:`BatchRunner` predicts each key (optionally refined by the dense CRF) and writes it with
``Project.write_prediction`` — ``predictions/<key>.png`` only; ``masks/`` (the user's work) is
never touched, and an unlabelled image's status becomes "predicted". The model is shared with
the interactive controller: its lock is taken per image, so a Ctrl+R in between waits for at
most one image. Pause blocks between images; cancel is checked before every image, so a
batch stops within one image (a forward pass already running completes and is written).
Progress (done, total, rate, ETA excluding paused time, and the fraction of a tiled image's
tiles done, ``within``) arrives on the GUI thread through queued signals.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from PySide6.QtCore import QObject, Signal

from segstudio.core import attention
from segstudio.core.images import read_image
from segstudio.core.project import Project
from segstudio.gui.prediction import engine
from segstudio.gui.prediction.engine import describe_error
from segstudio.gui.workers import Workers


@dataclass
class BatchProgress:
    done: int
    total: int
    written: int
    failed: int
    elapsed: float                  # seconds, paused time excluded
    eta: float | None
    current: str | None = None
    paused: bool = False
    within: float | None = None     # fraction of the current (tiled) image done


@dataclass
class BatchSummary:
    total: int = 0
    written: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0

    def text(self) -> str:
        out = f"{len(self.written)} of {self.total} images predicted"
        if self.failed:
            out += f", {len(self.failed)} failed ({self.failed[0][0]}: {self.failed[0][1]})"
        if self.cancelled:
            out += " — cancelled"
        return out + f" in {self.seconds:.1f} s"


class BatchRunner(QObject):
    progress = Signal(object)       # BatchProgress (emitted on the worker thread: connect queued)
    imageDone = Signal(str, str)    # key, new status value
    finished = Signal(object)       # BatchSummary

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers = Workers(self, threads=1)
        self._cancel = threading.Event()
        self._resume = threading.Event()
        self.running = False

    def start(self, model: engine.LoadedPredictor, project: Project, keys: list[str] | Callable[[], list[str]],
              mapping: list[int] | None, crf_params=None, cluster=None) -> None:
        """``cluster`` (a ``cluster_job.ClusterOptions``): run on a Ray cluster instead of this thread."""
        if self.running:
            raise RuntimeError("a batch is already running")
        self._cancel = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self.running = True
        self.workers.submit(self._run, model, project, keys, mapping, crf_params, self._cancel, self._resume,
                            cluster, on_done=self._done, on_error=self._failed)

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    @property
    def paused(self) -> bool:
        return self.running and not self._resume.is_set()

    def cancel(self) -> None:
        self._cancel.set()
        self._resume.set()

    def wait(self, msecs: int = -1) -> bool:
        return self.workers.wait(msecs)

    def _done(self, summary: BatchSummary) -> None:
        self.running = False
        self.finished.emit(summary)

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        summary = BatchSummary(failed=[("batch", describe_error(exc))])
        self.finished.emit(summary)

    # -- worker thread ------------------------------------------------------------------------------
    def _run(self, model, project: Project, keys, mapping, crf_params, cancel: threading.Event,
             resume: threading.Event, cluster=None) -> BatchSummary:
        t0 = time.perf_counter()
        keys = list(keys() if callable(keys) else keys)
        labels = project.labels
        out = BatchSummary(total=len(keys))
        if cluster is not None:
            return self._run_cluster(cluster, model, project, keys, mapping, crf_params, cancel, out, t0)
        paused_for = 0.0

        def report(done: int, current: str | None, paused: bool = False, within: float | None = None) -> None:
            elapsed = time.perf_counter() - t0 - paused_for
            processed = len(out.written) + len(out.failed)
            rate = processed / elapsed if elapsed > 0 and processed else 0.0
            eta = (len(keys) - done) / rate if rate > 0 else None
            self.progress.emit(BatchProgress(done, len(keys), len(out.written), len(out.failed), elapsed, eta,
                                             current, paused, within))

        report(0, None)
        scores: dict[str, float] = {}      # per-image uncertainty, recorded for "needs attention"
        for i, key in enumerate(keys):
            if not resume.is_set() and not cancel.is_set():
                t = time.perf_counter()
                report(i, key, paused=True)
                while not resume.wait(0.1):
                    pass
                paused_for += time.perf_counter() - t
            if cancel.is_set():
                out.cancelled = True
                break
            report(i, key)
            try:
                path = project.images[key]
                rgb = read_image(path).rgb
                labels_arr, probs = engine.predict(model, rgb, mapping, labels,
                                                   lambda d, n, i=i, key=key: report(i, key, within=d / max(1, n)))
                if crf_params is not None:
                    if probs is None:
                        raise ValueError("image too large for the CRF within the memory budget")
                    labels_arr, _ = engine.refine(rgb, probs, crf_params, None, labels.dtype)
                project.write_prediction(key, labels_arr)
                if probs is not None:
                    scores[key] = attention.image_uncertainty(probs)
                    if len(scores) >= 32:   # a few atomic writes per batch, not one per image
                        attention.record_scores(project, scores)
                        scores.clear()
                out.written.append(key)
                self.imageDone.emit(key, project.status(key).value)
            except Exception as exc:  # noqa: BLE001 - one bad image never stops the batch
                out.failed.append((key, describe_error(exc)))
            report(i + 1, None)
        try:
            attention.record_scores(project, scores)
        except OSError as exc:   # the predictions are written; only the ranking is missing
            out.failed.append(("uncertainty scores", describe_error(exc)))
        out.seconds = time.perf_counter() - t0
        return out

    def _run_cluster(self, cluster, model, project: Project, keys: list[str], mapping, crf_params,
                     cancel: threading.Event, out: BatchSummary, t0: float) -> BatchSummary:
        from segstudio.gui.prediction.cluster_job import run_on_cluster

        def progress(p) -> None:  # models.batch.BatchProgress -> this panel's
            self.progress.emit(BatchProgress(p.done, p.total, p.written, p.failed, p.elapsed, p.eta,
                                             p.current.name if p.current else None,
                                             within=getattr(p, "within", None)))

        out.written, out.failed, out.cancelled = run_on_cluster(
            cluster, model, project, keys, mapping, crf_params, cancel.is_set, progress,
            lambda key: self.imageDone.emit(key, project.status(key).value))
        out.seconds = time.perf_counter() - t0
        return out
