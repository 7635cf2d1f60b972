"""Dock panels of the main window, each in its own module, registered by module name.

A panel module defines ``create_panel(window) -> QDockWidget`` (give the dock an
``objectName`` so its place is remembered) and may set ``AREA`` (a ``Qt.DockWidgetArea``,
default right) and ``TABIFY_WITH`` (another dock's objectName: shown as tabs with it).
``window`` is the :class:`~segstudio.gui.main_window.MainWindow`; panels use
``window.document`` (key, mask, image, labels, ``apply_mask``, ``fixed_pixels``, signals
``imageChanged`` and ``maskEdited``), ``window.project``, ``window.tool_state``,
``window.canvas`` and ``window.menus``. Add a panel with :func:`register` (before the window
is built) or by appending to ``PANEL_MODULES``.
"""

from __future__ import annotations

import importlib
import traceback

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

PANEL_MODULES: list[str] = [
    "segstudio.gui.panels.file_list",
    "segstudio.gui.panels.label_panel",
    "segstudio.gui.panels.view_panel",       # view-only brightness/contrast/gamma (H2)
    # prediction, CRF, evaluation, batch (issue 8; shared controller: segstudio.gui.prediction)
    "segstudio.gui.panels.model_panel",
    "segstudio.gui.panels.crf_panel",
    "segstudio.gui.panels.metrics_panel",
    "segstudio.gui.panels.batch_panel",
]


def register(module: str) -> None:
    if module not in PANEL_MODULES:
        PANEL_MODULES.append(module)


def load_panels(window) -> dict[str, QDockWidget]:
    """Create every registered panel's dock; a broken optional panel is reported, not fatal."""
    docks: dict[str, QDockWidget] = {}
    for name in PANEL_MODULES:
        try:
            mod = importlib.import_module(name)
            dock = mod.create_panel(window)
        except Exception:  # noqa: BLE001 - a plug-in panel must not take the app down
            traceback.print_exc()
            continue
        if not dock.objectName():
            dock.setObjectName(name.rsplit(".", 1)[-1])
        window.addDockWidget(getattr(mod, "AREA", Qt.DockWidgetArea.RightDockWidgetArea), dock)
        # optional ``TABIFY_WITH = "<objectName>"``: share a tab group with that (earlier) dock
        other = next((d for d in docks.values() if d.objectName() == getattr(mod, "TABIFY_WITH", None)), None)
        if other is not None:
            window.tabifyDockWidget(other, dock)
            other.raise_()
        docks[name] = dock
    return docks
