"""Learning in the loop (opt-in): retrain in the background after every N newly accepted/edited images.

:class:`LearningLoop` only binds: the decisions are :class:`segstudio.core.learning.RetrainTrigger`
(when), the trainer's own held-out comparison (``segstudio train --from CURRENT`` scores the
current model and the new one on the same held-out reviewed images; see
:func:`segstudio.core.learning.compare_models`) and :func:`segstudio.core.learning.keys_to_repredict`
(what). Flow: ``note(key, status)`` (connect ``Document.statusChanged``) counts; when due, a
:class:`~segstudio.gui.training_process.TrainingProcess` fine-tunes the current model with a time
budget; when it ends with ``improved: true`` on a firm verdict (not a small difference on a few
held-out images, ``firm: false``, which is reported and not taken), ``betterModel(path)`` is emitted and
``repredict(path, keys)`` is called with the images not edited or reviewed — user masks are never
touched (re-prediction writes ``predictions/`` only, see ``BatchRunner``). A model that is not
better is dropped with a ``message``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal

from segstudio.core.learning import RetrainTrigger, keys_to_repredict
from segstudio.core.project import Project
from segstudio.gui.dialogs.train_files import default_output
from segstudio.gui.training_process import DONE, TrainingProcess


class LearningLoop(QObject):
    betterModel = Signal(str)     # path of a retrained model that beat the current one
    message = Signal(str)

    def __init__(self, project: Project, current_model: Callable[[], str | None],
                 repredict: Callable[[str, list[str]], None], every: int = 10, minutes: float = 3.0,
                 parent: QObject | None = None, program: str | None = None, extra_args: list[str] | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.current_model = current_model
        self.repredict = repredict
        self.trigger = RetrainTrigger(every=every)
        self.minutes = minutes
        self.enabled = True
        self.process = TrainingProcess(self)
        self.process.ended.connect(self._ended)
        self._program = program                # tests: a stand-in for ``segstudio train``
        self._extra = list(extra_args or [])
        self.out_path: Path | None = None
        self.pending = False                   # more work arrived while training: retrain again after

    def note(self, key: str, status: str) -> None:
        """An image's status changed (accepted / edited / reviewed count)."""
        if self.enabled and self.trigger.note(key, str(getattr(status, "value", status))):
            if self.process.running():
                self.pending = True
            else:
                self.start()

    def start(self) -> bool:
        base = self.current_model()
        if not base or not Path(base).is_file():
            self.message.emit("Learning loop: no current model to fine-tune; load one first.")
            return False
        covered = self.trigger.started()
        self.out_path = default_output(self.project.folder)
        args = ["--project", str(self.project.folder), "--only", "edited", "--from", str(base),
                "--max-minutes", f"{self.minutes:g}", "--out", str(self.out_path), "--json-progress", *self._extra]
        self.message.emit(f"Learning loop: retraining on {len(covered)} new image(s) in the background…")
        if self._program:
            self.process.start(args, program=self._program)
        else:
            self.process.start(args)
        return True

    def _ended(self, outcome: str, code: int) -> None:
        done = next((r for r in reversed(self.process.records) if r.get("event") == "done"), {})
        if outcome == DONE and done.get("improved") and not done.get("firm", True):
            self.message.emit(f"Learning loop: {done.get('verdict')} Not taken automatically on so little "
                              "evidence; the current model is kept and the next round compares again.")
        elif outcome == DONE and done.get("improved") and self.out_path is not None and self.out_path.is_file():
            keys = keys_to_repredict(self.project.statuses())
            self.message.emit(f"Learning loop: {done.get('verdict', 'the new model is better.')} "
                              f"Re-predicting {len(keys)} image(s) not yet reviewed.")
            self.betterModel.emit(str(self.out_path))
            self.repredict(str(self.out_path), keys)
        elif outcome == DONE:
            self.message.emit("Learning loop: " + (done.get("verdict") or "the new model was not compared; kept "
                                                   "the current one."))
        else:
            self.message.emit(f"Learning loop: retraining ended ({outcome}); the current model is kept.")
        if self.pending:
            self.pending = False
            if self.trigger.due():
                self.start()

    def shutdown(self) -> None:
        self.process.kill()
        self.process.wait(5000)
