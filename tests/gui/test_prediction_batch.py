"""Batch prediction in the app: writes predictions/ only (never masks/), statuses, pause, and
cancel stopping within one image."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from guihelpers import make_images
from predhelpers import load_and_wait, slow_module, tiny_checkpoint
from segstudio.core.labels import preset
from segstudio.core.project import Project, Status
from segstudio.gui.prediction.engine import ModelSpec


def test_batch_writes_predictions_never_masks(make_window, demo_folder, tmp_path, qtbot):
    proj = Project(demo_folder)
    first = proj.keys()[0]
    proj.write_mask(first, np.full((60, 80), 2, np.uint8))
    mask_bytes = proj.mask_path(first).read_bytes()
    win = make_window(demo_folder)
    ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    win.model_panel.select_file(ckpt)
    panel = win.batch_panel
    panel.crf_box.setChecked(True)
    assert panel.start("all")                              # loads the chosen model first
    qtbot.waitUntil(lambda: panel.summary is not None, timeout=30000)
    assert sorted(panel.summary.written) == sorted(proj.keys()) and not panel.summary.failed
    proj = Project(demo_folder)
    assert all(proj.prediction_path(k).exists() for k in proj.keys())
    assert proj.mask_path(first).read_bytes() == mask_bytes          # the user's mask untouched
    assert not any(proj.mask_path(k).exists() for k in proj.keys()[1:])
    assert proj.status(first) == Status.EDITED
    assert all(proj.status(k) == Status.PREDICTED for k in proj.keys()[1:])
    row = win.file_model.row_of(proj.keys()[1])
    assert win.file_model.status_of(row) == Status.PREDICTED         # the image list was told
    assert "3 of 3 images predicted" in panel.status.text()
    # the batch records each image's uncertainty, which "Next image needing attention" ranks by
    from segstudio.core import attention

    scores = attention.read_scores(proj)
    assert sorted(scores) == sorted(proj.keys()) and all(0.0 <= v <= 1.0 for v in scores.values())


@pytest.fixture
def five_images(tmp_path):
    return make_images(tmp_path / "five", n=5)


def test_batch_cancel_stops_within_one_image(make_window, five_images, qtbot):
    win = make_window(five_images)
    load_and_wait(win, qtbot, ModelSpec(slow_module(0.3), device="cpu", labels=preset("camvid")), prefetch=False)
    panel = win.batch_panel
    # cancel as soon as one image is written, from the worker itself (a queued slot on a loaded machine
    # can run images later; the runner's cancel is a thread-safe event)
    panel.runner.imageDone.connect(lambda *_: panel.runner.cancel(), Qt.ConnectionType.DirectConnection)
    panel.start("all")
    qtbot.waitUntil(lambda: panel.summary is not None, timeout=20000)
    s = panel.summary
    assert s.cancelled and 1 <= len(s.written) <= 2, s.written
    assert "cancelled" in panel.status.text()
    assert panel.start_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_batch_pause_and_resume(make_window, five_images, qtbot):
    win = make_window(five_images)
    load_and_wait(win, qtbot, ModelSpec(slow_module(0.1), device="cpu", labels=preset("camvid")), prefetch=False)
    panel = win.batch_panel
    written = []
    panel.runner.imageDone.connect(lambda k, _s: written.append(k))
    panel.start("unlabelled")
    qtbot.waitUntil(lambda: len(written) >= 1, timeout=10000)
    panel.toggle_pause()
    assert panel.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: "paused" in panel.status.text(), timeout=10000)   # the worker is holding
    held = len(written)
    qtbot.wait(400)
    assert len(written) == held                      # nothing is predicted while paused
    panel.toggle_pause()
    qtbot.waitUntil(lambda: panel.summary is not None, timeout=20000)
    assert len(panel.summary.written) == 5 and not panel.summary.cancelled
