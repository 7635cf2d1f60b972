"""Model panel: choose a checkpoint, device, engine, tiling and test-time augmentation; load it
in the background; run it on the open image (Ctrl+R), cancel, accept (Enter); prediction
display options. A tiled image's progress (tiles done) shows under the Run buttons.

The shipped default model (``segstudio.paths.default_model_path()``) is preselected and may be
missing (it is trained separately): the panel then says "default model not available" and
any ``.pt``/``.onnx`` file can be chosen instead; chosen files are remembered (recent list in
the settings), and so is the test-time augmentation (``model/tta``; changing it reloads the
predictor on the next run). Devices come from the ``doctor`` report, fetched in the background the first
time the device list is opened (importing torch there, never at start-up); when CUDA is not
usable the report's reason is shown. A model whose classes differ from the project's labels
opens the class-mapping dialog (matched by name; unmatched classes -> void). Under the
uncertainty choice a colour scale keys the overlay, and a note says why it is blank (no
prediction shown, or one read from disk without probabilities).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDockWidget, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                               QLabel, QProgressBar, QPushButton, QScrollArea, QSlider, QVBoxLayout, QWidget)

from segstudio.core import class_mapping
from segstudio.gui.prediction import controller_for
from segstudio.gui.prediction.controller import tiles_text
from segstudio.gui.prediction.engine import ModelSpec
from segstudio.gui.prediction.layers import heat_lut
from segstudio.gui.widgets.color_scale import ColorScale

AREA = Qt.DockWidgetArea.RightDockWidgetArea
MAX_RECENT = 8
TILES = (("Automatic", None), ("Off", 0), ("512 px", 512), ("1024 px", 1024), ("2048 px", 2048))
UNCERTAINTY = (("Off", None), ("1 − max probability", "margin"), ("Entropy", "entropy"))
TTAS = (("None", "none"), ("Flip (2 passes)", "flip"), ("Multi-scale + flip (6 passes)", "ms"))
TTA_TIP = ("Test-time augmentation: average the class probabilities over transformed copies of the image.\n"
           "Flip: the image and its mirror — about 2× the inference time.\n"
           "Multi-scale + flip: scales 0.75, 1 and 1.25, each with its mirror — about 6× the inference time.\n"
           "Applies to Ctrl+R, the background prefetch and Batch predict.")


def default_model() -> Path:
    from segstudio.paths import default_model_path

    return default_model_path()


class DeviceBox(QComboBox):
    """Device list that asks for the device report the first time it is opened."""

    def __init__(self, on_open) -> None:
        super().__init__()
        self._on_open = on_open

    def showPopup(self) -> None:  # noqa: N802 - Qt API
        self._on_open()
        super().showPopup()


class ModelPanel(QWidget):
    def __init__(self, window) -> None:
        super().__init__()
        self.win = window
        self.ctl = ctl = controller_for(window)
        self.mapping_dialog = None
        # -- model choice
        self.model_box = QComboBox()
        self.model_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_box.setMinimumContentsLength(16)
        self.browse = QPushButton("Browse…")
        self.device_box = DeviceBox(ctl.probe_devices)
        self.device_box.addItem("Automatic", "auto")
        self.device_box.addItem("CPU", "cpu")
        self.device_note = QLabel("")
        self.device_note.setWordWrap(True)
        self.device_note.setVisible(False)
        self.engine_box = QComboBox()
        for name in ("auto", "torch", "onnxruntime"):
            self.engine_box.addItem(name, name)
        self.tile_box = QComboBox()
        for text, value in TILES:
            self.tile_box.addItem(text, value)
        self.tta_box = QComboBox()
        for text, value in TTAS:
            self.tta_box.addItem(text, value)
        self.tta_box.setToolTip(TTA_TIP)
        self.tta_box.setCurrentIndex(max(0, self.tta_box.findData(self.win.settings.value("model/tta", "none", str))))
        self.load_button = QPushButton("Load")
        self.state_label = QLabel("No model loaded")
        self.state_label.setWordWrap(True)
        self.info_label = QLabel("")
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.mapping_label = QLabel("")
        self.mapping_label.setWordWrap(True)
        self.mapping_button = QPushButton("Class mapping…")
        self.mapping_button.setVisible(False)
        row = QHBoxLayout()
        row.addWidget(self.model_box, 1)
        row.addWidget(self.browse)
        form = QFormLayout()
        form.addRow("Device", self.device_box)
        form.addRow("", self.device_note)
        form.addRow("Engine", self.engine_box)
        form.addRow("Tiling", self.tile_box)
        form.addRow("Test-time aug.", self.tta_box)
        mbox = QGroupBox("Model")
        ml = QVBoxLayout(mbox)
        ml.addLayout(row)
        ml.addLayout(form)
        ml.addWidget(self.load_button)
        for w in (self.state_label, self.info_label, self.mapping_label, self.mapping_button):
            ml.addWidget(w)
        # -- prediction
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Predict the open image (Ctrl+R)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Discard the running prediction / CRF")
        self.cancel_button.setEnabled(False)
        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Copy the prediction into the mask, keeping what you painted "
                                      "(Enter on the image; Ctrl+Z undoes)")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumHeight(10)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        self.progress_label = QLabel("")     # "NN % (tile i of n)" while a tiled image runs
        self.progress_label.setVisible(False)
        self.show_box = QCheckBox("Show prediction (hatched)")
        self.show_box.setChecked(True)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(10, 100)
        self.opacity.setValue(85)
        self.fill_void_box = QCheckBox("Accept fills unlabelled pixels only")
        self.fill_void_box.setToolTip("Accept always keeps the pixels you painted in this session; with this, "
                                      "every pixel that already has a class is kept too")
        self.prefetch_box = QCheckBox("Predict the next image in the background")
        self.prefetch_box.setChecked(True)
        self.uncertainty_box = QComboBox()
        for text, value in UNCERTAINTY:
            self.uncertainty_box.addItem(text, value)
        self.uncertainty_scale = ColorScale(heat_lut(), "0 certain", "uncertain 1")
        self.uncertainty_scale.setVisible(False)
        self.uncertainty_note = QLabel("")
        self.uncertainty_note.setWordWrap(True)
        self.uncertainty_note.setVisible(False)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.cancel_button, self.accept_button):
            buttons.addWidget(b)
        pbox = QGroupBox("Prediction display")
        pl = QVBoxLayout(pbox)
        pform = QFormLayout()
        pform.addRow(self.show_box)
        pform.addRow("Opacity", self.opacity)
        pform.addRow("Uncertainty", self.uncertainty_box)
        pform.addRow(self.uncertainty_scale)
        pform.addRow(self.uncertainty_note)
        pform.addRow(self.fill_void_box)
        pform.addRow(self.prefetch_box)
        pl.addLayout(pform)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)           # the everyday actions first, then the model choice
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        layout.addWidget(mbox)
        layout.addWidget(pbox)
        layout.addStretch(1)
        self._fill_models()
        self._wire()
        self._spec_changed()

    # -- wiring ---------------------------------------------------------------------------------
    def _wire(self) -> None:
        ctl = self.ctl
        self.browse.clicked.connect(self.choose_file)
        for box in (self.model_box, self.device_box, self.engine_box, self.tile_box, self.tta_box):
            box.currentIndexChanged.connect(self._spec_changed)
        self.load_button.clicked.connect(lambda: ctl.load(self.spec()))
        self.run_button.clicked.connect(ctl.run_current)
        self.cancel_button.clicked.connect(ctl.cancel)
        self.accept_button.clicked.connect(ctl.accept)
        self.show_box.toggled.connect(ctl.set_show_prediction)
        self.opacity.valueChanged.connect(lambda v: ctl.set_prediction_opacity(v / 100))
        self.fill_void_box.toggled.connect(lambda on: setattr(ctl, "fill_void_only", on))
        self.prefetch_box.toggled.connect(self._prefetch_toggled)
        self.uncertainty_box.currentIndexChanged.connect(
            lambda _i: ctl.set_uncertainty_mode(self.uncertainty_box.currentData()))
        self.mapping_button.clicked.connect(self.edit_mapping)
        ctl.modelChanged.connect(self._model_changed)
        ctl.devicesProbed.connect(self._devices)
        ctl.busyChanged.connect(self._busy)
        ctl.tileProgress.connect(self._tiles)
        ctl.mappingChanged.connect(self._mapping_changed)
        ctl.mappingNeeded.connect(self.edit_mapping)
        ctl.optionsChanged.connect(self._sync_options)
        ctl.optionsChanged.connect(self._uncertainty_state)
        ctl.predictionChanged.connect(lambda _k: self._uncertainty_state())
        trained = getattr(self.win, "modelTrained", None)   # retrain dialog: "Use this model"
        if trained is not None:
            trained.connect(self.select_file)

    def _prefetch_toggled(self, on: bool) -> None:
        self.ctl.prefetch = on
        if on:
            self.ctl._prefetch_next()

    # -- model list -------------------------------------------------------------------------------
    def recent(self) -> list[str]:
        raw = self.win.settings.value("model/recent", [])
        if isinstance(raw, str):
            raw = [raw]
        return [str(p) for p in (raw or []) if p]

    def _fill_models(self) -> None:
        self.model_box.blockSignals(True)
        self.model_box.clear()
        default = default_model()
        if default.exists():
            self.model_box.addItem(f"Default model ({default.name})", str(default))
        else:
            self.model_box.addItem("Default model — not available", str(default))
            self.model_box.setItemData(0, f"{default} does not exist yet; choose a .pt or .onnx file",
                                       Qt.ItemDataRole.ToolTipRole)
        for path in self.recent():
            if Path(path) != default:
                self.model_box.addItem(Path(path).name, path)
                self.model_box.setItemData(self.model_box.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
        last = self.win.settings.value("model/last", None, str)
        idx = self.model_box.findData(last) if last else -1
        self.model_box.setCurrentIndex(max(0, idx))
        self.model_box.blockSignals(False)

    def choose_file(self) -> None:
        start = str(Path(self.model_box.currentData() or default_model()).parent)
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model", start,
                                              "Models (*.pt *.pth *.ckpt *.onnx *.ts *.torchscript);;All files (*)")
        if path:
            self.select_file(path)

    def select_file(self, path: str | Path) -> None:
        """Make ``path`` the chosen model (and remember it in the recent list)."""
        path = str(Path(path).resolve())
        items = [path] + [p for p in self.recent() if p != path]
        self.win.settings.set("model/recent", items[:MAX_RECENT])
        self.win.settings.set("model/last", path)
        self._fill_models()
        idx = self.model_box.findData(path)
        self.model_box.setCurrentIndex(idx if idx >= 0 else 0)
        self._spec_changed()

    set_checkpoint = select_file      # the retrain dialog's hook (segstudio.gui.dialogs.deliver_model)

    def spec(self) -> ModelSpec | None:
        path = self.model_box.currentData()
        if not path:
            return None
        return ModelSpec(str(path), self.device_box.currentData() or "auto", self.engine_box.currentData() or "auto",
                         self.tile_box.currentData(), tta=self.tta_box.currentData() or "none")

    def _spec_changed(self) -> None:
        spec = self.spec()
        self.ctl.set_spec(spec)
        if spec is not None:
            self.win.settings.set("model/last", spec.source)
            self.win.settings.set("model/tta", spec.tta)
        missing = spec is not None and not Path(spec.source).exists()
        if missing and Path(spec.source) == default_model():
            self.state_label.setText("Default model not available (it ships once trained): choose a .pt or "
                                     ".onnx file with Browse…")
        elif missing:
            self.state_label.setText(f"{spec.source}: file not found")
        elif self.ctl.state != "loading":
            self._model_changed()
        self.load_button.setEnabled(not missing)

    # -- controller feedback -------------------------------------------------------------------------
    def _model_changed(self) -> None:
        ctl = self.ctl
        if ctl.state == "loading":
            self.state_label.setText(f"Loading {ctl.spec.name if ctl.spec else ''} …")
            self.progress.setVisible(True)
            return
        self.progress.setVisible(ctl.busy)
        if ctl.state == "failed":
            self.state_label.setText(f"<span style='color:#c33'>Load failed:</span> {ctl.error}")
            self.info_label.setText("")
            return
        if ctl.model is None:
            self.state_label.setText("No model loaded" if ctl.spec is None or Path(str(ctl.spec.source)).exists()
                                     else self.state_label.text())
            return
        info = ctl.model.info
        stale = ctl.spec is not None and ctl.model.spec != ctl.spec
        self.state_label.setText(f"Loaded: {ctl.model.spec.name}" + (" (choice changed: Load or Run reloads)"
                                                                      if stale else ""))
        names = info.get("classes") or []
        mean = ", ".join(f"{v:.3f}" for v in info.get("mean", []))
        std = ", ".join(f"{v:.3f}" for v in info.get("std", []))
        self.info_label.setText(
            f"Architecture: {info.get('arch') or info.get('kind')}<br>"
            f"Classes ({len(names)}): {', '.join(names[:24])}{' …' if len(names) > 24 else ''}<br>"
            f"Normalisation: mean ({mean}), std ({std})<br>"
            f"Runs on {info.get('device')} with {info.get('engine')}, {info.get('precision', '')}"
            + (f"<br>Test-time augmentation: {self.tta_box.itemText(self.tta_box.findData(info['tta']))}"
               if info.get("tta", "none") != "none" else ""))
        if ctl.device_report is None:
            ctl.probe_devices()      # torch is imported by now: cheap

    def _devices(self, rep: dict) -> None:
        current = self.device_box.currentData()
        self.device_box.blockSignals(True)
        while self.device_box.count() > 2:
            self.device_box.removeItem(2)
        for d in rep.get("cuda_devices") or []:
            self.device_box.addItem(f"CUDA {d['index']}: {d['name']} ({d['memory_gib']} GiB)", f"cuda:{d['index']}")
        if rep.get("mps_available"):
            self.device_box.addItem("Apple Metal (MPS)", "mps")
        idx = self.device_box.findData(current)
        self.device_box.setCurrentIndex(max(0, idx))
        self.device_box.blockSignals(False)
        self.device_note.setText(str(rep.get("why", "")))
        self.device_note.setVisible(bool(self.device_note.text()))

    def _busy(self, busy: bool) -> None:
        self.progress.setVisible(busy or self.ctl.state == "loading")
        self.cancel_button.setEnabled(busy)
        if not busy:                        # back to "working…" for the next request
            self.progress.setRange(0, 0)
            self.progress_label.setVisible(False)

    def _tiles(self, key: str, done: int, total: int) -> None:
        """Tiles of the awaited image done so far (GUI thread, from the controller's queued signal)."""
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress_label.setText(tiles_text(key, done, total))
        self.progress_label.setVisible(self.ctl.busy)

    def _sync_options(self) -> None:
        ctl = self.ctl
        for box, value in ((self.show_box, ctl.show_prediction),):
            if box.isChecked() != value:
                box.blockSignals(True)
                box.setChecked(value)
                box.blockSignals(False)
        idx = self.uncertainty_box.findData(ctl.uncertainty_mode)
        if idx >= 0 and idx != self.uncertainty_box.currentIndex():
            self.uncertainty_box.blockSignals(True)
            self.uncertainty_box.setCurrentIndex(idx)
            self.uncertainty_box.blockSignals(False)

    def _uncertainty_state(self) -> None:
        """Show the colour scale while the overlay is on, and say why it is blank when it is."""
        ctl = self.ctl
        on = ctl.uncertainty_mode is not None
        cur = ctl.current
        if not on:
            why = ""
        elif cur is None:
            why = "No prediction is shown: run the model (Ctrl+R) to see where it is uncertain."
        elif ctl.display_probs() is None:
            why = ("The prediction shown was read from disk without probabilities: run the model (Ctrl+R) "
                   "to see its uncertainty." if cur.saved else
                   "No probabilities kept for this image (too large for the memory budget).")
        else:
            why = ""
        self.uncertainty_scale.setVisible(on and not why)
        self.uncertainty_note.setText(why)
        self.uncertainty_note.setVisible(bool(why))

    # -- class mapping ---------------------------------------------------------------------------------
    def _mapping_changed(self) -> None:
        ctl = self.ctl
        on = ctl.mapping is not None and ctl.model is not None
        self.mapping_button.setVisible(on)
        self.mapping_label.setText(class_mapping.describe(ctl.mapping, ctl.model.class_names, self.win.document.labels)
                                   if on else "")

    def edit_mapping(self) -> None:
        from segstudio.gui.prediction.mapping_dialog import ClassMappingDialog

        ctl = self.ctl
        if ctl.model is None:
            return
        dlg = ClassMappingDialog(ctl.model.class_names, self.win.document.labels, ctl.mapping, self)
        dlg.accepted.connect(lambda: ctl.set_mapping(dlg.mapping()))
        self.mapping_dialog = dlg
        dlg.open()          # window-modal, the event loop keeps running


def create_panel(window) -> QDockWidget:
    panel = ModelPanel(window)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(panel)
    dock = QDockWidget("Model", window)
    dock.setObjectName("model_dock")
    dock.setWidget(scroll)
    window.model_panel = panel
    return dock
