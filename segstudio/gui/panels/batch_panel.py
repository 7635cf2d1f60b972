"""Batch panel: run the chosen model (± dense CRF) over all, unlabelled or selected images.

Predictions go to ``predictions/<key>.png`` (never ``masks/``); unlabelled images become
"predicted" and the image list updates as each one is written. Progress shows images done,
rate and ETA; Pause holds the run between images, Cancel stops it within one image. The
model is the one chosen in the Model panel (loaded first if needed, with its test-time
augmentation); a tiled image's progress shows as a percentage of its tiles; the CRF uses the CRF
panel's parameters. "Selected" means the images selected in the image list (the open image
when the list has no selection).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDockWidget, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QProgressBar, QPushButton, QVBoxLayout, QWidget)

from segstudio.core.project import Status
from segstudio.gui.prediction import controller_for
from segstudio.gui.prediction.batch_job import BatchProgress, BatchRunner, BatchSummary

AREA = Qt.DockWidgetArea.RightDockWidgetArea
TABIFY_WITH = "model_dock"
SCOPES = (("All images", "all"), ("Unlabelled images", "unlabelled"), ("Selected images", "selected"))


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class BatchPanel(QWidget):
    def __init__(self, window) -> None:
        super().__init__()
        self.win = window
        self.ctl = controller_for(window)
        self.runner = BatchRunner(self)
        self.summary: BatchSummary | None = None
        self._pending: str | None = None
        self.scope_box = QComboBox()
        for text, value in SCOPES:
            self.scope_box.addItem(text, value)
        self.crf_box = QCheckBox("Refine with dense CRF (CRF panel settings)")
        self.cluster_edit = QLineEdit()  # "Run on cluster": a Ray address; empty runs here (gui.prediction.cluster_job)
        self.cluster_edit.setPlaceholderText("empty: this machine; auto, ray://HOST:10001 or local")
        self.cluster_edit.setToolTip("Run the batch on a Ray cluster (docs/cluster.md); the project folder and the "
                                     "model file must be on a filesystem its nodes share")
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.status = QLabel("Writes predictions/<image>.png; your masks are never changed.")
        self.status.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Images", self.scope_box)
        form.addRow(self.crf_box)
        form.addRow("Run on cluster", self.cluster_edit)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.cancel_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self._set_running(False)
        self.start_button.clicked.connect(lambda: self.start(self.scope_box.currentData()))
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button.clicked.connect(self.cancel)
        queued = Qt.ConnectionType.QueuedConnection
        self.runner.progress.connect(self._progress, queued)
        self.runner.imageDone.connect(self._image_done, queued)
        self.runner.finished.connect(self._finished, queued)
        self.ctl.modelChanged.connect(self._model_changed)
        window.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if obj is self.win and event.type() == QEvent.Type.Close and self.runner.running:
            self.runner.cancel()
        return False

    # -- scope ---------------------------------------------------------------------------------------
    def selected_keys(self) -> list[str]:
        panel = getattr(self.win, "file_panel", None)
        keys: list[str] = []
        if panel is not None:
            from segstudio.gui.panels.file_list import KeyRole

            for ix in panel.view.selectionModel().selectedIndexes():
                key = ix.data(KeyRole)
                if key and key not in keys:
                    keys.append(key)
        if not keys and self.win.document.key:
            keys = [self.win.document.key]
        return keys

    def keys_for(self, scope):
        """Keys for a scope name (all / selected / unlabelled), or ``scope`` itself when it is a list of keys."""
        project = self.win.project
        if isinstance(scope, (list, tuple)):
            return list(scope)
        if scope == "selected":
            return self.selected_keys()
        if scope == "unlabelled":
            return lambda: project.keys_with_status(Status.UNLABELLED)   # status checks run on the worker
        return lambda: project.keys()

    # -- running -------------------------------------------------------------------------------------
    def start(self, scope: str = "all") -> bool:
        ctl, project = self.ctl, self.win.project
        if project is None or self.runner.running:
            return False
        if ctl.model is None or (ctl.spec is not None and ctl.model.spec != ctl.spec):
            if ctl.spec is None:
                self.status.setText("Choose a model in the Model panel first")
                return False
            self._pending = scope
            self.status.setText("Loading the model …")
            if ctl.state != "loading":
                ctl.load()
            return True
        self._pending = None
        self.summary = None
        crf = ctl.crf_params if self.crf_box.isChecked() else None
        self.runner.start(ctl.model, project, self.keys_for(scope), ctl.mapping, crf, cluster=self.cluster_options())
        self._set_running(True)
        self.status.setText("Starting …")
        return True

    def cluster_options(self):
        address = self.cluster_edit.text().strip()
        if not address:
            return None
        from segstudio.gui.prediction.cluster_job import ClusterOptions

        return ClusterOptions(address)

    def _model_changed(self) -> None:
        if self._pending is None:
            return
        if self.ctl.state == "ready":
            self.start(self._pending)
        elif self.ctl.state == "failed":
            self._pending = None
            self.status.setText(f"Cannot load the model: {self.ctl.error}")

    def toggle_pause(self) -> None:
        if not self.runner.running:
            return
        if self.runner.paused:
            self.runner.resume()
            self.pause_button.setText("Pause")
        else:
            self.runner.pause()
            self.pause_button.setText("Resume")

    def cancel(self) -> None:
        self._pending = None
        if self.runner.running:
            self.runner.cancel()
            self.status.setText("Cancelling after the current image …")

    def _set_running(self, on: bool) -> None:
        self.start_button.setEnabled(not on)
        self.pause_button.setEnabled(on)
        self.cancel_button.setEnabled(on)
        self.scope_box.setEnabled(not on)
        self.cluster_edit.setEnabled(not on)
        if not on:
            self.pause_button.setText("Pause")

    def _progress(self, p: BatchProgress) -> None:
        within = p.within if p.within is not None and p.current and not p.paused else None
        self.progress.setRange(0, max(1, p.total) * 100)     # hundredths of an image: tiles move it
        self.progress.setValue(p.done * 100 + int(100 * min(1.0, within or 0.0)))
        rate = (p.written + p.failed) / p.elapsed if p.elapsed > 0 and (p.written + p.failed) else 0.0
        parts = [f"{p.done}/{p.total}"]
        if rate:
            parts.append(f"{rate:.2f} img/s")
        if p.eta is not None:
            parts.append(f"ETA {_clock(p.eta)}")
        if p.failed:
            parts.append(f"{p.failed} failed")
        if p.paused:
            parts.append("paused")
        elif p.current:
            parts.append(p.current + (f" {int(100 * within)} %" if within is not None and within < 1 else ""))
        self.status.setText(" · ".join(parts))

    def _image_done(self, key: str, status: str) -> None:
        self.win.document.statusChanged.emit(key, status)

    def _finished(self, summary: BatchSummary) -> None:
        self.summary = summary
        self._set_running(False)
        self.status.setText(summary.text())
        self.win.status.showMessage(f"Batch: {summary.text()}", 15000)
        written = getattr(self.win, "predictionsWritten", None)   # e.g. the folder metrics table refreshes
        if written is not None:
            written.emit()


def create_panel(window) -> QDockWidget:
    panel = BatchPanel(window)
    dock = QDockWidget("Batch predict", window)
    dock.setObjectName("batch_dock")
    dock.setWidget(panel)
    window.batch_panel = panel
    return dock
