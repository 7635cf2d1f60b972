"""Dialog mapping a model's classes onto the project's classes (or void), one row per model class.

Rows start from :func:`segstudio.core.class_mapping.auto_match` (case-insensitive names) or a
given mapping; unmatched classes start as void. :meth:`ClassMappingDialog.mapping` returns
the chosen list (model class index -> project id or void value).
"""

from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QPushButton,
                               QScrollArea, QVBoxLayout, QWidget)

from segstudio.core import class_mapping
from segstudio.core.labels import LabelSet


class ClassMappingDialog(QDialog):
    def __init__(self, model_names: list[str], labels: LabelSet, mapping: list[int] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Map model classes to project classes")
        self.model_names, self.labels = list(model_names), labels
        start = mapping if mapping is not None else class_mapping.auto_match(model_names, labels)
        intro = QLabel(f"The model predicts {len(model_names)} classes; the project has "
                       f"{labels.num_classes}. Choose the project class for each model class "
                       f"(void: the model's pixels of that class stay unlabelled).")
        intro.setWordWrap(True)
        form_host = QWidget()
        form = QFormLayout(form_host)
        self.combos: list[QComboBox] = []
        for i, name in enumerate(self.model_names):
            combo = QComboBox()
            for c in labels.classes:
                combo.addItem(f"{c.id}: {c.name}", c.id)
            combo.addItem(f"{labels.void_name} (void)", labels.void_value)
            idx = combo.findData(start[i]) if i < len(start) else -1
            combo.setCurrentIndex(idx if idx >= 0 else combo.count() - 1)
            form.addRow(f"{i}: {name}", combo)
            self.combos.append(combo)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(form_host)
        auto = QPushButton("Match by name")
        auto.clicked.connect(self.auto_match)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(scroll, 1)
        layout.addWidget(auto)
        layout.addWidget(buttons)
        self.resize(460, min(600, 140 + 32 * len(model_names)))

    def auto_match(self) -> None:
        for combo, target in zip(self.combos, class_mapping.auto_match(self.model_names, self.labels)):
            combo.setCurrentIndex(max(0, combo.findData(target)))

    def mapping(self) -> list[int]:
        return [int(c.currentData()) for c in self.combos]
