"""Metrics panel: score the open image against ground truth, live while the user paints.

Attach a ground-truth folder (``Project.set_ground_truth``; GT matched by key/stem through
``Project.ground_truth_path``). The evaluated array is the user's mask, the model's
prediction, or "auto" (the mask once it has any labelled pixel, else the prediction; with neither,
nothing is scored and the panel says so instead of showing 0 %). The
panel shows mIoU and pixel accuracy, per-class IoU as a bar chart and the confusion matrix
as a heat map (both axes labelled; "Enlarge…" or a double-click opens it in its own window with
counts and row rates), with the same numbers as ``segstudio eval`` on the same files. Texts
wrap, so the dock keeps its width when the error legend appears.

Live updates are incremental: :class:`~segstudio.core.live_metrics.LiveConfusion` keeps the
full confusion table and a copy of the evaluated mask; each ``maskEdited(bbox)`` subtracts the
old pixels of the box and adds the new ones (O(box), exact). The error overlay (false
positives red, false negatives blue, for one class or all) is refreshed for the box only; its
counts come from the confusion table. A "Folder" tab scores every image (see folder_metrics).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QMessageBox,
                               QPushButton, QScrollArea, QTabWidget, QVBoxLayout, QWidget)

from segstudio.core import masks
from segstudio.core.error_map import error_codes
from segstudio.core.errors import SegStudioError
from segstudio.core.live_metrics import LiveConfusion
from segstudio.core.metrics import Scores
from segstudio.gui.panels.folder_metrics import FolderMetricsWidget
from segstudio.gui.prediction import controller_for
from segstudio.gui.prediction.layers import FN_COLOR, FP_COLOR, ErrorLayer
from segstudio.gui.widgets.bar_chart import BarChart
from segstudio.gui.widgets.heat_map import HeatMap
from segstudio.gui.workers import Workers

AREA = Qt.DockWidgetArea.LeftDockWidgetArea      # below the image list, where there is room
SOURCES = (("Auto (mask, else prediction)", "auto"), ("My mask", "mask"), ("Model prediction", "prediction"))


def _read_gt(path, key):
    return key, masks.read_mask(path)


def _rgb(c: tuple[int, int, int]) -> str:
    return "#%02x%02x%02x" % c


class MetricsPanel(QWidget):
    def __init__(self, window) -> None:
        super().__init__()
        self.win, self.doc = window, window.document
        self.ctl = controller_for(window)
        self.workers = Workers(self, threads=1)
        self.live = LiveConfusion(self.doc.labels.num_classes)
        self.gt: np.ndarray | None = None
        self.gt_key: str | None = None
        self.source_used: str | None = None
        self._gt_gen = 0
        self._disk_prediction: np.ndarray | None = None
        # widgets
        self.gt_label = QLabel("No ground truth attached")
        self.gt_label.setWordWrap(True)
        self.attach_button = QPushButton("Attach ground truth…")
        self.detach_button = QPushButton("Detach")
        self.source_box = QComboBox()
        for text, value in SOURCES:
            self.source_box.addItem(text, value)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.error_box = QComboBox()
        self.legend = QLabel("")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)      # never widens the dock (the canvas zoom would jump)
        self.bars = BarChart()
        self.heat = HeatMap()
        self.enlarge_button = QPushButton("Enlarge…")
        self.enlarge_button.setToolTip("The confusion matrix in its own window: class names, counts and rates")
        self.confusion_dialog = None
        confusion = QWidget()
        cl = QVBoxLayout(confusion)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.heat, 1)
        cl.addWidget(self.enlarge_button, 0, Qt.AlignmentFlag.AlignRight)
        self.folder = FolderMetricsWidget(window)
        bars_scroll = QScrollArea()
        bars_scroll.setWidgetResizable(True)
        bars_scroll.setWidget(self.bars)
        self.tabs = QTabWidget()
        self.tabs.addTab(bars_scroll, "Per class")
        self.tabs.addTab(confusion, "Confusion")
        self.tabs.addTab(self.folder, "Folder")
        gt_row = QHBoxLayout()
        gt_row.addWidget(self.attach_button)
        gt_row.addWidget(self.detach_button)
        form = QFormLayout()
        form.addRow("Evaluate", self.source_box)
        form.addRow("Error overlay", self.error_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.gt_label)
        layout.addLayout(gt_row)
        layout.addLayout(form)
        layout.addWidget(self.legend)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)
        self.error_layer = ErrorLayer()
        window.canvas.scene().addItem(self.error_layer)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(60)
        self._refresh_timer.timeout.connect(self.refresh_view)
        self._fill_error_classes()
        self.attach_button.clicked.connect(self.choose_ground_truth)
        self.enlarge_button.clicked.connect(self.show_confusion)
        self.heat.enlargeRequested.connect(self.show_confusion)
        self.detach_button.clicked.connect(lambda: self.attach_ground_truth(None))
        self.source_box.currentIndexChanged.connect(lambda _i: self.reset())
        self.error_box.currentIndexChanged.connect(lambda _i: self._rebuild_errors())
        self.doc.imageChanged.connect(self._image_changed)
        self.doc.maskEdited.connect(self._mask_edited)
        self.doc.maskReplaced.connect(self.reset)
        self.doc.labelsChanged.connect(self._labels_changed)
        self.ctl.predictionChanged.connect(self._prediction_changed)
        self._update_gt_label()

    # -- ground truth ---------------------------------------------------------------------------
    def choose_ground_truth(self) -> None:
        project = self.win.project
        if project is None:
            return
        start = str(project.ground_truth or project.folder)
        folder = QFileDialog.getExistingDirectory(self, "Ground-truth mask folder", start)
        if folder:
            self.attach_ground_truth(folder)

    def attach_ground_truth(self, folder) -> bool:
        project = self.win.project
        if project is None:
            return False
        try:
            project.set_ground_truth(folder)
        except SegStudioError as exc:
            self.win.status.error(str(exc))
            if self.isVisible():
                QMessageBox.warning(self, "Ground truth", str(exc))
            return False
        self.folder.clear()
        self._update_gt_label()
        self._load_gt(self.doc.key)
        return True

    def _update_gt_label(self) -> None:
        project = self.win.project
        gt = project.ground_truth if project is not None else None
        self.gt_label.setText(f"Ground truth: {gt}" if gt else "No ground truth attached")
        self.detach_button.setEnabled(gt is not None)

    def _image_changed(self, key: str) -> None:
        self._update_gt_label()
        self._load_gt(key or None)

    def _load_gt(self, key: str | None) -> None:
        self._gt_gen += 1
        gen = self._gt_gen
        self.gt, self.gt_key, self._disk_prediction = None, None, None
        self.live.reset(None, None)              # nothing stale while the new GT loads
        self.error_layer.clear()
        project = self.win.project
        path = project.ground_truth_path(key) if project is not None and key else None
        if path is None:
            self.reset()
            if key and project is not None and project.ground_truth is not None:
                self.summary.setText(f"No ground-truth mask for {key} in {project.ground_truth}")
            return

        def load():
            k, gt = _read_gt(path, key)
            pred = project.read_prediction(key) if project.prediction_path(key).exists() else None
            return k, gt, pred

        def done(result) -> None:
            k, gt, pred = result
            if gen != self._gt_gen or k != self.doc.key:
                return
            self.gt, self.gt_key, self._disk_prediction = gt, k, pred
            self.reset()

        def failed(exc: BaseException) -> None:
            if gen == self._gt_gen:
                self.summary.setText(f"Cannot read the ground truth of {key}: {exc}")
                self.win.status.error(f"Cannot read ground truth {path}: {exc}")

        self.workers.submit(load, on_done=done, on_error=failed)

    # -- what is evaluated ---------------------------------------------------------------------------
    def _prediction(self) -> np.ndarray | None:
        shown = self.ctl.display_labels(self.doc.key)
        return shown if shown is not None else self._disk_prediction

    def resolve_source(self) -> tuple[str | None, np.ndarray | None]:
        mode = self.source_box.currentData()
        doc, n = self.doc, self.live.n
        if doc.mask is None:
            return None, None
        if mode == "mask":
            return "mask", doc.mask
        if mode == "prediction":
            pred = self._prediction()
            return ("prediction", pred) if pred is not None else (None, None)
        labelled = doc.counts.size > 0 and int(doc.counts[: min(n, doc.counts.size)].sum()) > 0
        if labelled:
            return "mask", doc.mask
        pred = self._prediction()           # no labels and no prediction: nothing to score (not 0 %)
        return ("prediction", pred) if pred is not None else (None, None)

    def reset(self) -> None:
        """Full recompute for the current image, GT and source."""
        name, arr = self.resolve_source()
        self.source_used = None
        if self.gt is None or arr is None:
            self.live.reset(None, None)
            self.error_layer.clear()
            self.refresh_view()
            return
        try:
            self.live.reset(arr, self.gt)
        except ValueError as exc:
            self.live.reset(None, None)
            self.error_layer.clear()
            self.summary.setText(f"{self.doc.key}: {exc}")
            return
        self.source_used = name
        self._rebuild_errors()
        self.refresh_view()

    def _mask_edited(self, bbox) -> None:
        if self.gt is None or self.doc.mask is None:
            return
        if self.source_box.currentData() == "auto" and self.resolve_source()[0] != self.source_used:
            self.reset()
            return
        if self.source_used != "mask" or not self.live.ready:
            return
        if self.live.update(self.doc.mask, bbox):
            self._refresh_errors(bbox)
            self._refresh_timer.start()

    def _prediction_changed(self, key: str) -> None:
        if self.gt is None or (key and key != self.doc.key):
            return
        if self.source_box.currentData() != "mask":
            self.reset()

    def _labels_changed(self) -> None:
        self.live = LiveConfusion(self.doc.labels.num_classes)
        self._fill_error_classes()
        self._load_gt(self.doc.key)

    # -- error overlay ---------------------------------------------------------------------------------
    def _fill_error_classes(self) -> None:
        current = self.error_box.currentData() if self.error_box.count() else None
        self.error_box.blockSignals(True)
        self.error_box.clear()
        self.error_box.addItem("Off", None)
        self.error_box.addItem("All classes", "all")
        for c in self.doc.labels.classes:
            self.error_box.addItem(f"{c.id}: {c.name}", c.id)
        idx = self.error_box.findData(current)
        self.error_box.setCurrentIndex(max(0, idx))
        self.error_box.blockSignals(False)

    def _error_class(self) -> tuple[bool, int | None]:
        mode = self.error_box.currentData()
        return mode is not None, (None if mode in (None, "all") else int(mode))

    def _rebuild_errors(self) -> None:
        on, cls = self._error_class()
        _, arr = self.resolve_source()
        if not on or self.gt is None or arr is None or arr.shape != self.gt.shape:
            self.error_layer.clear()
        else:
            self.error_layer.show_codes(error_codes(arr, self.gt, self.live.n, cls))
            self.error_layer.setVisible(True)
        self.refresh_view()

    def _refresh_errors(self, bbox) -> None:
        on, cls = self._error_class()
        if not on or self.gt is None or self.doc.mask is None or self.error_layer.buffer is None:
            return
        h, w = self.doc.mask.shape
        x0, y0, x1, y1 = max(0, bbox[0]), max(0, bbox[1]), min(w, bbox[2]), min(h, bbox[3])
        if x0 < x1 and y0 < y1:
            codes = error_codes(self.doc.mask[y0:y1, x0:x1], self.gt[y0:y1, x0:x1], self.live.n, cls)
            self.error_layer.refresh(codes, (x0, y0, x1, y1))

    def error_counts(self) -> tuple[int, int]:
        """(false positives, false negatives) of the error overlay's selection, from the table."""
        full, n = self.live.full, self.live.n
        on, cls = self._error_class()
        if cls is None:
            cm = full[:n, :n]
            return int(cm.sum() - np.trace(cm)), int(full[:n, n].sum())
        tp = int(full[cls, cls])
        return int(full[:n, cls].sum()) - tp, int(full[cls, : n + 1].sum()) - tp

    # -- display ------------------------------------------------------------------------------------------
    def scores(self) -> Scores | None:
        return self.live.scores() if self.live.ready else None

    def show_confusion(self) -> None:
        """Open (or raise) the enlarged confusion matrix; it follows the panel live."""
        from segstudio.gui.widgets.confusion_dialog import ConfusionDialog

        if self.confusion_dialog is None:
            self.confusion_dialog = ConfusionDialog(self.win)
        self._update_confusion_dialog(force=True)
        self.confusion_dialog.show()
        self.confusion_dialog.raise_()

    def _update_confusion_dialog(self, force: bool = False) -> None:
        dlg = self.confusion_dialog
        if dlg is None or not (force or dlg.isVisible()):
            return
        if self.scores() is None:
            dlg.set_matrix(np.zeros((0, 0)), [], "No scores: attach ground truth and open an image with labels")
            return
        dlg.set_matrix(self.live.matrix, self.doc.labels.names,
                       f"{self.source_used} of {self.gt_key} vs ground truth — {self.summary.text()}")

    def refresh_view(self) -> None:
        self._refresh_timer.stop()
        labels = self.doc.labels
        s = self.scores()
        on, _ = self._error_class()
        if s is None:
            self.bars.set_data([], [], [])
            self.heat.set_matrix(np.zeros((0, 0)), [])
            self._update_confusion_dialog()
            self.legend.setText("")
            if self.gt is None and self.win.project is not None and self.win.project.ground_truth is None:
                self.summary.setText("Attach a ground-truth folder to score the open image.")
            elif self.gt is not None and self.source_used is None and self.doc.mask is not None:
                self.summary.setText("Nothing to score yet: this image has no labels and no prediction "
                                     "(paint, or run the model with Ctrl+R).")
            return
        gt_path = self.win.project.ground_truth_path(self.gt_key) if self.win.project and self.gt_key else None
        self.summary.setText(
            f"<b>mIoU {100 * s.miou:.2f} %</b> &nbsp; pixel accuracy {100 * s.pixel_accuracy:.2f} %<br>"
            f"{self.source_used} of {self.gt_key} vs {gt_path.name if gt_path else 'ground truth'} "
            f"({s.valid_pixels:,} scored pixels)")
        self.bars.set_data(labels.names, s.iou, [c.color for c in labels.classes], reference=s.miou)
        self.heat.set_matrix(self.live.matrix, labels.names)
        self._update_confusion_dialog()
        if on:
            fp, fn = self.error_counts()
            sel = self.error_box.currentText()
            fp_name, fn_name = ("wrong class", "left void") if self.error_box.currentData() == "all" else \
                ("false positive", "false negative")
            self.legend.setText(f"{sel}: <span style='color:{_rgb(FP_COLOR)}'>■</span> {fp_name} {fp:,} px &nbsp; "
                                f"<span style='color:{_rgb(FN_COLOR)}'>■</span> {fn_name} {fn:,} px")
        else:
            self.legend.setText("")


def create_panel(window) -> QDockWidget:
    panel = MetricsPanel(window)
    dock = QDockWidget("Metrics", window)
    dock.setObjectName("metrics_dock")
    dock.setWidget(panel)
    window.metrics_panel = panel
    return dock
