"""Main window: assembles the document, canvas, panels, actions, start page and status bar.

It owns little logic itself: folder opening (with crash-journal recovery), image
navigation, the label editor round trip, and layout persistence. Plug-in panels get this
window and use its public API:

* ``document`` — the open image (``key``, ``mask``, ``image``, ``labels``, ``apply_mask``,
  ``fixed_pixels``, signals ``imageChanged(key)`` / ``maskEdited(bbox)``);
  the same API is mirrored here: :meth:`current_key`, :meth:`current_mask`,
  :meth:`apply_mask`, :meth:`fixed_pixels`, :attr:`imageChanged`, :attr:`maskEdited`;
* ``project``, ``tool_state``, ``canvas``, ``menus`` (name -> QMenu), ``settings``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QProgressDialog, QStackedWidget

from segstudio.core import journal
from segstudio.core.errors import SegStudioError
from segstudio.core.project import Project, Status
from segstudio.gui import panels
from segstudio.gui.actions import Actions
from segstudio.gui.canvas.tools import ToolState
from segstudio.gui.canvas.view import CanvasView
from segstudio.gui.class_keymap import ClassKeymap
from segstudio.gui.document import Document
from segstudio.gui.input_guard import InputGuard
from segstudio.gui.learning_binding import LearningBinding
from segstudio.gui.label_changes import LabelController
from segstudio.gui.panels.file_list import FileListModel
from segstudio.gui.settings import AppSettings
from segstudio.gui.start_page import StartPage
from segstudio.gui.status_bar import StatusBar


class MainWindow(QMainWindow):
    imageChanged = Signal(str)     # mirrors document.imageChanged
    maskEdited = Signal(object)    # mirrors document.maskEdited (dirty bbox)
    modelTrained = Signal(str)     # "Use this model" in the retrain dialog: checkpoint path
    predictionsWritten = Signal()  # stored predictions changed in bulk (a batch run finished)

    def __init__(self, settings: AppSettings | None = None, autosave_ms: int | None = None,
                 confirm=None) -> None:
        super().__init__()
        self.setWindowTitle("SegStudio")
        self.settings = settings or AppSettings()
        self.project: Project | None = None
        self._workspace_state: QByteArray | None = None
        self.document = Document(self, autosave_ms=autosave_ms)
        self.tool_state = ToolState(self)
        self.canvas = CanvasView(self.document, self.tool_state)
        self.document.loader.preparers.append(self.canvas.prepare)
        self.file_model = FileListModel(self)
        self.labels = LabelController(self.document, confirm or self._confirm, self._progress)
        self.start_page = StartPage()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.start_page)
        self.stack.addWidget(self.canvas)
        self.setCentralWidget(self.stack)
        self.status = StatusBar(self.document, self)
        self.setStatusBar(self.status)
        self.input_guard = InputGuard(self)     # window shortcuts yield to text fields; docked wheel
        self.actions_ = Actions(self)
        self.menus = self.actions_.menus
        self.docks = panels.load_panels(self)
        for dock in self.docks.values():
            self.menus["panels"].addAction(dock.toggleViewAction())
        self.input_guard.guard_wheel_focus()
        self.class_keymap = ClassKeymap(self, self.actions_._pick_class)   # after every other shortcut
        self.class_keymap.rebind()
        self._wire()
        self.learning = LearningBinding(self)     # Model ▸ Learn while I label (opt-in, remembered)
        self.actions_.by_name["learn"].setChecked(self.learning.enabled)
        self._restore_layout()
        self._show_start()

    # -- wiring -----------------------------------------------------------------------------
    def _wire(self) -> None:
        doc = self.document
        doc.imageChanged.connect(self.imageChanged)
        doc.maskEdited.connect(self.maskEdited)
        doc.imageChanged.connect(self._image_changed)
        doc.loadFailed.connect(lambda key, msg: self.status.error(f"Cannot open {key}: {msg}"))
        doc.message.connect(self.status.error)
        doc.statusChanged.connect(self.file_model.set_status)
        doc.historyChanged.connect(self._history_changed)
        doc.saver.saved.connect(lambda _k: self.status.set_saved(doc.dirty))
        doc.maskEdited.connect(lambda _b: self.status.set_saved(True))
        self.canvas.cursorMoved.connect(self.status.cursor_moved)
        self.canvas.zoomChanged.connect(self.status.zoom_changed)
        self.start_page.openRequested.connect(self.choose_folder)
        self.start_page.folderChosen.connect(self.open_folder)
        self.file_model.listed.connect(self._listed)
        self.file_model.scanFailed.connect(self.status.error)
        self.file_model.skipped.connect(self._skipped_entries)

    # -- public API for panels ------------------------------------------------------------------
    def current_key(self) -> str | None:
        return self.document.key

    def current_mask(self) -> np.ndarray | None:
        return self.document.mask

    def apply_mask(self, new_mask: np.ndarray, description: str) -> bool:
        return self.document.apply_mask(new_mask, description)

    def fixed_pixels(self) -> np.ndarray | None:
        return self.document.fixed_pixels()

    # -- folders --------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = self.settings.recent_folders()[0] if self.settings.recent_folders() else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open image folder", start)
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder: str | Path) -> bool:
        try:
            project = Project(folder)
        except SegStudioError as exc:
            self.status.error(str(exc))
            QMessageBox.warning(self, "Open folder", str(exc)) if self.isVisible() else None
            return False
        self.close_folder()
        recovered, errors = journal.recover(project)
        for e in [*project.warnings, *errors]:  # bad state.json/labels.json were set aside (issue 14)
            self.status.error(e)
        if recovered:
            self.status.error(f"Recovered unsaved edits of {len(recovered)} image(s) from the crash journal")
        self.project = project
        self.document.set_project(project)
        self.file_model.set_project(project)
        self.learning.project_changed()
        self.settings.add_recent(project.folder)
        self.setWindowTitle(f"{project.folder.name} — SegStudio")
        self._show_workspace()
        self.status.showMessage(f"Listing {project.folder} …")
        return True

    def close_folder(self) -> None:
        if self.project is None:
            return
        self.document.set_project(None)
        self.file_model.set_project(None)
        self.project = None
        self.learning.project_changed()
        self._show_start()

    def _show_start(self) -> None:
        if self._workspace_state is None:
            self._workspace_state = self.saveState()   # docks/tool bars as the user arranged them
            for dock in self.docks.values():
                dock.hide()
            for tb in self.actions_.toolbars:
                tb.hide()
        self.start_page.set_recent(self.settings.recent_folders())
        self.stack.setCurrentWidget(self.start_page)
        self.setWindowTitle("SegStudio")
        self.actions_.set_editing_enabled(False)

    def _show_workspace(self) -> None:
        self.stack.setCurrentWidget(self.canvas)
        if self._workspace_state is not None:
            state, self._workspace_state = self._workspace_state, None
            for tb in self.actions_.toolbars:
                tb.show()
            for dock in self.docks.values():
                dock.show()
            self.restoreState(state)
        self.actions_.set_editing_enabled(True)

    def _skipped_entries(self, messages: list[str]) -> None:
        more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
        self.status.error(f"{len(messages)} folder entr{'y' if len(messages) == 1 else 'ies'} skipped: "
                          f"{messages[0]}{more}")

    def _listed(self, count: int) -> None:
        if self.project is not None and not count:
            self.status.error(self.file_model.empty_reason)     # scan_folder sets it whenever it finds none
            self.canvas.show_message(self.file_model.empty_reason)
            return
        self.status.showMessage(f"{count} images in {self.project.folder}" if self.project else "", 5000)
        if count and self.document.key is None and not self.document.loading:
            last = self.settings.value(self._last_key_setting(), None, str)
            key = last if last and self.file_model.path_of(last) is not None else self.file_model.key_at(0)
            if key is not None:
                self.open_image(key)

    def _last_key_setting(self) -> str:
        folder = str(self.project.folder) if self.project else ""
        return "last_image/" + hashlib.sha1(folder.encode("utf-8")).hexdigest()[:16]

    # -- images ---------------------------------------------------------------------------------
    def open_image(self, key: str) -> None:
        if self.project is None or key == self.document.key and not self.document.loading:
            return
        path = self.file_model.path_of(key)
        if path is None:
            return
        self.document.open(key, path)

    def step_image(self, step: int) -> None:
        key = self.file_model.neighbour(self.document.key or self.document._loading, step)
        if key is not None:
            self.open_image(key)

    def mark_reviewed(self) -> None:
        if self.document.key is not None:
            self.document.set_status(self.document.key, Status.REVIEWED)
            self.status.showMessage(f"{self.document.key}: reviewed", 3000)

    def _image_changed(self, key: str) -> None:
        if key and self.project is not None:
            self.setWindowTitle(f"{key} — {self.project.folder.name} — SegStudio")
            self.settings.set(self._last_key_setting(), key)
            self.status.set_saved(self.document.dirty)
            self.canvas.setFocus()
        self._history_changed()

    def _history_changed(self) -> None:
        """Undo / Redo enabled as the history allows, named after the step they would take."""
        hist = self.document.history()
        stacks = (hist.undo_stack, hist.redo_stack) if hist is not None else (None, None)
        for name, stack in zip(("undo", "redo"), stacks):
            act = self.actions_[name]
            act.setEnabled(bool(stack))
            act.setText(f"&{name.capitalize()} {stack[-1].description}" if stack else f"&{name.capitalize()}")

    # -- labels --------------------------------------------------------------------------------
    def edit_labels(self) -> None:
        from segstudio.gui.panels.label_editor import LabelEditor

        if self.project is None:
            return
        dlg = LabelEditor(self.document.labels, self)
        if dlg.exec():
            new, sources = dlg.result()
            self.labels.apply(new, sources, "Edit labels")

    def _confirm(self, text: str) -> bool:
        return QMessageBox.question(self, "SegStudio", text) == QMessageBox.StandardButton.Yes

    def _progress(self, done: int, total: int) -> bool:
        if total < 20:
            return True
        if done == 0:
            self._pd = QProgressDialog("Rewriting masks…", "Stop", 0, total, self)
            self._pd.setMinimumDuration(300)
        self._pd.setValue(done)
        if done == total - 1:
            QTimer.singleShot(0, self._pd.close)
        return not self._pd.wasCanceled()

    # -- layout and closing ----------------------------------------------------------------------
    def _restore_layout(self) -> None:
        geometry, state = self.settings.layout()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            screen = QGuiApplication.primaryScreen()
            avail = screen.availableGeometry() if screen is not None else None
            w, h = 1400, 900
            if avail is not None:
                w, h = min(w, int(avail.width() * 0.92)), min(h, int(avail.height() * 0.92))
            self.resize(w, h)
        if state is not None:
            self.restoreState(state)
        self.actions_.opacity.setValue(int(self.settings.value("view/opacity", 50, int)))

    def save_layout(self) -> None:
        state = self._workspace_state if self._workspace_state is not None else self.saveState()
        self.settings.save_layout(self.saveGeometry(), state)
        self.settings.set("view/opacity", self.actions_.opacity.value())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        training = getattr(self, "_train_dialog", None)   # retrain dialog (segstudio.gui.dialogs)
        if training is not None and training.running():
            if not self._confirm("A training is still running. Stop it and quit?"):
                event.ignore()
                return
            training.shutdown()
        self.learning.shutdown()
        self.document.end_stroke()
        self.document.saver.flush()
        self.save_layout()
        self.file_model.wait()
        self.document.wait_loaded()
        super().closeEvent(event)

    def wait_idle(self) -> None:
        """Tests: let background listing/loading finish and deliver results."""
        from PySide6.QtWidgets import QApplication
        self.file_model.wait()
        self.document.wait_loaded()
        QApplication.processEvents()


