"""Start page shown when no folder is open: open a folder, recent folders, default model note."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from segstudio import paths


class StartPage(QWidget):
    openRequested = Signal()        # "Open folder…"
    folderChosen = Signal(str)      # a recent folder

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("SegStudio")
        f = QFont(title.font())
        f.setPointSize(f.pointSize() + 12)
        f.setBold(True)
        title.setFont(f)
        subtitle = QLabel("Pixel-level labelling for semantic segmentation")
        self.open_button = QPushButton("Open folder…")
        self.open_button.setMinimumHeight(36)
        self.open_button.clicked.connect(self.openRequested)
        self.recent = QListWidget()
        self.recent.setMaximumWidth(640)
        self.recent.setMaximumHeight(300)
        self.recent.itemActivated.connect(self._chosen)
        self.recent.itemClicked.connect(self._chosen)
        model = paths.default_model_path()
        state = "" if model.exists() else " (not installed in this build yet)"
        self.model_note = QLabel(
            f"Default model: <b>CamVid</b> ({model.name}){state} is preselected for predictions; "
            "a folder without labels starts with the CamVid label set.")
        self.model_note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(48, 48, 48, 48)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addSpacing(16)
        layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addSpacing(16)
        layout.addWidget(QLabel("Recent folders"))
        layout.addWidget(self.recent)
        layout.addSpacing(12)
        layout.addWidget(self.model_note)
        layout.addStretch(1)

    def _chosen(self, item: QListWidgetItem) -> None:
        folder = item.data(Qt.ItemDataRole.UserRole)
        if folder:
            self.folderChosen.emit(folder)

    def set_recent(self, folders: list[str]) -> None:
        self.recent.clear()
        for f in folders:
            item = QListWidgetItem(f"{Path(f).name}    —    {f}")
            item.setData(Qt.ItemDataRole.UserRole, f)
            if not Path(f).is_dir():
                item.setText(item.text() + "  (missing)")
                item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(item)
        if not folders:
            empty = QListWidgetItem("No recent folders yet.")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(empty)
