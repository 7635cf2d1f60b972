"""Model ▸ Learn while I label: binds the opt-in learning loop (:mod:`segstudio.gui.learning_loop`)
to the main window.

When on, every status change of the open project (accepting, editing, reviewing) is counted by the
loop; after ``learning/every`` new images (default 10) the current model is fine-tuned in a
background process for ``learning/minutes`` (default 3). Only a model that beats the current one on
the held-out reviewed images is taken: it becomes the chosen model and the images not yet edited or
reviewed are re-predicted by the Batch panel (``predictions/`` only; user masks are never touched).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject


class LearningBinding(QObject):
    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.win = window
        self.loop: Any = None
        self.enabled = bool(window.settings.value("learning/enabled", False, bool))
        self.every = int(window.settings.value("learning/every", 10, int))
        self.minutes = float(window.settings.value("learning/minutes", 3.0, float))
        window.document.statusChanged.connect(self._status_changed)

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        self.win.settings.set("learning/enabled", self.enabled)
        if self.enabled:
            self._make()
            if self.loop is not None:
                self.win.status.error(f"Learning loop on: the model is fine-tuned in the background after every "
                                      f"{self.every} accepted or edited images ({self.minutes:g} min each); a new "
                                      f"model is used only if it scores better on your reviewed images.")
        else:
            self._drop()

    def project_changed(self) -> None:
        self._drop()
        if self.enabled:
            self._make()

    def _make(self) -> None:
        if self.loop is not None or self.win.project is None:
            return
        from segstudio.gui.dialogs.train_files import current_model
        from segstudio.gui.learning_loop import LearningLoop

        self.loop = LearningLoop(self.win.project, lambda: str(current_model(self.win) or ""), self._repredict,
                                 every=self.every, minutes=self.minutes, parent=self)
        self.loop.message.connect(self.win.status.error)

    def _drop(self) -> None:
        if self.loop is not None:
            self.loop.shutdown()
            self.loop.deleteLater()
            self.loop = None

    def _status_changed(self, key: str, status: str) -> None:
        if self.loop is not None:
            self.loop.note(key, status)

    def _repredict(self, path: str, keys: list[str]) -> None:
        """The better model becomes the chosen one; the images not yet edited or reviewed are re-predicted."""
        self.win.model_panel.select_file(path)
        if keys:
            self.win.batch_panel.start(list(keys))

    def shutdown(self) -> None:
        self._drop()
