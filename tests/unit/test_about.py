"""About dialog: version report (pure helper) and the dialog built offscreen."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("PySide6")

from segstudio import __version__  # noqa: E402
from segstudio.gui import about  # noqa: E402


def test_about_info_reports_every_component():
    info = about.about_info("cuda:0 (Test GPU)")
    for key in ("SegStudio", "Python", "torch", "torchvision", "Qt", "PySide6", "pydensecrf",
                "onnxruntime", "Device", "Packaged app"):
        assert info[key], key
    assert info["SegStudio"] == __version__
    assert info["Device"] == "cuda:0 (Test GPU)"
    assert all(isinstance(v, str) for v in info.values())


def test_about_info_does_not_import_torch(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    info = about.about_info(None)
    assert "torch" not in sys.modules
    assert info["torch"] != ""          # from installed metadata
    assert "no model" in info["Device"]


def test_missing_library_is_reported(monkeypatch):
    monkeypatch.setattr(about, "_installed", lambda module: module != "onnxruntime")
    monkeypatch.delitem(sys.modules, "onnxruntime", raising=False)
    assert about.about_info("cpu")["onnxruntime"] == about.NOT_INSTALLED


def test_about_text_is_aligned_lines():
    text = about.about_text({"a": "1", "long key": "2"})
    assert text.splitlines() == ["a         1", "long key  2"]


def test_dialog_shows_versions_and_copies_them(qtbot):
    dialog = about.build_about_dialog(None, "cpu")
    qtbot.addWidget(dialog)
    label = dialog.findChild(about.QLabel, "aboutText")
    assert f"SegStudio {__version__}" in label.text()
    assert "onnxruntime" in label.text()
    dialog.findChild(about.QPushButton, "aboutCopy").click()
    copied = about.QGuiApplication.clipboard().text()
    assert copied.startswith("SegStudio") and "Device" in copied and "cpu" in copied


def test_app_icon_has_shipped_sizes(qtbot):
    icon = about.app_icon()
    assert not icon.isNull()
    assert {s.width() for s in icon.availableSizes()} >= {16, 32, 256}
