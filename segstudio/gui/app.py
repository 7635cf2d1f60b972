"""Application start-up: QApplication, theme, settings, the main window, optional folder."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication

from segstudio import __version__
from segstudio.gui.settings import APP, ORG, AppSettings
from segstudio.gui.theme import apply_theme


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        QCoreApplication.setOrganizationName(ORG)
        QCoreApplication.setApplicationName(APP)
        QCoreApplication.setApplicationVersion(__version__)
        app = QApplication(argv if argv is not None else sys.argv[:1])
        apply_theme(app)  # type: ignore[arg-type]
    return app  # type: ignore[return-value]


def run(folder: str | Path | None = None, settings_path: str | None = None) -> int:
    app = create_application()
    from segstudio.gui.main_window import MainWindow

    win = MainWindow(AppSettings(settings_path))
    win.show()
    if folder is not None:
        QTimer.singleShot(0, lambda: win.open_folder(folder))
    return app.exec()
