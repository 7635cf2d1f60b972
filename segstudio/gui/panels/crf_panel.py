"""CRF panel: refine the shown prediction with a dense CRF, and its parameters.

The toggle mirrors the Model menu's "Refine with dense CRF". Parameters start at the tuned
values in ``resources/models/crf_params.json`` when that file exists, else the built-in
:class:`~segstudio.core.crf_params.CRFParams` defaults. Any change re-runs the CRF (in a worker,
debounced) on the cached probabilities of the open image — never the network — with the
pixels the user painted as fixed constraints.
"""

from __future__ import annotations

from dataclasses import fields

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QCheckBox, QDockWidget, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from segstudio.core.crf_params import CRFError, CRFParams
from segstudio.gui.prediction import controller_for
from segstudio.gui.prediction.engine import default_crf_params

AREA = Qt.DockWidgetArea.RightDockWidgetArea
TABIFY_WITH = "model_dock"

# field -> (label, minimum, maximum, step, decimals); decimals None = integer
FIELDS = {
    "iterations": ("Iterations", 0, 50, 1, None),
    "gaussian_sxy": ("Smoothness σ (px)", 0.1, 100.0, 0.5, 1),
    "gaussian_compat": ("Smoothness weight", 0.0, 100.0, 0.5, 1),
    "bilateral_sxy": ("Appearance σ (px)", 0.1, 500.0, 5.0, 1),
    "bilateral_srgb": ("Appearance σ (colour)", 0.1, 255.0, 1.0, 1),
    "bilateral_compat": ("Appearance weight", 0.0, 100.0, 1.0, 1),
    "fixed_confidence": ("Painted-pixel confidence", 0.5, 0.9999, 0.005, 4),
}


class CRFPanel(QWidget):
    def __init__(self, window) -> None:
        super().__init__()
        self.win = window
        self.ctl = ctl = controller_for(window)
        self.enable = QCheckBox("Refine the prediction with a dense CRF")
        self.enable.setChecked(ctl.crf_enabled)
        self.source = QLabel(f"Defaults: {ctl.crf_source}")
        self.source.setWordWrap(True)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c33")
        self.spins: dict[str, QSpinBox | QDoubleSpinBox] = {}
        form = QFormLayout()
        for name, (label, lo, hi, step, dec) in FIELDS.items():
            spin: QSpinBox | QDoubleSpinBox
            if dec is None:
                spin = QSpinBox()
            else:
                spin = QDoubleSpinBox()
                spin.setDecimals(dec)
            spin.setRange(lo, hi)
            spin.setSingleStep(step)
            spin.setKeyboardTracking(False)
            form.addRow(label, spin)
            self.spins[name] = spin
        self.reset_button = QPushButton("Defaults")
        self.rerun_button = QPushButton("Re-run CRF")
        self.rerun_button.setToolTip("Re-run with the pixels painted since the last run as constraints")
        buttons = QHBoxLayout()
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.rerun_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.enable)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.source)
        layout.addWidget(self.error)
        layout.addStretch(1)
        self.set_params(ctl.crf_params)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(400)
        self._debounce.timeout.connect(self.apply)
        for spin in self.spins.values():
            spin.valueChanged.connect(lambda _v: self._debounce.start())
        self.enable.toggled.connect(ctl.set_crf_enabled)
        ctl.optionsChanged.connect(self._sync)
        self.reset_button.clicked.connect(self.reset)
        self.rerun_button.clicked.connect(ctl.run_crf)

    def set_params(self, params: CRFParams) -> None:
        for name, spin in self.spins.items():
            spin.blockSignals(True)
            spin.setValue(getattr(params, name))
            spin.blockSignals(False)

    def params(self) -> CRFParams:
        """The parameters shown (fields without a widget keep the controller's values)."""
        base = self.ctl.crf_params.to_dict()
        base.update({name: spin.value() for name, spin in self.spins.items()})
        known = {f.name for f in fields(CRFParams)}
        return CRFParams(**{k: v for k, v in base.items() if k in known})

    def apply(self) -> None:
        self._debounce.stop()
        try:
            params = self.params()
        except CRFError as exc:
            self.error.setText(str(exc))
            return
        self.error.setText("")
        self.ctl.set_crf_params(params)

    def reset(self) -> None:
        params, source = default_crf_params()
        self.source.setText(f"Defaults: {source}")
        self.set_params(params)
        self.apply()

    def _sync(self) -> None:
        if self.enable.isChecked() != self.ctl.crf_enabled:
            self.enable.blockSignals(True)
            self.enable.setChecked(self.ctl.crf_enabled)
            self.enable.blockSignals(False)


def create_panel(window) -> QDockWidget:
    panel = CRFPanel(window)
    dock = QDockWidget("CRF", window)
    dock.setObjectName("crf_dock")
    dock.setWidget(panel)
    window.crf_panel = panel
    return dock
