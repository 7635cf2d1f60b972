"""Folder-level evaluation table: per-image mIoU of every image with a mask (or prediction) and
ground truth, computed in a worker, sortable (worst first by default); double-click opens.

Each image is scored exactly as ``segstudio eval`` scores a pair of files
(:class:`~segstudio.core.metrics.ConfusionMatrix` with the label set's ignore index, masks
read with :func:`segstudio.core.masks.read_mask`): the user's mask when one is saved (for the
open image: its current, possibly unsaved, mask), else the saved prediction. The total line
merges all confusion matrices, like ``eval``'s summary. A table on show is re-evaluated when
stored predictions change in bulk (``window.predictionsWritten``, emitted after a batch run).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import (QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel,
                            Qt, Signal)
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton,
                               QTableView, QVBoxLayout, QWidget)

from segstudio.core import masks
from segstudio.core.errors import SegStudioError
from segstudio.core.labels import LabelSet
from segstudio.core.metrics import ConfusionMatrix
from segstudio.core.project import Project
from segstudio.gui.workers import Workers

COLUMNS = ("Image", "Source", "mIoU", "Pixel acc.")
SortRole = Qt.ItemDataRole.UserRole + 1


@dataclass
class ImageScore:
    key: str
    source: str          # "mask" or "prediction"
    miou: float
    pixel_accuracy: float
    valid_pixels: int


@dataclass
class FolderScores:
    rows: list[ImageScore] = field(default_factory=list)
    total: ConfusionMatrix | None = None
    problems: list[str] = field(default_factory=list)
    cancelled: bool = False


def evaluate_project(project: Project, keys: list[str], labels: LabelSet,
                     overrides: dict[str, tuple[str, np.ndarray]] | None = None,
                     cancel: threading.Event | None = None, progress=None) -> FolderScores:
    """Score every key that has ground truth and a mask or prediction (worker thread)."""
    overrides = overrides or {}
    out = FolderScores(total=ConfusionMatrix(labels.num_classes, labels.ignore_index))
    for i, key in enumerate(keys):
        if cancel is not None and cancel.is_set():
            out.cancelled = True
            break
        if progress is not None:
            progress(i, len(keys))
        gt_path = project.ground_truth_path(key)
        if gt_path is None:
            continue
        try:
            if key in overrides:
                source, pred = overrides[key]
            elif project.has_mask(key):
                source, pred = "mask", masks.read_mask(project.mask_path(key))
            elif project.prediction_path(key).exists():
                source, pred = "prediction", masks.read_mask(project.prediction_path(key))
            else:
                continue
            gt = masks.read_mask(gt_path)
        except (SegStudioError, OSError) as exc:
            out.problems.append(str(exc))
            continue
        if gt.shape != pred.shape:
            out.problems.append(f"{key}: {source} is {pred.shape[1]}×{pred.shape[0]} but the ground truth "
                                f"{gt_path.name} is {gt.shape[1]}×{gt.shape[0]}")
            continue
        cm = ConfusionMatrix(labels.num_classes, labels.ignore_index).update(pred, gt)
        assert out.total is not None
        out.total.merge(cm)
        s = cm.scores()
        out.rows.append(ImageScore(key, source, s.miou, s.pixel_accuracy, s.valid_pixels))
    return out


class FolderTableModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[ImageScore] = []

    def set_rows(self, rows: list[ImageScore]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, col = self.rows[index.row()], index.column()
        values = (r.key, r.source, r.miou, r.pixel_accuracy)
        v = values[col]
        if role == Qt.ItemDataRole.DisplayRole:
            if col in (2, 3):
                return "n/a" if math.isnan(v) else f"{100 * v:.1f} %"
            return v
        if role == SortRole:
            if col in (2, 3):
                return math.inf if math.isnan(v) else float(v)    # images without a score sort last
            return v
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{r.key}: {r.valid_pixels:,} scored pixels ({r.source})"
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return r.key
        return None


class _Relay(QObject):
    progress = Signal(int, int)


class FolderMetricsWidget(QWidget):
    evaluated = Signal()

    def __init__(self, window, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.win = window
        self.workers = Workers(self, threads=1)
        self.model = FolderTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SortRole)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setVisible(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)   # keys stay readable
        header.setStretchLastSection(True)
        self.view.sortByColumn(2, Qt.SortOrder.AscendingOrder)
        self.run_button = QPushButton("Evaluate folder")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.summary = QLabel("Per-image scores of all images with ground truth (double-click opens one)")
        self.summary.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.run_button)
        top.addWidget(self.stop_button)
        top.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)
        self._cancel = threading.Event()
        self._relay = _Relay(self)
        self._relay.progress.connect(self._progress, Qt.ConnectionType.QueuedConnection)
        self.result: FolderScores | None = None
        self.running = False
        self._again = False
        written = getattr(window, "predictionsWritten", None)
        if written is not None:
            written.connect(self.refresh)
        self.run_button.clicked.connect(self.evaluate)
        self.stop_button.clicked.connect(lambda: self._cancel.set())
        self.view.doubleClicked.connect(self._open)

    def evaluate(self) -> None:
        project, doc = self.win.project, self.win.document
        if project is None or self.running:
            return
        if project.ground_truth is None:
            self.summary.setText("Attach a ground-truth folder first")
            return
        overrides = {}
        if doc.key is not None and doc.mask is not None and (project.has_mask(doc.key) or doc.dirty):
            overrides[doc.key] = ("mask", doc.mask.copy())
        self._cancel = threading.Event()
        self.running = True
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.progress.setVisible(True)
        self.progress.setRange(0, max(1, len(project.keys())))
        self.workers.submit(evaluate_project, project, project.keys(), project.labels, overrides, self._cancel,
                            self._relay.progress.emit, on_done=self._done, on_error=self._failed)

    def refresh(self) -> None:
        """Re-evaluate a table already shown (after a batch); one running is re-run when it ends."""
        if self.running:
            self._again = True
        elif self.result is not None:
            self.evaluate()

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _finish(self) -> None:
        self.running = False
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.progress.setVisible(False)

    def _done(self, result: FolderScores) -> None:
        self._finish()
        self.result = result
        self.model.set_rows(result.rows)
        self.view.sortByColumn(self.view.horizontalHeader().sortIndicatorSection(),
                               self.view.horizontalHeader().sortIndicatorOrder())
        text = f"{len(result.rows)} images scored"
        if result.rows and result.total is not None:
            s = result.total.scores()
            text += f": mIoU {100 * s.miou:.2f} %, pixel accuracy {100 * s.pixel_accuracy:.2f} % (all pixels merged)"
        preds = sum(r.source == "prediction" for r in result.rows)
        if preds:
            text += f"; {preds} of them by their prediction only (not exported until accepted)"
        if result.cancelled:
            text += " — stopped"
        if result.problems:
            text += f"; {len(result.problems)} problem(s): " + "; ".join(result.problems[:3])
        self.summary.setText(text)
        self.evaluated.emit()
        if self._again:
            self._again = False
            self.evaluate()

    def _failed(self, exc: BaseException) -> None:
        self._finish()
        self.summary.setText(f"Evaluation failed: {exc}")
        self.win.status.error(f"Folder evaluation failed: {exc}")

    def _open(self, index: QModelIndex) -> None:
        key = self.proxy.data(index, Qt.ItemDataRole.UserRole)
        if key:
            self.win.open_image(key)

    def clear(self) -> None:
        self.model.set_rows([])
        self.result = None
