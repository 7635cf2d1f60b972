"""File > Import labels…: bring labelme, COCO, VOC, Cityscapes, CVAT, id/colour PNG or YOLO-seg labels
into the open project.

The dialog gathers the options of :func:`segstudio.core.importers.plan_import` and runs it on a
worker thread (progress through a queued signal, Cancel sets its ``threading.Event``). When the
source names classes the project lacks, the dialog lists them and asks, per name, whether to add
it as a new class, leave its pixels unlabelled, or merge it into an existing class; then
:func:`~segstudio.core.importers.run_import` writes the masks on the worker. Problems found by the
checks are listed in the dialog, nothing is written then. ``before_import`` (the main window
passes "save the open image") runs first; ``after_import(report)`` (the window reopens the folder,
so labels, statuses and the open mask are read again) runs when masks were written.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPlainTextEdit,
                               QProgressBar, QPushButton, QVBoxLayout, QWidget)

from segstudio.core.errors import SegStudioError
from segstudio.core.importers import (ImportCancelled, ImportFailed, ImportPlan, ImportReport, plan_import,
                                      run_import)
from segstudio.core.labels import resolve
from segstudio.core.project import Project
from segstudio.gui.dialogs.job_dialog import JobDialogMixin, format_chooser
from segstudio.gui.workers import Workers

FORMAT_INFO = {
    "labelme": "labelme JSON files (a folder of *.json, or one file): polygons, rectangles, circles, masks",
    "coco": "COCO annotation JSON (polygons and RLE); overlaps: crowd first, then largest to smallest",
    "voc": "PASCAL VOC SegmentationClass palette PNGs (255 = void), e.g. VOCdevkit/VOC2012",
    "cityscapes": "Cityscapes gtFine *_labelTrainIds.png / *_labelIds.png (searched in sub-folders)",
    "cvat": "CVAT “Segmentation mask 1.1” export: a folder or the .zip, colours through labelmap.txt",
    "ids": "Plain id PNGs: value = class id of the source label set",
    "rgb": "Colour PNGs: colours of the source label set's palette (unknown colours are an error)",
    "yolo-seg": "Ultralytics YOLO segmentation: data.yaml + labels/<split>/*.txt polygons",
}
FILE_FORMATS = {"labelme": "labelme JSON (*.json)", "coco": "COCO JSON (*.json)", "cvat": "CVAT zip (*.zip)"}
EXISTING = (("error", "Stop if an image already has a mask of mine"),
            ("skip", "Keep my masks, import the other images"),
            ("overwrite", "Replace my masks with the imported ones"))
ADD, VOID = "add", "void"


class ImportDialog(JobDialogMixin, QDialog):
    _progressed = Signal(int, int, str)   # emitted on the worker thread, delivered queued

    def __init__(self, project: Project, parent: QWidget | None = None, settings=None,
                 before_import: Callable[[], None] | None = None,
                 after_import: Callable[[ImportReport], None] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("importDialog")
        self.setWindowTitle(f"Import labels — {project.folder.name}")
        self.project = project
        self.settings = settings
        self.before_import, self.after_import = before_import, after_import
        self.workers = Workers(self, threads=1)
        self.cancel_event: threading.Event | None = None
        self.plan: ImportPlan | None = None
        self.report: ImportReport | None = None
        self.error: BaseException | None = None
        self.outcome: str | None = None        # None while idle/running, then asking|done|failed|cancelled
        self.running = False
        self.choices: dict[str, QComboBox] = {}
        self._build()
        self._progressed.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self._restore()

    # -- layout --------------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        self.format, self.format_info, fbox = format_chooser(FORMAT_INFO, "importFormat")
        form.addRow("Format", fbox)
        self.source = QLineEdit()
        self.source.setObjectName("importSource")
        form.addRow("Labels from", self._with_browse(self.source, self._browse_source))
        self.labels_edit = QLineEdit()
        self.labels_edit.setPlaceholderText("automatic (a labels.json beside the source, else the format's set)")
        form.addRow("Source label set", self._with_browse(self.labels_edit, self._browse_labels))
        self.map_edit = QLineEdit()
        self.map_edit.setPlaceholderText('optional JSON {"source name": "project class" or null}')
        form.addRow("Class map", self._with_browse(self.map_edit, self._browse_map))
        self.existing = QComboBox()
        for value, text in EXISTING:
            self.existing.addItem(text, value)
        form.addRow("My masks", self.existing)
        self.skip_missing = QCheckBox("Leave out label files whose image is not in this folder")
        form.addRow("", self.skip_missing)

        self.ask_box = QGroupBox("Classes this project does not have")
        self.ask_box.setObjectName("importUnknown")
        self.ask_layout = QFormLayout(self.ask_box)
        self.ask_box.setVisible(False)

        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.status = QLabel("")
        self.status.setObjectName("importStatus")
        self.status.setWordWrap(True)
        self.result = QPlainTextEdit()
        self.result.setObjectName("importResult")
        self.result.setReadOnly(True)
        self.result.setPlaceholderText("The import report appears here.")
        self.result.setMinimumHeight(110)
        self.buttons = QDialogButtonBox()
        self.import_btn = self.buttons.addButton("Check and import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_btn.setDefault(True)
        self.close_btn = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_btn.setAutoDefault(False)
        self.import_btn.clicked.connect(self.start)
        self.close_btn.clicked.connect(self._close_or_cancel)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.ask_box)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.result, 1)
        layout.addWidget(self.buttons)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.resize(640, 560)
        self._format_changed()

    def _with_browse(self, edit: QLineEdit, slot) -> QHBoxLayout:
        row = QHBoxLayout()
        button = QPushButton("Browse…")
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        row.addWidget(edit, 1)
        row.addWidget(button)
        return row

    def _restore(self) -> None:
        if self.settings is None:
            return
        i = self.format.findData(self.settings.value("import/format", "labelme", str))
        if i >= 0:
            self.format.setCurrentIndex(i)
        self.source.setText(self.settings.value("import/source", "", str))

    def _remember(self) -> None:
        if self.settings is not None:
            self.settings.set("import/format", self.fmt())
            self.settings.set("import/source", self.source.text().strip())

    def fmt(self) -> str:
        return self.format.currentData()

    def _format_changed(self) -> None:
        self.format_info.setText(FORMAT_INFO.get(self.fmt(), ""))

    def _browse_source(self) -> None:
        start = self.source.text() or str(self.project.folder.parent)
        if self.fmt() in FILE_FORMATS:
            path, _ = QFileDialog.getOpenFileName(self, "Import labels from", start,
                                                  f"{FILE_FORMATS[self.fmt()]};;All files (*)")
            if path or self.fmt() != "labelme":
                if path:
                    self.source.setText(path)
                return
        folder = QFileDialog.getExistingDirectory(self, "Import labels from folder", start)
        if folder:
            self.source.setText(folder)

    def _browse_labels(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Source label set", "", "labels.json (*.json)")
        if path:
            self.labels_edit.setText(path)

    def _browse_map(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Class map", "", "JSON (*.json)")
        if path:
            self.map_edit.setText(path)

    # -- running ---------------------------------------------------------------------------------
    def options(self) -> dict:
        labels = self.labels_edit.text().strip()
        map_file = self.map_edit.text().strip()
        return dict(fmt=self.fmt(), source=Path(self.source.text().strip()).expanduser(),
                    labels=resolve(labels) if labels else None, map_file=Path(map_file) if map_file else None,
                    existing=self.existing.currentData(), skip_missing=self.skip_missing.isChecked())

    def start(self) -> bool:
        """Check (and, when no class needs a decision, import) on the worker; while asking: import."""
        if self.running:
            return False
        if self.outcome == "asking" and self.plan is not None:
            return self._run(self.plan, self.decisions())
        if not self.source.text().strip():
            self._show_failure("Choose where to import the labels from.", [])
            return False
        try:
            opts = self.options()
        except SegStudioError as exc:
            self._show_failure(str(exc), [])
            return False
        self._remember()
        if self.before_import is not None:
            try:
                self.before_import()
            except Exception as exc:  # noqa: BLE001 - report, never crash
                self._show_failure(f"Could not save the open image first: {exc}", [])
                return False
        self._begin("Checking…")
        cancel = self.cancel_event
        self.workers.submit(self._plan_work, opts, cancel, on_done=self._planned, on_error=self._failed)
        return True

    def _begin(self, text: str) -> None:
        self.report, self.error, self.outcome = None, None, None
        self.cancel_event = threading.Event()
        self.running = True
        self._set_running(True)
        self.progress.setValue(0)
        self.status.setText(text)
        self.result.clear()

    def _progress_fn(self):
        return lambda done, total, message: self._progressed.emit(done, total, message)

    def _plan_work(self, opts: dict, cancel: threading.Event) -> ImportPlan:   # worker thread
        return plan_import(self.project, **opts, progress=self._progress_fn(), cancel=cancel)

    def _planned(self, plan: ImportPlan) -> None:
        self.running = False
        self._set_running(False)
        self.plan = plan
        if plan.unknown:
            self._ask(plan)
            return
        self._run(plan, {})

    def _ask(self, plan: ImportPlan) -> None:
        while self.ask_layout.rowCount():
            self.ask_layout.removeRow(0)
        self.choices = {}
        classes = plan.labels.names
        px = {c.name: int(plan.source_px[i]) for i, c in enumerate(plan.scan.classes) if i < plan.source_px.size}
        for name in plan.unknown:
            combo = QComboBox()
            combo.addItem("Add as a new class", ADD)
            combo.addItem("Leave unlabelled (void)", VOID)
            for cname in classes:
                combo.addItem(f"Merge into “{cname}”", cname)
            self.choices[name] = combo
            self.ask_layout.addRow(f"{name} ({px.get(name, 0)} px)", combo)
        self.ask_box.setVisible(True)
        self.outcome = "asking"
        self.import_btn.setText("Import")
        self.status.setText(f"{len(plan.items)} mask(s) checked. {len(plan.unknown)} class name(s) are not in "
                            "this project: choose what each becomes, then Import.")

    def decisions(self) -> dict[str, str]:
        return {name: combo.currentData() for name, combo in self.choices.items()}

    def _run(self, plan: ImportPlan, decisions: dict[str, str]) -> bool:
        self._begin("Importing…")
        self.ask_box.setVisible(False)
        self.workers.submit(self._run_work, plan, decisions, self.cancel_event, on_done=self._done,
                            on_error=self._failed)
        return True

    def _run_work(self, plan: ImportPlan, decisions: dict[str, str], cancel: threading.Event) -> ImportReport:
        return run_import(plan, decisions, progress=self._progress_fn(), cancel=cancel)

    def _done(self, report: ImportReport) -> None:
        self.running = False
        self._set_running(False)
        self.report = report
        self.outcome = "cancelled" if report.cancelled else "done"
        self.import_btn.setText("Check and import")
        self.progress.setMaximum(100)
        self.progress.setValue(100)
        self.status.setText(f"Imported {len(report.written)} mask(s)." + (" Cancelled before the end."
                                                                         if report.cancelled else ""))
        self.result.setPlainText("\n".join(report.lines()))
        if report.written and self.after_import is not None:
            self.after_import(report)

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        self._set_running(False)
        self.error = exc
        self.import_btn.setText("Check and import")
        self.progress.setValue(0)
        if isinstance(exc, ImportCancelled):
            self.outcome = "cancelled"
            self.status.setText("Import cancelled; nothing was written.")
            return
        if isinstance(exc, ImportFailed):
            problems = exc.problems or [str(exc)]
            self._show_failure(f"Cannot import: {len(problems)} problem(s) found, nothing was written.", problems)
        elif isinstance(exc, SegStudioError):
            self._show_failure(str(exc), [])
        else:
            self._show_failure(f"Import failed: {type(exc).__name__}: {exc}", [])
        self.outcome = "failed"

    def _show_failure(self, headline: str, problems: list[str]) -> None:
        self.status.setText(headline)
        self.status.setStyleSheet("color: #d04040;")
        self.result.setPlainText("\n".join([headline, *(f"  • {p}" for p in problems)]))

    def _set_running(self, on: bool) -> None:
        self.status.setStyleSheet("")
        for w in (self.format, self.source, self.labels_edit, self.map_edit, self.existing, self.skip_missing,
                  self.import_btn, self.ask_box):
            w.setEnabled(not on)
        self.close_btn.setText("Cancel" if on else "Close")



def open_import_dialog(win):
    """Show the import dialog for the window's project; the window reopens the folder afterwards."""
    if getattr(win, "project", None) is None:
        QMessageBox.information(win, "Import labels", "Open an image folder first.")
        return None
    folder = win.project.folder

    def reopen(_report: ImportReport) -> None:
        win.open_folder(folder)

    dlg = ImportDialog(win.project, win, settings=getattr(win, "settings", None),
                       before_import=lambda: win.document.save(wait=True), after_import=reopen)
    dlg.setModal(True)
    dlg.finished.connect(dlg.deleteLater)
    dlg.show()
    return dlg
