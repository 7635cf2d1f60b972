"""GUI test fixtures: offscreen Qt, throw-away settings, a small image folder, an open window."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # before anything imports Qt

import pytest

from guihelpers import make_images


@pytest.fixture(autouse=True)
def _private_settings(tmp_path, monkeypatch):
    """Never read or write the user's settings: QSettings is pointed into tmp_path."""
    from PySide6.QtCore import QSettings

    settings_dir = tmp_path / "qsettings"
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(settings_dir))
    monkeypatch.setenv("SEGSTUDIO_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setenv("SEGSTUDIO_THEME", "light")
    yield


@pytest.fixture
def demo_folder(tmp_path):
    return make_images(tmp_path / "images")


@pytest.fixture
def make_window(qtbot, tmp_path):
    from segstudio.gui.app import create_application
    from segstudio.gui.main_window import MainWindow
    from segstudio.gui.settings import AppSettings

    create_application()
    made = []

    def factory(folder=None, autosave_ms=100, confirm=lambda text: True):
        win = MainWindow(AppSettings(tmp_path / "settings.ini"), autosave_ms=autosave_ms, confirm=confirm)
        qtbot.addWidget(win)
        win.resize(900, 700)
        win.show()
        qtbot.waitExposed(win)
        if folder is not None:
            assert win.open_folder(folder)
            qtbot.waitUntil(lambda: win.document.mask is not None, timeout=20000)
        made.append(win)
        return win

    yield factory
    for win in made:
        win.close()


@pytest.fixture
def window(make_window, demo_folder):
    return make_window(demo_folder)
