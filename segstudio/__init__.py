"""SegStudio: label images with semantic segmentation models.

Package layout (enforced by tests/unit/test_layering.py):
- ``segstudio.core``   numpy / OpenCV / PIL only: labels, masks, images, metrics, CRF, project store, exports.
- ``segstudio.models`` torch: architectures, checkpoints, inference, training. Never imports Qt.
- ``segstudio.gui``    PySide6 desktop application; may use both.
- ``segstudio.cli``    headless verbs (batch, eval, export, train, crf, doctor, models) and ``gui``.
"""

__version__ = "0.1.0"
