"""Model > Retrain on my corrections…: fine-tune (or train) a model on the project's corrected masks.

The form picks the base (a checkpoint to fine-tune — the default: the window's current model,
else the shipped one, classes mapped by name — or an architecture to train from scratch), which
masks (edited or reviewed), the budget (minutes, the default, or epochs), learning rate, loss,
crop and batch (chosen for the data unless set), device, the output checkpoint and optional
validation on the images that have ground truth (otherwise ``segstudio train`` holds out
reviewed images itself). A fine-tune is judged against its base on the same held-out images:
"Use this model" is offered as the better model only when it is better; otherwise the status
says the current model is kept and the button reads "Use it anyway" (never a silent swap to a
worse model). Training runs in a separate process (:mod:`segstudio.gui.training_process`), so a
crash or an out-of-memory kill only ends that process. Its JSON progress drives a progress bar,
a live plot (training loss per validation round on the left axis, validation mIoU on the right)
and a log. Stop ends the process; the best checkpoint written so far stays usable. Close, Escape
and the window's close button always close the dialog; while training runs it asks whether to
keep training in the background (the default; Model > Retrain shows it again) or to stop it.
When a checkpoint exists, "Use this model" emits :attr:`TrainDialog.modelReady` with its path
and records it in the settings list ``model/recent`` (newest first).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QTimer, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QMessageBox,
                               QPushButton, QRadioButton, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from segstudio.core.images import list_images
from segstudio.core.project import Project, Status
from segstudio.gui.dialogs.train_files import (RECENT_KEY, _inspect_checkpoint, _last_error_line, _quote, _stamp,
                                               current_model, default_output, remember_model)  # noqa: F401 (re-exported)
from segstudio.gui.dialogs.train_progress import TrainProgressView, escape as _escape
from segstudio.gui.training_process import CANCELLED, DONE, TrainingProcess, describe_exit
from segstudio.gui.workers import Workers

DEFAULT_MINUTES = 5.0
LOSSES = (("ce", "Cross-entropy"), ("wce", "Weighted cross-entropy (rare classes count more)"),
          ("focal", "Focal loss (hard pixels count more)"))
_DEFAULT = object()


class TrainDialog(QDialog):
    modelReady = Signal(str)    # "Use this model": path of the trained checkpoint

    def __init__(self, project: Project, parent: QWidget | None = None, settings=None,
                 base_checkpoint: Path | None | object = _DEFAULT,
                 before_start: Callable[[], None] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainDialog")
        self.setWindowTitle(f"Retrain on my corrections — {project.folder.name}")
        self.project = project
        self.settings = settings
        self.before_start = before_start
        if base_checkpoint is _DEFAULT:
            base_checkpoint = current_model(parent)
        self.process = TrainingProcess(self)
        self.process.record.connect(lambda rec: self.view.on_record(rec))
        self.process.log.connect(self._log)
        self.process.ended.connect(self._on_ended)
        self.workers = Workers(self, threads=1)
        self._base_info: dict | None = None
        self._base_error = ""
        self._inspecting: str | None = None
        self._lr_touched = False
        self._out_touched = False
        self._out_stamp: tuple | None = None   # (mtime, size) of the output before this run, None if absent
        self.out_path: Path | None = None      # checkpoint of the current/last run
        self.last_args: list[str] = []
        self.verdict: dict = {}                # the run's "done" record (with improved/verdict for a fine-tune)
        self._build(base_checkpoint)
        self._update_counts()
        self._mode_changed()

    # -- layout -----------------------------------------------------------------------------------
    def _build(self, base: Path | None) -> None:
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)

        mg = QGroupBox("Model")
        mf = QFormLayout(mg)
        self.finetune_radio = QRadioButton("Fine-tune a checkpoint")
        self.scratch_radio = QRadioButton("Train from scratch")
        self.mode_group = QButtonGroup(self)
        for b in (self.finetune_radio, self.scratch_radio):
            self.mode_group.addButton(b)
        row = QHBoxLayout()
        self.base_edit = QLineEdit(str(base) if base else "")
        self.base_edit.setPlaceholderText("checkpoint (.pt)")
        self.base_edit.editingFinished.connect(self._inspect_base)
        browse = QPushButton("…")
        browse.setToolTip("Choose a checkpoint")
        browse.setFixedWidth(32)
        browse.setAutoDefault(False)
        browse.clicked.connect(self._browse_base)
        row.addWidget(self.base_edit, 1)
        row.addWidget(browse)
        self.base_info = QLabel("")
        self.base_info.setWordWrap(True)
        self.arch = QComboBox()
        from segstudio.models.registry import available   # lists names only: no torch import
        for spec in available():
            self.arch.addItem(spec.name, spec.name)
            self.arch.setItemData(self.arch.count() - 1, spec.summary, Qt.ItemDataRole.ToolTipRole)
        i = self.arch.findData("unet-light")
        self.arch.setCurrentIndex(max(0, i))
        self.arch_options = QLineEdit("{}")
        self.arch_options.setToolTip('Architecture options as JSON, e.g. {"width": 24}')
        mf.addRow(self.finetune_radio)
        mf.addRow(row)
        mf.addRow(self.base_info)
        mf.addRow(self.scratch_radio)
        mf.addRow("Architecture", self.arch)
        mf.addRow("Options", self.arch_options)
        (self.finetune_radio if base else self.scratch_radio).setChecked(True)
        self.mode_group.buttonToggled.connect(lambda *_: self._mode_changed())

        dg = QGroupBox("Data")
        df = QFormLayout(dg)
        self.only = QComboBox()
        self.only.addItem("Edited or reviewed", "edited")
        self.only.addItem("Reviewed only", "reviewed")
        self.validate = QCheckBox("Validate each epoch on images with ground truth")
        self.only.currentIndexChanged.connect(lambda *_: self._update_counts())
        df.addRow("Masks", self.only)
        df.addRow(self.validate)

        tg = QGroupBox("Training")
        tf = QFormLayout(tg)
        self.epochs, self.batch = QSpinBox(), QSpinBox()
        self.epochs.setRange(1, 10000)
        self.epochs.setValue(10)
        self.minutes = QDoubleSpinBox()
        self.minutes.setRange(0.1, 24 * 60)
        self.minutes.setDecimals(1)
        self.minutes.setValue(DEFAULT_MINUTES)
        self.minutes.setSuffix(" min")
        self.budget_minutes = QRadioButton("Time")
        self.budget_epochs = QRadioButton("Epochs")
        self.budget_group = QButtonGroup(self)
        for b in (self.budget_minutes, self.budget_epochs):
            self.budget_group.addButton(b)
        self.budget_minutes.setChecked(True)
        self.auto_crop = QCheckBox("Crop and batch chosen for the data")
        self.auto_crop.setChecked(True)
        self.batch.setRange(1, 512)
        self.batch.setValue(4)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(1e-5, 1.0)
        self.lr.setSingleStep(0.001)
        self.lr.valueChanged.connect(self._lr_changed)
        self.loss = QComboBox()
        for value, text in LOSSES:
            self.loss.addItem(text, value)
        crop_row = QHBoxLayout()
        self.crop_h, self.crop_w = QSpinBox(), QSpinBox()
        for spin, v in ((self.crop_h, 288), (self.crop_w, 384)):
            spin.setRange(8, 4096)
            spin.setSingleStep(16)
            spin.setValue(v)
        crop_row.addWidget(self.crop_h)
        crop_row.addWidget(QLabel("×"))
        crop_row.addWidget(self.crop_w)
        crop_row.addWidget(QLabel("px (H × W)"))
        crop_row.addStretch(1)
        self.device = QComboBox()
        for d in ("auto", "cpu", "cuda", "mps"):
            self.device.addItem(d, d)
        budget_row = QHBoxLayout()
        for w in (self.budget_minutes, self.minutes, self.budget_epochs, self.epochs):
            budget_row.addWidget(w)
        budget_row.addStretch(1)
        tf.addRow("Budget", budget_row)
        tf.addRow(self.auto_crop)
        tf.addRow("Batch size", self.batch)
        tf.addRow("Learning rate", self.lr)
        tf.addRow("Loss", self.loss)
        tf.addRow("Crop", crop_row)
        tf.addRow("Device", self.device)

        og = QGroupBox("Output")
        ov = QHBoxLayout(og)
        self.out_edit = QLineEdit(str(default_output(self.project.folder)))
        out_browse = QPushButton("…")
        out_browse.setFixedWidth(32)
        out_browse.setAutoDefault(False)
        out_browse.setToolTip("Choose where to save the trained model")
        self.out_edit.textEdited.connect(self._out_typed)
        out_browse.clicked.connect(self._browse_out)
        ov.addWidget(self.out_edit, 1)
        ov.addWidget(out_browse)
        for g in (mg, dg, tg, og):
            lv.addWidget(g)
        lv.addStretch(1)
        self.form_widgets = [mg, dg, tg, og]

        self.view = TrainProgressView()
        self.plot, self.progress, self.status, self.log_view = (self.view.plot, self.view.progress, self.view.status,
                                                                self.view.log_view)
        right = self.view

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)

        self.buttons = QDialogButtonBox()
        self.start_btn = self.buttons.addButton("Start training", QDialogButtonBox.ButtonRole.ActionRole)
        self.start_btn.setDefault(True)
        self.cancel_btn = self.buttons.addButton("Stop", QDialogButtonBox.ButtonRole.ActionRole)
        self.cancel_btn.setEnabled(False)
        self.use_btn = self.buttons.addButton("Use this model", QDialogButtonBox.ButtonRole.ActionRole)
        self.use_btn.setEnabled(False)
        self.close_btn = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        for b in (self.cancel_btn, self.use_btn, self.close_btn):
            b.setAutoDefault(False)
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self.use_btn.clicked.connect(self.use_model)
        self.close_btn.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addWidget(self.buttons)
        self.resize(1020, 660)

    # -- form logic ----------------------------------------------------------------------------------
    def finetune(self) -> bool:
        return self.finetune_radio.isChecked()

    def _mode_changed(self) -> None:
        ft = self.finetune()
        self.base_edit.setEnabled(ft)
        self.arch.setEnabled(not ft)
        self.arch_options.setEnabled(not ft)
        if not self._lr_touched:
            self.lr.blockSignals(True)
            self.lr.setValue(0.002 if ft else 0.02)
            self.lr.blockSignals(False)
        if ft:
            QTimer.singleShot(0, self._inspect_base)
        else:
            self.base_info.setText("")

    def _lr_changed(self) -> None:
        self._lr_touched = True

    def _out_typed(self, _text: str) -> None:
        self._out_touched = True

    def _browse_base(self) -> None:
        start = self.base_edit.text() or str(self.project.folder)
        path, _ = QFileDialog.getOpenFileName(self, "Base checkpoint", start, "Checkpoints (*.pt *.pth);;All files (*)")
        if path:
            self.base_edit.setText(path)
            self._inspect_base()

    def _browse_out(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the trained model as", self.out_edit.text(),
                                              "Checkpoints (*.pt)")
        if path:
            self._out_touched = True
            self.out_edit.setText(path if path.endswith(".pt") else path + ".pt")

    def _inspect_base(self) -> None:
        """Read the base checkpoint's architecture on a worker thread (loads torch there, not here)."""
        if not self.finetune():
            return
        path = self.base_edit.text().strip()
        if path == self._inspecting or (self._base_info is not None and self._base_info.get("path") == path):
            return
        self._base_info, self._base_error, self._inspecting = None, "", path
        if not path:
            self.base_info.setText("")
            return
        if not Path(path).is_file():
            self._base_error = f"{path}: no such checkpoint"
            self._inspecting = None
            self.base_info.setText("<span style='color:#d04040'>Not found.</span>")
            return
        self.base_info.setText("Reading checkpoint…")
        self.workers.submit(_inspect_checkpoint, path, on_done=lambda info, p=path: self._inspected(p, info),
                            on_error=lambda exc, p=path: self._inspect_failed(p, exc))

    def _inspected(self, path: str, info: dict) -> None:
        if path != self._inspecting:
            return
        self._inspecting = None
        self._base_info = {**info, "path": path}
        ours = {n.lower() for n in self.project.labels.names}
        shared = sum(1 for n in info["classes"] if n.lower() in ours)
        opts = "".join(f", {k}={v}" for k, v in info["arch_options"].items())
        miou = f", val mIoU {100 * info['val_miou']:.1f} %" if isinstance(info.get("val_miou"), float) else ""
        self.base_info.setText(f"{info['arch']}{opts} · {len(info['classes'])} classes{miou}<br>"
                               f"{shared} of the project's {self.project.labels.num_classes} classes are in it")

    def _inspect_failed(self, path: str, exc: BaseException) -> None:
        if path != self._inspecting:
            return
        self._inspecting = None
        self._base_error = str(exc)
        self.base_info.setText(f"<span style='color:#d04040'>Cannot use it: {_escape(str(exc))}</span>")

    def _update_counts(self) -> None:
        p = self.project
        edited = [k for k in p.keys_with_status(Status.EDITED, Status.REVIEWED) if p.has_mask(k)]
        reviewed = [k for k in p.keys_with_status(Status.REVIEWED) if p.has_mask(k)]
        self.only.setItemText(0, f"Edited or reviewed ({len(edited)})")
        self.only.setItemText(1, f"Reviewed only ({len(reviewed)})")
        self._counts = {"edited": len(edited), "reviewed": len(reviewed)}
        val = self.validation_stems()
        pairs = len(val)
        gt = p.ground_truth
        self.validate.setEnabled(pairs > 0)
        self.validate.setChecked(pairs > 0 and self.validate.isChecked())
        if gt is None:
            self.validate.setText("Validate on ground truth (no ground-truth folder attached)")
            self.validate.setToolTip("Attach a ground-truth folder (Metrics panel) to measure val mIoU each epoch")
            return
        trained = {Path(k).stem for k in (edited if self.only.currentData() == "edited" else reviewed)}
        overlap = len(val & trained)
        also = f" ({overlap} also trained on)" if overlap else ""
        self.validate.setText(f"Validate each epoch on the {pairs} image(s) with ground truth{also}")
        self.validate.setToolTip(f"Ground truth: {gt}" + (
            "\nImages that are also trained on make the validation score look better than it is."
            if overlap else ""))

    def validation_stems(self) -> set[str]:
        """Stems of the project images that have a ground-truth mask ``<gt>/<stem>.png``."""
        gt = self.project.ground_truth
        if gt is None or not gt.is_dir():
            return set()
        stems = {q.stem for q in gt.iterdir() if q.suffix.lower() == ".png"}
        return {q.stem for q in list_images(self.project.folder) if q.stem in stems}

    # -- building the command ---------------------------------------------------------------------------
    def build_args(self) -> list[str]:
        """Arguments of ``segstudio train`` for the current form; raises ValueError with a message."""
        only = self.only.currentData()
        if self._counts.get(only, 0) == 0:
            what = "reviewed" if only == "reviewed" else "edited or reviewed"
            raise ValueError(f"No {what} masks to train on yet: correct (or review) some images first.")
        out = Path(self.out_edit.text().strip()).expanduser()
        if not self.out_edit.text().strip() or out.suffix.lower() not in (".pt", ".pth"):
            raise ValueError("Give the output checkpoint a name ending in .pt")
        args = ["--project", str(self.project.folder), "--only", only]
        if self.finetune():
            base = self.base_edit.text().strip()
            if not base:
                raise ValueError("Choose a checkpoint to fine-tune, or train from scratch.")
            if not Path(base).is_file():
                raise ValueError(f"Base checkpoint not found: {base}")
            if self._inspecting == base:
                self.workers.wait()   # the inspection is quick once torch is loaded
                from PySide6.QtWidgets import QApplication
                QApplication.processEvents()
            if self._base_error:
                raise ValueError(f"Cannot fine-tune {base}: {self._base_error}")
            info = self._base_info
            if info is not None:
                args += ["--from", base, "--arch", info["arch"], "--arch-options", json.dumps(info["arch_options"])]
            else:
                args += ["--from", base]
        else:
            text = self.arch_options.text().strip() or "{}"
            try:
                opts = json.loads(text)
            except ValueError as exc:
                raise ValueError(f"Architecture options are not valid JSON: {exc}") from None
            if not isinstance(opts, dict):
                raise ValueError('Architecture options must be a JSON object, e.g. {"width": 24}')
            args += ["--arch", self.arch.currentData(), "--arch-options", json.dumps(opts)]
        args += ["--out", str(out)]
        args += (["--epochs", str(self.epochs.value())] if self.budget_epochs.isChecked()
                 else ["--max-minutes", f"{self.minutes.value():g}"])
        if not self.auto_crop.isChecked():
            args += ["--batch-size", str(self.batch.value()), "--crop", f"{self.crop_h.value()},{self.crop_w.value()}"]
        args += ["--lr", f"{self.lr.value():g}", "--loss", self.loss.currentData(), "--device", self.device.currentData()]
        if self.validate.isChecked() and self.project.ground_truth is not None:
            args += ["--val-images", str(self.project.folder), "--val-masks", str(self.project.ground_truth)]
        args.append("--json-progress")
        return args

    # -- running -----------------------------------------------------------------------------------------
    def start(self) -> bool:
        if self.process.running():
            return False
        if self.before_start is not None:
            try:
                self.before_start()
            except Exception as exc:  # noqa: BLE001
                self._fail_early(f"Could not save the open image first: {exc}")
                return False
        self._update_counts()
        try:
            args = self.build_args()
        except ValueError as exc:
            self._fail_early(str(exc))
            return False
        self.out_path = Path(args[args.index("--out") + 1])
        self._out_stamp = _stamp(self.out_path)
        self.last_args = args
        self.view.reset(self.epochs.value() if self.budget_epochs.isChecked() else 1, "--val-images" in args)
        self._set_status("Starting the training process…")
        self._set_running(True)
        self.process.start(args)
        self._log("$ segstudio train " + " ".join(_quote(a) for a in args))
        return True

    def cancel(self) -> None:
        if self.process.running():
            self._set_status("Stopping…")
            self.cancel_btn.setEnabled(False)
            self.process.cancel()

    def running(self) -> bool:
        return self.process.running()

    def _on_ended(self, outcome: str, code: int) -> None:
        self._set_running(False)
        self.view.finish(outcome == DONE)
        # a checkpoint counts only if this run wrote it (not one left by an earlier run at the same path)
        exists = self.out_path is not None and _stamp(self.out_path) not in (None, self._out_stamp)
        where = f"<br>Checkpoint: <code>{_escape(str(self.out_path))}</code>" if exists else ""
        self.verdict = next((r for r in reversed(self.process.records) if r.get("event") == "done"), {})
        self.use_btn.setText("Use this model")
        if outcome == DONE:
            miou = self.view.best_miou()
            best = f" Best val mIoU {100 * miou:.1f} %." if miou is not None else ""
            if exists and self.verdict.get("improved") is False:
                self._set_status(f"<b>Training finished, but the new model is not better.</b> "
                                 f"{_escape(self.verdict.get('verdict', ''))}{where}")
                self.use_btn.setText("Use it anyway")
            elif exists and self.verdict.get("improved"):
                self._set_status(f"<b>Training finished: the new model is better.</b> "
                                 f"{_escape(self.verdict.get('verdict', ''))}{where}")
            elif exists:
                self._set_status(f"<b>Training finished.</b>{best}{where}")
            else:
                self._set_status("<span style='color:#d04040'><b>Training finished but wrote no checkpoint.</b></span>"
                                 " See the messages below.")
        elif outcome == CANCELLED:
            if exists:
                self._set_status(f"<b>Training stopped</b> after {self.view.epochs_seen} epoch(s). The best checkpoint "
                                 f"so far is complete and usable.{where}")
            else:
                self._set_status("<b>Training stopped</b> before the first epoch ended; no checkpoint was written.")
        else:
            tail = self.process.stderr_tail(12) or self.process.error or "(no error output)"
            last = _last_error_line(tail)
            kept = f" The checkpoint of the last finished epoch is still usable.{where}" if exists else ""
            self._set_status(f"<span style='color:#d04040'><b>{_escape(describe_exit(outcome, code))}</b></span> "
                             f"{_escape(last)}{kept}")
            self._log("---- end of the error output ----" if self.process.stderr_lines else self.process.error)
        self.use_btn.setEnabled(exists)
        self.use_btn.setDefault(exists and self.verdict.get("improved") is not False)
        if exists and not self._out_touched:      # the next run gets a new default name, never overwrites this one
            self.out_edit.setText(str(default_output(self.project.folder)))

    def use_model(self) -> None:
        if self.out_path is None or not self.out_path.is_file():
            return
        remember_model(self.settings, self.out_path)
        self.modelReady.emit(str(self.out_path))

    # -- helpers ----------------------------------------------------------------------------------------
    def _fail_early(self, message: str) -> None:
        self._set_status(f"<span style='color:#d04040'>{_escape(message)}</span>")

    def _set_status(self, html: str) -> None:
        self.view.set_status(html)

    def _log(self, line: str) -> None:
        self.view.log(line)

    def _set_running(self, on: bool) -> None:
        for w in self.form_widgets:
            w.setEnabled(not on)
        self.start_btn.setEnabled(not on)
        self.cancel_btn.setEnabled(on)
        if on:
            self.use_btn.setEnabled(False)

    def ask_close(self) -> str:
        """Closing while training runs: "keep" (in the background), "stop" or "cancel" (stay open)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Training is running",
                          "Keep training in the background? Model ▸ Retrain on my corrections shows it again.",
                          parent=self)
        keep = box.addButton("Keep training", QMessageBox.ButtonRole.AcceptRole)
        stop = box.addButton("Stop training", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        box.exec()
        clicked = box.clickedButton()
        return "keep" if clicked is keep else "stop" if clicked is stop else "cancel"

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        # Close, Escape (reject) and the window's close button all end here. Not QDialog.closeEvent:
        # it calls reject(), which closes again and was refused, so the dialog could never close.
        if self.running():
            choice = self.ask_close()
            if choice == "cancel":
                event.ignore()
                return
            if choice == "stop":
                self.cancel()
        self.workers.wait()
        event.accept()

    def reject(self) -> None:   # Escape
        self.close()

    def shutdown(self) -> None:
        """Stop a running training at once and wait for it (app quitting, tests)."""
        self.process.kill()
        self.process.wait(5000)
        self.workers.wait()
