"""Model ▸ Accept all predictions…: stored predictions become masks (``core.accept``), on a worker.

Scope: all images, the images selected in the file list, or the images of one status. The
plan (how many will be accepted, how many are skipped because they hold the user's work or
have no prediction) is computed on a worker whenever the scope changes. Optional dense CRF
(from the probabilities ``segstudio predict --save-probs`` stored; images without them are
listed as failed with that explanation). Progress and Cancel while it runs; never over an
image the user edited or reviewed (``core.accept`` re-checks each image just before writing).

Undo: the image open in the editor gets the accepted mask as ONE undo step in its own history
(Ctrl+Z in the editor takes it back); every other image is recoverable as a whole with
"Undo this accept" (``core.accept.revert_accept``: removes the masks still as accepted,
restores their statuses; predictions are never deleted). The file list shows new statuses.
"""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QHBoxLayout, QLabel, QMessageBox,
                               QPlainTextEdit, QProgressBar, QPushButton, QRadioButton, QVBoxLayout, QWidget)

from segstudio.core import accept
from segstudio.core.project import Project, Status
from segstudio.gui.workers import Workers

SCOPES = ("all", "selected", "status")


class AcceptDialog(QDialog):
    _progressed = Signal(int, int, str)    # emitted on the worker thread, delivered queued
    accepted_keys = Signal(list)           # keys whose status became edited (for the file list)

    def __init__(self, project: Project, parent: QWidget | None = None,
                 selected: Callable[[], list[str]] | None = None, document=None) -> None:
        super().__init__(parent)
        self.setObjectName("acceptDialog")
        self.setWindowTitle(f"Accept all predictions — {project.folder.name}")
        self.project, self.document = project, document
        self.selected = selected or (lambda: [])
        self.workers = Workers(self, threads=1)
        self.plan: accept.AcceptPlan | None = None
        self.result_: accept.AcceptResult | None = None
        self.cancel_event: threading.Event | None = None
        self.running = False
        self._plan_gen = 0
        self._stash: dict[str, np.ndarray] = {}
        self._build()
        self._progressed.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self.replan()

    # -- layout --------------------------------------------------------------------------------
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Write each stored prediction as the image's mask. Images you edited or reviewed "
                             "are never touched."))
        self.scope_group = QButtonGroup(self)
        self.scope_all = QRadioButton("All images")
        n_sel = len(self.selected())
        self.scope_selected = QRadioButton(f"Selected images ({n_sel})")
        self.scope_selected.setEnabled(n_sel > 0)
        self.scope_status = QRadioButton("Images with status")
        self.status_box = QComboBox()
        for st in (Status.PREDICTED, Status.UNLABELLED):
            self.status_box.addItem(st.value, st)
        for i, b in enumerate((self.scope_all, self.scope_selected, self.scope_status)):
            self.scope_group.addButton(b, i)
        self.scope_all.setChecked(True)
        lay.addWidget(self.scope_all)
        lay.addWidget(self.scope_selected)
        row = QHBoxLayout()
        row.addWidget(self.scope_status)
        row.addWidget(self.status_box, 1)
        lay.addLayout(row)
        self.crf = QCheckBox("Refine with the dense CRF (needs probabilities stored by "
                             "`segstudio predict --save-probs`)")
        lay.addWidget(self.crf)
        self.plan_label = QLabel("…")
        self.plan_label.setObjectName("acceptPlan")
        self.plan_label.setWordWrap(True)
        lay.addWidget(self.plan_label)
        self.bar = QProgressBar()
        self.bar.setVisible(False)
        lay.addWidget(self.bar)
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.setVisible(False)
        self.report.setMaximumBlockCount(2000)
        lay.addWidget(self.report, 1)
        buttons = QHBoxLayout()
        self.undo_button = QPushButton("Undo this accept")
        self.undo_button.setVisible(False)
        self.accept_button = QPushButton("Accept")
        self.accept_button.setDefault(True)
        self.cancel_button = QPushButton("Close")
        buttons.addWidget(self.undo_button)
        buttons.addStretch(1)
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.cancel_button)
        lay.addLayout(buttons)
        self.scope_group.idToggled.connect(lambda _i, on: on and self.replan())
        self.status_box.currentIndexChanged.connect(lambda _i: self.scope_status.isChecked() and self.replan())
        self.accept_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._cancel_or_close)
        self.undo_button.clicked.connect(self.undo)
        self.resize(560, 300)

    # -- plan ------------------------------------------------------------------------------------
    def scope(self) -> str:
        return SCOPES[max(0, self.scope_group.checkedId())]

    def _scope_args(self) -> tuple[list[str] | None, tuple[Status, ...] | None]:
        scope = self.scope()
        if scope == "selected":
            return self.selected(), None
        if scope == "status":
            return None, (self.status_box.currentData(),)
        return None, None

    def replan(self) -> None:
        self._plan_gen += 1
        gen = self._plan_gen
        keys, only = self._scope_args()
        self.accept_button.setEnabled(False)
        self.plan_label.setText("Counting…")
        self.workers.submit(accept.plan_accept, self.project, keys, only,
                            on_done=lambda plan: self._planned(gen, plan),
                            on_error=lambda exc: self._planned(gen, None, exc))

    def _planned(self, gen: int, plan: accept.AcceptPlan | None, exc: BaseException | None = None) -> None:
        if gen != self._plan_gen:
            return
        self.plan = plan
        if plan is None:
            self.plan_label.setText(f"Cannot read the project: {exc}")
            return
        user = sum(1 for _, why in plan.skipped if "user" in why)
        nopred = sum(1 for _, why in plan.skipped if why == "no prediction")
        other = len(plan.skipped) - user - nopred
        text = f"{len(plan.keys)} images will be accepted."
        parts = [f"{user} with your masks (kept)" if user else "", f"{nopred} without a prediction" if nopred else "",
                 f"{other} not selected" if other else ""]
        parts = [p for p in parts if p]
        if parts:
            text += " Skipped: " + ", ".join(parts) + "."
        self.plan_label.setText(text)
        self.accept_button.setEnabled(bool(plan.keys) and not self.running)

    # -- run -------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.running or not self.plan or not self.plan.keys:
            return
        doc = self.document
        if doc is not None:
            doc.save(wait=True)       # unsaved strokes count as the user's work
        open_key = doc.key if doc is not None else None
        self._stash = {}

        def write(key: str, mask: np.ndarray) -> bool:   # worker thread: the open image goes to the editor
            if key == open_key:
                self._stash[key] = mask
                return True
            return False

        crf = None
        if self.crf.isChecked():
            from segstudio.core.crf_params import CRFParams
            crf = CRFParams.shipped()
        self.cancel_event = threading.Event()
        self.running = True
        self.accept_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self.bar.setRange(0, len(self.plan.keys))
        self.bar.setValue(0)
        self.bar.setVisible(True)
        ev = self.cancel_event
        self.workers.submit(accept.accept_predictions, self.project, list(self.plan.keys), crf,
                            lambda d, t, k: self._progressed.emit(d, t, k), ev.is_set, write,
                            on_done=self._done, on_error=self._failed)

    def _on_progress(self, done: int, total: int, key: str) -> None:
        self.bar.setMaximum(max(1, total))
        self.bar.setValue(done)
        if key:
            self.bar.setFormat(f"{done}/{total}  {key}")

    def _done(self, res: accept.AcceptResult) -> None:
        self.running = False
        self.result_ = res
        doc = self.document
        for key, mask in self._stash.items():
            if doc is not None and doc.key == key and doc.mask is not None and doc.mask.shape == mask.shape:
                doc.apply_mask(mask, "Accept prediction")     # one undo step in the open image's history
                doc.saver.mark_dirty(key)                      # written even if the editor already showed it
                doc.save(wait=True)
        self._stash = {}
        self.accepted_keys.emit(list(res.accepted))
        self.cancel_button.setText("Close")
        self.undo_button.setVisible(bool(res.accepted) and res.record is not None)
        self.bar.setFormat("%v/%m")
        self.report.setVisible(True)
        self.report.setPlainText(res.summary() + "".join(f"\n  skipped {k}: {why}" for k, why in res.skipped[:200]))
        self.replan()

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        self.cancel_button.setText("Close")
        self.report.setVisible(True)
        self.report.setPlainText(f"Accept failed: {exc}")
        self.replan()

    def undo(self) -> None:
        res = self.result_
        if res is None or res.record is None or self.running:
            return
        self.undo_button.setEnabled(False)

        def undone(r: accept.AcceptResult) -> None:
            self.undo_button.setVisible(False)
            self.undo_button.setEnabled(True)
            self.result_ = None
            self.accepted_keys.emit([])   # statuses changed back: listeners refresh
            self.report.setPlainText(f"Undone: {len(r.accepted)} masks removed, {len(r.skipped)} kept"
                                     + "".join(f"\n  kept {k}: {why}" for k, why in r.skipped[:200]))
            self.replan()

        self.workers.submit(accept.revert_accept, self.project, res.record, on_done=undone,
                            on_error=lambda e: self.report.setPlainText(f"Undo failed: {e}"))

    def _cancel_or_close(self) -> None:
        if self.running and self.cancel_event is not None:
            self.cancel_event.set()
            self.cancel_button.setText("Stopping…")
        else:
            self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.running:
            if self.cancel_event is not None:
                self.cancel_event.set()
            self.workers.wait()
            QMessageBox.information(self, "Accept", "Stopped; the images accepted so far keep their masks.")
        super().closeEvent(event)


def open_accept_dialog(win) -> AcceptDialog | None:
    """Show the dialog for the window's project; the file list's statuses follow what it does."""
    if getattr(win, "project", None) is None:
        QMessageBox.information(win, "Accept all predictions", "Open an image folder first.")
        return None
    panel = getattr(win, "file_panel", None)
    selected = panel.selected_keys if panel is not None and hasattr(panel, "selected_keys") else None
    dlg = AcceptDialog(win.project, win, selected=selected, document=win.document)
    model = getattr(win, "file_model", None)
    if model is not None:
        dlg.accepted_keys.connect(lambda _keys: model.refresh_statuses())
    dlg.setModal(True)
    dlg.finished.connect(dlg.deleteLater)
    dlg.show()
    return dlg
