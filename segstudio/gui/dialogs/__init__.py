"""Dialogs opened from the main window's menus, and the glue that opens them.

* :func:`open_export_dialog` — File > Export… (:mod:`.export_dialog`);
* :func:`open_train_dialog` — Model > Retrain on my corrections… (:mod:`.train_dialog`);
* :func:`deliver_model` — hands a freshly trained checkpoint to whoever can load it.

Dialog modules are imported when first opened, so starting the app costs nothing. Both dialogs
save the open image first (``document.save(wait=True)``) so that they see the latest edits.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMetaMethod
from PySide6.QtWidgets import QMessageBox


def _save_first(win) -> None:
    win.document.save(wait=True)


def _no_project(win, what: str) -> bool:
    if getattr(win, "project", None) is None:
        QMessageBox.information(win, what, "Open an image folder first.")
        return True
    return False


def open_export_dialog(win):
    """Show the export dialog for the window's project (window-modal); returns it."""
    if _no_project(win, "Export"):
        return None
    from segstudio.gui.dialogs.export_dialog import ExportDialog

    dlg = ExportDialog(win.project, win, settings=getattr(win, "settings", None), before_export=lambda: _save_first(win))
    dlg.setModal(True)
    dlg.finished.connect(dlg.deleteLater)
    dlg.show()
    return dlg


def open_train_dialog(win):
    """Show the retrain dialog (one per window; a running training is shown again, not restarted)."""
    dlg = getattr(win, "_train_dialog", None)
    if dlg is not None and (dlg.running() or (win.project is not None and dlg.project.folder == win.project.folder)):
        dlg.show()
        dlg.raise_()
        dlg.activateWindow()
        return dlg
    if _no_project(win, "Retrain"):
        return None
    from segstudio.gui.dialogs.train_dialog import TrainDialog

    if dlg is not None:
        dlg.deleteLater()
    dlg = TrainDialog(win.project, win, settings=getattr(win, "settings", None), before_start=lambda: _save_first(win))
    dlg.modelReady.connect(lambda path: deliver_model(win, path))
    win._train_dialog = dlg
    dlg.show()
    return dlg


def deliver_model(win, path: str | Path) -> bool:
    """Offer a trained checkpoint to the app; True if something took it.

    In order: ``win.modelTrained`` (a signal, if connected), ``win.on_model_trained(path)`` (a
    callback attribute) and a model panel exposing ``set_checkpoint(path)`` (``win.model_panel``
    or any dock's widget). The path is in the settings list ``model/recent`` in any case (the
    dialog put it there); if nobody took it the user is told where it is.
    """
    path = str(path)
    taken = False
    signal = getattr(win, "modelTrained", None)
    if signal is not None:
        try:
            connected = win.isSignalConnected(QMetaMethod.fromSignal(signal))
        except (AttributeError, TypeError, RuntimeError):
            connected = False
        signal.emit(path)
        taken = connected
    hook = getattr(win, "on_model_trained", None)
    if callable(hook):
        hook(path)
        taken = True
    if not taken:
        for panel in _model_panels(win):
            panel.set_checkpoint(path)
            taken = True
            break
    if taken:
        status = getattr(win, "status", None)
        if status is not None:
            status.showMessage(f"Using the retrained model {Path(path).name}", 8000)
    else:
        QMessageBox.information(win, "Retrained model",
                                f"The new model is saved as\n{path}\n\nIt was added to the recent models; "
                                "load it in the model panel to predict with it.")
    return taken


def _model_panels(win) -> list:
    found = []
    direct = getattr(win, "model_panel", None)
    if direct is not None and callable(getattr(direct, "set_checkpoint", None)):
        found.append(direct)
    for dock in getattr(win, "docks", {}).values():
        widget = dock.widget() if hasattr(dock, "widget") else None
        for obj in (dock, widget):
            if obj is not None and obj not in found and callable(getattr(obj, "set_checkpoint", None)):
                found.append(obj)
    return found
