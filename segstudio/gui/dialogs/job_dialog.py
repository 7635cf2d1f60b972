"""What the import and export dialogs share: a format chooser with its description, and the
run / progress / cancel / close behaviour of a dialog whose job runs on one worker thread.

A dialog mixes in :class:`JobDialogMixin` before ``QDialog`` and provides ``running``,
``cancel_event``, ``workers`` (a one-thread :class:`~segstudio.gui.workers.Workers`), ``progress``
and ``status`` widgets. Escape, Close and the window's close button cancel a running job (the dialog
stays until it has stopped) and close an idle one.
"""

from __future__ import annotations

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout


def format_chooser(names, object_name: str) -> tuple[QComboBox, QLabel, QVBoxLayout]:
    """A combo of format ``names`` over a wrapped, greyed description label (the caller fills it)."""
    combo = QComboBox()
    combo.setObjectName(object_name)
    for name in names:
        combo.addItem(name, name)
    info = QLabel()
    info.setWordWrap(True)
    info.setStyleSheet("color: palette(placeholder-text);")
    box = QVBoxLayout()
    box.setSpacing(2)
    box.addWidget(combo)
    box.addWidget(info)
    return combo, info, box


class JobDialogMixin:
    def status_text(self, text: str) -> str:
        """How a progress message is shown in the status label (rich-text dialogs escape it)."""
        return text

    def cancel(self) -> None:
        if self.running and self.cancel_event is not None:
            self.cancel_event.set()
            self.status.setText("Cancelling…")

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if not self.running:
            return
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(min(done, total))
        self.status.setText(self.status_text(message[:1].upper() + message[1:] + ("…" if done < total else "")))

    def _close_or_cancel(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.reject()

    def wait(self, msecs: int = -1) -> bool:
        """Block until the worker thread is idle (its result is then delivered by the event loop)."""
        return self.workers.wait(msecs)

    def reject(self) -> None:
        if self.running:          # Esc while the job runs: cancel; the dialog stays until it has stopped
            self.cancel()
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if self.running:
            self.cancel()
            self.workers.wait()
        super().closeEvent(event)
