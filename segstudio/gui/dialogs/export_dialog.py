"""File > Export…: write the project's labels as VOC, COCO, Cityscapes, CamVid, YOLO-seg or PNG.

The dialog gathers the options of :func:`segstudio.core.export.export_project` (format, output
folder, split fractions and seed, which images, allow missing masks, overwrite) and runs it on a
worker thread. Progress comes back through a queued signal; Cancel sets the export's
``threading.Event`` (the export then removes everything it wrote). The report (counts per split,
skipped images, warnings such as what YOLO polygons lose) or the list of problems found by the
checks is shown in the dialog; nothing here can take the app down. ``before_export`` (the main
window passes "save the open image and wait") runs first so the export sees the latest edits.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QUrl, Qt, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QProgressBar,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from segstudio.core.export import ExportCancelled, ExportError, ExportReport, export_project
from segstudio.core.export.common import MANIFEST
from segstudio.core.project import Project, Status
from segstudio.gui.dialogs.job_dialog import JobDialogMixin, format_chooser
from segstudio.gui.workers import Workers

FORMAT_INFO = {
    "voc": "PASCAL VOC / CVAT “Segmentation mask 1.1”: JPEGImages/, SegmentationClass/ (indexed PNG), "
           "ImageSets/Segmentation/<split>.txt, labelmap.txt",
    "coco": "COCO stuff segmentation: images/ + annotations.json with one RLE per class and image",
    "cityscapes": "Cityscapes layout: leftImg8bit/<split>/ and gtFine/<split>/ *_labelIds / *_color PNGs",
    "camvid": "CamVid / SegNet layout: <split>/ and <split>annot/ PNGs with class ids",
    "yolo-seg": "Ultralytics YOLO segmentation: images/<split>/, labels/<split>/*.txt polygons, data.yaml "
                "(regions become polygons; holes and tiny specks are approximated)",
    "png": "Plain indexed PNG masks next to copies of the images, plus labels.json",
}
ONLY_CHOICES = (("edited", "Edited or reviewed"), ("reviewed", "Reviewed only"), ("all", "All images"))


def default_out_dir(project_folder: Path, fmt: str) -> Path:
    """Sibling of the project folder (an export may not live inside the project)."""
    return project_folder.parent / f"{project_folder.name}-{fmt}"


class ExportDialog(JobDialogMixin, QDialog):
    _progressed = Signal(int, int, str)   # emitted on the worker thread, delivered queued

    def __init__(self, project: Project, parent: QWidget | None = None, settings=None,
                 before_export: Callable[[], None] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle(f"Export labels — {project.folder.name}")
        self.project = project
        self.settings = settings
        self.before_export = before_export
        self.workers = Workers(self, threads=1)
        self.cancel_event: threading.Event | None = None
        self.report: ExportReport | None = None
        self.error: BaseException | None = None
        self.outcome: str | None = None          # None while idle/running, then done|failed|cancelled
        self.running = False
        # tests: called on the worker thread with (done, total, message) before the GUI hears of it
        self.worker_progress_hook: Callable[[int, int, str], None] | None = None
        self._out_edited = False
        self._build()
        self._progressed.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self._restore()
        self._update_counts()
        self._update_hint()

    # -- layout --------------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        self.format, self.format_info, fbox = format_chooser(FORMAT_INFO, "exportFormat")
        form.addRow("Format", fbox)
        out_row = QHBoxLayout()
        self.out_edit = QLineEdit()
        self.out_edit.setObjectName("exportOut")
        self.out_edit.textEdited.connect(self._out_typed)
        self.out_edit.textChanged.connect(self._update_hint)
        browse = QPushButton("Browse…")
        browse.setAutoDefault(False)
        browse.clicked.connect(self._browse)
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(browse)
        form.addRow("Output folder", out_row)

        self.only = QComboBox()
        for value, text in ONLY_CHOICES:
            self.only.addItem(text, value)
        self.allow_missing = QCheckBox("Skip selected images without a mask (instead of failing)")
        self.overwrite = QCheckBox("Replace a previous SegStudio export in that folder")
        form.addRow("Images", self.only)
        form.addRow("", self.allow_missing)
        form.addRow("", self.overwrite)

        self.split_box = QGroupBox("Split into subsets")
        self.split_box.setCheckable(True)
        self.split_box.setChecked(False)
        sl = QHBoxLayout(self.split_box)
        self.train_pct, self.val_pct, self.seed = QSpinBox(), QSpinBox(), QSpinBox()
        for spin, value in ((self.train_pct, 80), (self.val_pct, 20)):
            spin.setRange(0, 100)
            spin.setSuffix(" %")
            spin.setValue(value)
            spin.valueChanged.connect(self._update_test)
        self.seed.setRange(0, 2**31 - 1)
        self.test_label = QLabel()
        for text, w in (("train", self.train_pct), ("val", self.val_pct)):
            sl.addWidget(QLabel(text))
            sl.addWidget(w)
        sl.addWidget(self.test_label)
        sl.addStretch(1)
        sl.addWidget(QLabel("seed"))
        sl.addWidget(self.seed)
        self._update_test()

        self.progress = QProgressBar()
        self.progress.setObjectName("exportProgress")
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.status = QLabel("")
        self.status.setObjectName("exportStatus")
        self.status.setWordWrap(True)
        self.result = QPlainTextEdit()
        self.result.setObjectName("exportResult")
        self.result.setReadOnly(True)
        self.result.setPlaceholderText("The export report appears here.")
        self.result.setMinimumHeight(110)

        self.buttons = QDialogButtonBox()
        self.export_btn = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_btn.setDefault(True)
        self.open_btn = self.buttons.addButton("Open folder", QDialogButtonBox.ButtonRole.ActionRole)
        self.open_btn.setEnabled(False)
        self.close_btn = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        for b in (self.open_btn, self.close_btn):
            b.setAutoDefault(False)
        self.export_btn.clicked.connect(self.start)
        self.open_btn.clicked.connect(self._open_folder)
        self.close_btn.clicked.connect(self._close_or_cancel)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.split_box)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.result, 1)
        layout.addWidget(self.buttons)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.only.currentIndexChanged.connect(self._update_counts)
        self.overwrite.toggled.connect(self._update_hint)
        self.resize(640, 560)
        self._format_changed()

    def _restore(self) -> None:
        if self.settings is None:
            return
        s = self.settings
        i = self.format.findData(s.value("export/format", "voc", str))
        if i >= 0:
            self.format.setCurrentIndex(i)
        i = self.only.findData(s.value("export/only", "edited", str))
        if i >= 0:
            self.only.setCurrentIndex(i)
        self.allow_missing.setChecked(s.value("export/allow_missing", False, bool))
        self.split_box.setChecked(s.value("export/split", False, bool))
        self.train_pct.setValue(s.value("export/train_pct", 80, int))
        self.val_pct.setValue(s.value("export/val_pct", 20, int))
        self.seed.setValue(s.value("export/seed", 0, int))

    def _remember(self) -> None:
        if self.settings is None:
            return
        for key, value in (("format", self.fmt()), ("only", self.only.currentData()),
                           ("allow_missing", self.allow_missing.isChecked()),
                           ("split", self.split_box.isChecked()), ("train_pct", self.train_pct.value()),
                           ("val_pct", self.val_pct.value()), ("seed", self.seed.value())):
            self.settings.set(f"export/{key}", value)

    # -- option helpers ----------------------------------------------------------------------------
    def fmt(self) -> str:
        return self.format.currentData()

    def out_dir(self) -> Path:
        return Path(self.out_edit.text().strip()).expanduser()

    def split_spec(self) -> dict[str, float] | None:
        if not self.split_box.isChecked():
            return None
        train, val = self.train_pct.value(), self.val_pct.value()
        parts = {"train": train, "val": val, "test": 100 - train - val}
        # empty splits are left out (train always stays); a negative test stays so the export reports it
        return {k: v / 100 for k, v in parts.items() if v != 0 or k == "train"}

    def options(self) -> dict:
        return dict(project_folder=self.project.folder, fmt=self.fmt(), out_dir=self.out_dir(),
                    split=self.split_spec(), seed=self.seed.value(), only=self.only.currentData(),
                    allow_missing=self.allow_missing.isChecked(), overwrite=self.overwrite.isChecked())

    def _format_changed(self) -> None:
        self.format_info.setText(FORMAT_INFO.get(self.fmt(), ""))
        if not self._out_edited or not self.out_edit.text().strip():
            self.out_edit.setText(str(default_out_dir(self.project.folder, self.fmt())))

    def _out_typed(self, _text: str) -> None:
        self._out_edited = True

    def _browse(self) -> None:
        start = self.out_edit.text() or str(self.project.folder.parent)
        folder = QFileDialog.getExistingDirectory(self, "Export into folder", str(Path(start).parent))
        if folder:
            self._out_edited = True
            self.out_edit.setText(folder)

    def _update_test(self) -> None:
        rest = 100 - self.train_pct.value() - self.val_pct.value()
        self.test_label.setText(f"test {rest} %" if rest >= 0 else
                                "<span style='color:#d04040'>train + val exceed 100 %</span>")

    def _update_counts(self) -> None:
        statuses = {"edited": (Status.EDITED, Status.REVIEWED), "reviewed": (Status.REVIEWED,), "all": None}
        for i, (value, text) in enumerate(ONLY_CHOICES):
            wanted = statuses[value]
            n = len(self.project.keys()) if wanted is None else len(self.project.keys_with_status(*wanted))
            self.only.setItemText(i, f"{text} ({n})")

    def _update_hint(self) -> None:
        if self.running:
            return
        out = self.out_dir() if self.out_edit.text().strip() else None
        hint = ""
        if out is not None and out.is_dir() and any(out.iterdir()):
            if not (out / MANIFEST).is_file():
                hint = "That folder is not empty and holds no SegStudio export: choose another folder."
            elif not self.overwrite.isChecked():
                hint = "That folder holds a previous export: tick “Replace …” to overwrite it."
        self.status.setText(hint)

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start the export on the worker thread; False if one is already running or nothing to do."""
        if self.running:
            return False
        if not self.out_edit.text().strip():
            self._show_failure("Choose an output folder.", [])
            return False
        self._remember()
        if self.before_export is not None:
            try:
                self.before_export()
            except Exception as exc:  # noqa: BLE001 - report, never crash
                self._show_failure(f"Could not save the open image first: {exc}", [])
                return False
        self.report, self.error, self.outcome = None, None, None
        self.cancel_event = threading.Event()
        self.running = True
        self._set_running(True)
        self.progress.setValue(0)
        self.status.setText("Checking…")
        self.result.clear()
        opts = self.options()
        cancel = self.cancel_event
        self.workers.submit(self._work, opts, cancel, on_done=self._done, on_error=self._failed)
        return True

    def _work(self, opts: dict, cancel: threading.Event) -> ExportReport:   # worker thread
        def progress(done: int, total: int, message: str) -> None:
            hook = self.worker_progress_hook
            if hook is not None:
                hook(done, total, message)
            self._progressed.emit(done, total, message)

        return export_project(**opts, progress=progress, cancel=cancel)

    def status_text(self, text: str) -> str:
        return _escape(text)

    def _done(self, report: ExportReport) -> None:
        self.running = False
        self.report, self.outcome = report, "done"
        self._set_running(False)
        self.progress.setMaximum(100)
        self.progress.setValue(100)
        self.status.setText(f"<b>Done.</b> Exported {report.images} image(s) to {_escape(str(report.out_dir))}")
        lines = [report.summary()[0].upper() + report.summary()[1:] + "."]
        for name, keys in report.splits.items():
            lines.append(f"  {name}: {len(keys)} image(s)")
        if report.skipped:
            lines.append(f"Skipped {len(report.skipped)} image(s) without a mask: " + ", ".join(report.skipped[:20])
                         + (" …" if len(report.skipped) > 20 else ""))
        if report.warnings:
            lines.append("")
            lines.append(f"{len(report.warnings)} warning(s):")
            lines += [f"  • {w}" for w in report.warnings]
        self.result.setPlainText("\n".join(lines))
        self.open_btn.setEnabled(True)

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        self._set_running(False)
        self.error = exc
        self.progress.setMaximum(100)
        self.progress.setValue(0)
        if isinstance(exc, ExportCancelled):
            self.outcome = "cancelled"
            self.status.setText("Export cancelled; nothing was written.")
            self.result.setPlainText("Export cancelled; nothing was written.")
            return
        if isinstance(exc, ExportError):
            problems = exc.problems or [str(exc)]
            self._show_failure(f"Cannot export: {len(problems)} problem(s) found, nothing was written.", problems)
        else:
            self._show_failure(f"Export failed, nothing was written: {type(exc).__name__}: {exc}", [])
        self.outcome = "failed"

    def _show_failure(self, headline: str, problems: list[str]) -> None:
        self.status.setText(f"<span style='color:#d04040'><b>{_escape(headline)}</b></span>")
        self.result.setPlainText("\n".join([headline, *(f"  • {p}" for p in problems)]))

    def _set_running(self, on: bool) -> None:
        for w in (self.format, self.out_edit, self.only, self.allow_missing, self.overwrite, self.split_box,
                  self.export_btn):
            w.setEnabled(not on)
        self.open_btn.setEnabled(False)
        self.close_btn.setText("Cancel" if on else "Close")

    def _open_folder(self) -> None:
        if self.report is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.report.out_dir)))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
