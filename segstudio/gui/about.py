"""The About dialog: SegStudio's version and the versions of the libraries it runs on.

``about_info(device)`` is a pure helper (no widgets) returning an ordered ``dict`` of
name -> version text for SegStudio, Python, torch (with its CUDA build), torchvision, Qt,
PySide6, pydensecrf, onnxruntime, the compute device and whether this is the packaged app.
It never imports torch itself: a library not yet loaded is reported from its installed
metadata, so opening the dialog stays instant. ``show_about(parent, device)`` shows it, with
a button that copies the same text for bug reports; ``app_icon()`` is the window icon.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from importlib.util import find_spec

from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication, QIcon, QPixmap
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPushButton,
                               QVBoxLayout, QWidget)

from segstudio import __version__
from segstudio.paths import resources_dir

NOT_INSTALLED = "not installed"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)

# module name -> distribution names to ask importlib.metadata, in order
_DISTRIBUTIONS = {
    "torch": ("torch",),
    "torchvision": ("torchvision",),
    "PySide6": ("PySide6", "PySide6-Essentials", "PySide6_Essentials"),
    "pydensecrf": ("pydensecrf2", "pydensecrf"),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
}


def _installed(module: str) -> bool:
    if module in sys.modules:
        return True
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _version(module: str) -> str:
    """Version of ``module`` without importing it when it is not loaded yet."""
    loaded = sys.modules.get(module)
    version = getattr(loaded, "__version__", None) if loaded is not None else None
    if version:
        return str(version)
    if not _installed(module):
        return NOT_INSTALLED
    for dist in _DISTRIBUTIONS.get(module, (module,)):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "installed (version unknown)"


def _torch_build() -> str:
    """CUDA version torch was built with, only if torch is already loaded (else '')."""
    torch = sys.modules.get("torch")
    version = getattr(getattr(torch, "version", None), "cuda", None) if torch is not None else None
    if torch is None:
        return ""
    return f"CUDA {version}" if version else "CPU-only build"


def _device_text(device: str | None) -> str:
    if device:
        return device
    torch = sys.modules.get("torch")
    if torch is None:
        return "not chosen yet (no model loaded)"
    try:
        if torch.cuda.is_available():
            return f"cuda ({torch.cuda.get_device_name(0)})"
    except Exception:  # a broken driver must not break the About box
        pass
    return "cpu"


def about_info(device: str | None = None) -> dict[str, str]:
    """Versions of SegStudio and its runtime, in display order (all values are strings)."""
    torch_version = _version("torch")
    build = _torch_build()
    info = {
        "SegStudio": __version__,
        "Python": platform.python_version(),
        "torch": f"{torch_version} ({build})" if build and torch_version != NOT_INSTALLED else torch_version,
        "torchvision": _version("torchvision"),
        "Qt": qVersion(),
        "PySide6": _version("PySide6"),
        "pydensecrf": _version("pydensecrf"),
        "onnxruntime": _version("onnxruntime"),
        "Device": _device_text(device),
        "Platform": f"{platform.system()} {platform.machine()}",
        "Packaged app": "yes" if getattr(sys, "frozen", False) else "no (running from source)",
    }
    return info


def about_text(info: dict[str, str]) -> str:
    """Plain-text form of :func:`about_info` (what the Copy button puts on the clipboard)."""
    width = max(len(k) for k in info)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in info.items())


def app_icon() -> QIcon:
    """SegStudio's icon at every shipped size (empty icon if resources/icons is missing)."""
    icon = QIcon()
    folder = resources_dir() / "icons"
    for size in ICON_SIZES:
        path = folder / f"segstudio-{size}.png"
        if path.is_file():
            icon.addFile(str(path))
    return icon


def _html(info: dict[str, str]) -> str:
    rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in info.items()
                   if k != "SegStudio")
    return (f"<h2>SegStudio {info['SegStudio']}</h2>"
            "<p>Label images with semantic segmentation: predict, refine with a dense CRF, "
            "correct with brushes, evaluate, export and retrain.</p>"
            f"<table>{rows}</table>")


def build_about_dialog(parent: QWidget | None = None, device: str | None = None) -> QDialog:
    """The About dialog, not yet shown (tests inspect it; :func:`show_about` runs it)."""
    info = about_info(device)
    dialog = QDialog(parent)
    dialog.setObjectName("aboutDialog")
    dialog.setWindowTitle("About SegStudio")
    icon = app_icon()
    if not icon.isNull():
        dialog.setWindowIcon(icon)

    picture = QLabel()
    pixmap = QPixmap(str(resources_dir() / "icons" / "segstudio-64.png"))
    if not pixmap.isNull():
        picture.setPixmap(pixmap)
    picture.setAlignment(Qt.AlignmentFlag.AlignTop)
    text = QLabel(_html(info))
    text.setObjectName("aboutText")
    text.setTextFormat(Qt.TextFormat.RichText)
    text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    text.setWordWrap(True)
    text.setMinimumWidth(440)

    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    copy = QPushButton("Copy versions")
    copy.setObjectName("aboutCopy")
    buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
    copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(about_text(info)))
    buttons.rejected.connect(dialog.reject)
    buttons.accepted.connect(dialog.accept)

    row = QHBoxLayout()
    row.addWidget(picture)
    row.addWidget(text, 1)
    layout = QVBoxLayout(dialog)
    layout.addLayout(row)
    layout.addWidget(buttons)
    return dialog


def show_about(parent: QWidget | None = None, device: str | None = None) -> None:
    """Show the About dialog modally (``device``: the device the current model runs on)."""
    build_about_dialog(parent, device).exec()
