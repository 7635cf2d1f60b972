"""The live half of the retrain dialog: plot, progress bar, status line and log of one training run.

:class:`TrainProgressView` turns the ``segstudio train --json-progress`` records into what the
user sees: ``step`` records move the progress bar (step of the planned steps; a time budget's
plan is re-estimated as the run goes), extend a faint "this round" loss trace and update the
status line with an estimate of the time left; ``epoch`` records (one per validation round: an
epoch with ``--epochs``) add a point to the training-loss line (left axis) and, with validation,
to the val mIoU line (right axis, %); ``plan`` / ``decision`` / ``fine-tune`` / ``baseline`` /
``done`` records and the process's other output go to the log. The dialog owns the process and the outcome messages; this widget only displays.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QProgressBar, QVBoxLayout, QWidget

from segstudio.gui.widgets.line_plot import LEFT, RIGHT, LinePlot

LOSS_SERIES, RUNNING_SERIES, MIOU_SERIES = "training loss", "loss (this epoch)", "val mIoU"


def fmt_time(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class TrainProgressView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = LinePlot(x_label="epoch")
        self.plot.setObjectName("trainPlot")
        self.plot.placeholder = "Loss and validation mIoU appear here while training"
        self.plot.add_series(LOSS_SERIES, "#e07b39", LEFT)
        self.plot.add_series(RUNNING_SERIES, "#f2b58f", LEFT, markers=False, width=1.2, legend=False)
        self.plot.add_series(MIOU_SERIES, "#3d8bfd", RIGHT)
        self.plot.set_y_range(RIGHT, 0.0, 1.0)
        self.plot.set_y_format(RIGHT, 100.0, " %")
        self.progress = QProgressBar()
        self.progress.setObjectName("trainProgress")
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.status = QLabel("Ready.")
        self.status.setObjectName("trainStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_view = QPlainTextEdit()
        self.log_view.setObjectName("trainLog")
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(2000)
        self.log_view.setPlaceholderText("Messages of the training process")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 3)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.log_view, 2)
        self.epochs = 1
        self.epochs_seen = 0
        self._t_first: float | None = None
        self._first_at = 0
        self._round, self._round_start, self._round_len = -1, 0, 0

    def reset(self, epochs: int, validation: bool) -> None:
        """Clear everything for a new run of ``epochs`` epochs."""
        self.epochs, self.epochs_seen, self._t_first, self._first_at = max(1, epochs), 0, None, 0
        self._round, self._round_start, self._round_len = -1, 0, 0
        self.plot.clear()
        self.plot.set_x_range(0, self.epochs)
        self.plot.set_series_visible(MIOU_SERIES, validation)
        self.progress.setRange(0, 0)    # busy until the first step arrives (torch import, data loading)
        self.log_view.clear()

    def finish(self, complete: bool) -> None:
        self.progress.setRange(0, 100)
        self.progress.setValue(100 if complete else 0)

    def best_miou(self) -> float | None:
        pts = self.plot.points(MIOU_SERIES)
        return max(y for _, y in pts) if pts else None

    def set_status(self, html: str) -> None:
        self.status.setText(html)

    def log(self, line: str) -> None:
        if line:
            self.log_view.appendPlainText(line)

    def on_record(self, rec: dict) -> None:
        ev = rec.get("event")
        if ev == "step":
            self._step(rec)
        elif ev == "epoch":
            self.epochs_seen += 1
            x = int(rec["epoch"]) + 1
            self.epochs = max(x, int(rec.get("epochs", self.epochs)))
            self.plot.set_x_range(0, self.epochs)
            self.plot.append(LOSS_SERIES, x, rec["loss"])
            miou = rec.get("val_miou")
            if miou is not None:
                self.plot.append(MIOU_SERIES, x, miou)
            val = f", val mIoU {100 * miou:.1f} %" if miou is not None else ""
            saved = "" if not rec.get("saved_best") else (" — best so far, saved" if miou is not None else " — saved")
            self.log(f"epoch {x}/{rec.get('epochs', '?')}: loss {rec['loss']:.4f}{val} "
                     f"({rec.get('seconds', 0):.0f} s){saved}")
        elif ev == "plan":
            self.log(f"plan: {rec['steps']} steps of batch {rec['batch_size']} = {rec['epochs']} epochs of "
                     f"{rec['train_images']} images" + (f", about {rec['expected_minutes']:.1f} min"
                                                        if "expected_minutes" in rec else ""))
        elif ev == "decision":
            self.log(f"{rec.get('topic')}: {rec.get('message')}")
        elif ev == "baseline":
            self.log(f"current model on the {rec.get('val_images')} held-out image(s): val mIoU "
                     f"{100 * rec['val_miou']:.1f} %")
        elif ev == "fine-tune":
            self.log(f"fine-tuning from {rec.get('from')}: {len(rec.get('matched_classes', []))} classes matched by "
                     f"name, {rec.get('reinitialised', 0)} tensors freshly initialised")
        elif ev == "done":
            best = self.best_miou()
            self.log(f"done: {rec.get('epochs_run')} epoch(s) in {fmt_time(rec.get('elapsed', 0))}"
                     + (f", best val mIoU {100 * best:.1f} %" if best is not None else "")
                     + (f" (stopped early: {rec['stopped_early']})" if rec.get("stopped_early") else ""))
            if rec.get("verdict"):
                self.log(rec["verdict"])

    def _step(self, rec: dict) -> None:
        it, iters, loss = int(rec["iter"]), max(1, int(rec["iters"])), float(rec["loss"])
        epoch = int(rec["epoch"])
        done = int(rec.get("step", epoch * iters + it))
        total = max(done, int(rec.get("steps", self.epochs * iters)))
        if self._t_first is None:
            self._t_first, self._first_at = time.monotonic(), done - 1
        self.progress.setRange(0, total)
        self.progress.setValue(min(done, total))
        if epoch != self._round:
            if self._round >= 0:
                self._round_len = max(1, done - 1 - self._round_start)
            self._round, self._round_start = epoch, done - 1
            self.plot.break_line(RUNNING_SERIES)
        span = self._round_len or iters
        self.plot.append(RUNNING_SERIES, epoch + min(1.0, (done - self._round_start) / span), loss)
        eta = ""
        measured = done - self._first_at
        if measured >= 2:
            per_step = (time.monotonic() - self._t_first) / measured
            eta = f" · about {fmt_time(per_step * (total - done))} left"
        self.set_status(f"Step {done}/{total} · round {epoch + 1} · loss {loss:.4f}{eta}")
