"""Light and dark palettes that follow the system colour scheme (Fusion style).

``SEGSTUDIO_THEME=dark|light`` forces one. The palette is re-applied when the system
scheme changes while the app runs.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

# status colours (file list markers), readable on both palettes
STATUS_COLORS = {
    "unlabelled": "#8a8a8a",
    "predicted": "#3d8bfd",
    "edited": "#f0a030",
    "reviewed": "#2fb45a",
}


def is_dark() -> bool:
    forced = os.environ.get("SEGSTUDIO_THEME", "").lower()
    if forced in ("dark", "light"):
        return forced == "dark"
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor(30, 31, 34), QColor(43, 45, 48), QColor(223, 225, 229)
    for role, color in (
        (QPalette.ColorRole.Window, window), (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base), (QPalette.ColorRole.AlternateBase, QColor(38, 40, 43)),
        (QPalette.ColorRole.ToolTipBase, window), (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, QColor(53, 55, 59)),
        (QPalette.ColorRole.ButtonText, text), (QPalette.ColorRole.BrightText, QColor(255, 90, 90)),
        (QPalette.ColorRole.Highlight, QColor(53, 116, 240)), (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.Link, QColor(100, 160, 255)), (QPalette.ColorRole.PlaceholderText, QColor(130, 133, 138)),
        (QPalette.ColorRole.Mid, QColor(60, 62, 66)), (QPalette.ColorRole.Dark, QColor(22, 23, 25)),
    ):
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 122, 126))
    return p


def apply_theme(app: QApplication) -> None:
    """Fusion style with a palette matching the system scheme; follows later changes."""
    app.setStyle("Fusion")
    _apply(app)
    hints = QGuiApplication.styleHints()
    if not getattr(app, "_segstudio_theme_hooked", False):
        hints.colorSchemeChanged.connect(lambda *_: _apply(app))
        app._segstudio_theme_hooked = True  # type: ignore[attr-defined]


def _apply(app: QApplication) -> None:
    app.setPalette(dark_palette() if is_dark() else app.style().standardPalette())


def canvas_background() -> QColor:
    return QColor(24, 25, 27) if is_dark() else QColor(200, 202, 205)


def canvas_text() -> QColor:
    """Text drawn on the canvas background (a message in place of an image): readable on it."""
    return QColor(230, 230, 230) if is_dark() else QColor(30, 31, 34)
