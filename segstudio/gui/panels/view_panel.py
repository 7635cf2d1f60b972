"""View panel: brightness, contrast and gamma of the displayed photo (view only).

The sliders build one lookup table (``core.view_adjust``) and the canvas shows the photo
through it (``ImageLayer.show_adjusted``); the image data the model, the CRF, metrics and
export see is never changed. Re-applied to each newly opened image; Reset goes back to the
photo as it is.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFormLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from segstudio.core.view_adjust import ViewAdjust

AREA = Qt.DockWidgetArea.RightDockWidgetArea
TABIFY_WITH = "labels_dock"


def _slider(lo: int, hi: int, value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setValue(value)
    return s


class ViewPanel(QWidget):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.win, self.doc = window, window.document
        self.brightness = _slider(-50, 50, 0)      # hundredths, added to [0, 1] values
        self.contrast = _slider(0, 300, 100)       # percent
        self.gamma = _slider(20, 400, 100)         # hundredths
        self.readout = QLabel("")
        self.reset = QPushButton("Reset")
        form = QFormLayout()
        form.addRow("Brightness", self.brightness)
        form.addRow("Contrast", self.contrast)
        form.addRow("Gamma", self.gamma)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(form)
        lay.addWidget(self.readout)
        lay.addWidget(QLabel("Changes the display only; the image data is never changed."))
        lay.addWidget(self.reset)
        lay.addStretch(1)
        for s in (self.brightness, self.contrast, self.gamma):
            s.valueChanged.connect(self.apply)
        self.reset.clicked.connect(self.reset_all)
        self.doc.imageChanged.connect(self._image_changed)
        self.apply()

    def adjust(self) -> ViewAdjust:
        return ViewAdjust(self.brightness.value() / 100, self.contrast.value() / 100, self.gamma.value() / 100)

    def apply(self) -> None:
        adj = self.adjust()
        self.readout.setText(f"brightness {adj.brightness:+.2f}, contrast {adj.contrast:.2f}, gamma {adj.gamma:.2f}")
        image = self.doc.image
        if image is not None:
            self.win.canvas.image_layer.show_adjusted(image.rgb, None if adj.identity else adj.lut())

    def _image_changed(self, _key: str) -> None:
        if not self.adjust().identity:
            self.apply()

    def reset_all(self) -> None:
        for s, v in ((self.brightness, 0), (self.contrast, 100), (self.gamma, 100)):
            s.blockSignals(True)
            s.setValue(v)
            s.blockSignals(False)
        self.apply()


def create_panel(window) -> QDockWidget:
    panel = ViewPanel(window)
    dock = QDockWidget("View", window)
    dock.setObjectName("view_dock")
    dock.setWidget(panel)
    window.view_panel = panel
    return dock
