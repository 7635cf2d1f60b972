"""The Model panel's test-time augmentation choice reaches the Predictor (and the batch), and a
tiled image's progress comes from the worker through a queued signal to the window (status bar,
Model panel, Batch panel); cancelling a tiled prediction stops it at the next tile."""

import re
import threading

import numpy as np
import pytest

from guihelpers import make_images
from predhelpers import load_and_wait, run_and_wait, tiny_checkpoint
from segstudio.core.images import read_image
from segstudio.core.labels import preset
from segstudio.gui.prediction.engine import ModelSpec

TILE = 128          # a 300×300 image tiles 3×3 at this size (fitted tiles, overlap 128 capped)


@pytest.fixture
def ckpt(tmp_path):
    return tiny_checkpoint(tmp_path / "tiny.pt")


@pytest.fixture
def big_folder(tmp_path):
    return make_images(tmp_path / "big", n=1, size=(300, 300), seed=3)


def _direct(ckpt, rgb, **kwargs):
    from segstudio.models.predictor import Predictor

    return Predictor(str(ckpt), device="cpu", engine="torch", **kwargs).predict(rgb).labels


def test_tta_choice_reaches_the_predictor_and_is_remembered(make_window, demo_folder, ckpt, qtbot):
    win = make_window(demo_folder)
    panel, ctl = win.model_panel, win.prediction
    assert [panel.tta_box.itemData(i) for i in range(panel.tta_box.count())] == ["none", "flip", "ms"]
    assert "2×" in panel.tta_box.toolTip() and "6×" in panel.tta_box.toolTip()
    panel.select_file(ckpt)
    panel.engine_box.setCurrentIndex(panel.engine_box.findData("torch"))
    panel.tta_box.setCurrentIndex(panel.tta_box.findData("flip"))
    assert ctl.spec.tta == "flip" and win.settings.value("model/tta") == "flip"
    ctl.prefetch = False
    cur = run_and_wait(win, qtbot)                          # Ctrl+R loads the chosen model, then runs
    assert ctl.model.predictor.tta == "flip"
    assert "Test-time augmentation: Flip" in panel.info_label.text()
    rgb = read_image(win.project.images[win.document.key]).rgb
    flip = _direct(ckpt, rgb, tta="flip")
    np.testing.assert_array_equal(cur.labels, flip)         # the same labels as Predictor(tta="flip")
    assert (flip != _direct(ckpt, rgb)).any()               # and flip is not a no-op on this model
    flip_identity = ctl.model.identity
    panel.tta_box.setCurrentIndex(panel.tta_box.findData("none"))
    assert "choice changed" in panel.state_label.text()
    cur = run_and_wait(win, qtbot)                          # a new spec: the predictor is rebuilt
    assert ctl.model.predictor.tta == "none" and ctl.model.identity != flip_identity
    np.testing.assert_array_equal(cur.labels, _direct(ckpt, rgb))
    panel.tta_box.setCurrentIndex(panel.tta_box.findData("ms"))
    again = make_window()                                   # the same settings file: ms preselected
    assert again.model_panel.tta_box.currentData() == "ms" and again.model_panel.spec().tta == "ms"


def test_tiled_image_progress_reaches_the_window_from_the_worker(make_window, big_folder, ckpt, qtbot):
    win = make_window(big_folder)
    panel, ctl = win.model_panel, win.prediction
    load_and_wait(win, qtbot, ModelSpec(str(ckpt), device="cpu", engine="torch", tile=TILE), prefetch=False)
    key_ = win.document.key
    seen, messages = [], []
    # connected after the panel's slot: sees the panel already updated
    ctl.tileProgress.connect(lambda k, d, n: seen.append((k, d, n, threading.current_thread(),
                                                          panel.progress_label.text(), panel.progress.maximum(),
                                                          win.statusBar().currentMessage())))
    win.statusBar().messageChanged.connect(messages.append)
    cur = run_and_wait(win, qtbot)
    total = 9
    assert [s[:3] for s in seen] == [(key_, d, total) for d in range(1, total + 1)]
    assert all(s[3] is threading.main_thread() for s in seen)
    assert seen[4][4] == seen[4][6] == f"Predicting {key_}: 55 % (tile 5 of {total})" and seen[4][5] == total
    assert f"Predicting {key_}: 100 % (tile {total} of {total})" in messages
    assert messages[-1].startswith(f"{key_}: prediction ready")
    assert not panel.progress_label.isVisible() and panel.progress.maximum() == 0   # reset when done
    rgb = read_image(win.project.images[key_]).rgb
    np.testing.assert_array_equal(cur.labels, _direct(ckpt, rgb, tile=TILE))


def _gated_module(gate: threading.Event, classes: int = 11):
    """A 1×1 conv whose second forward waits for ``gate`` (so cancel lands between two tiles)."""
    import torch

    class Gated(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, classes, 1)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if self.calls == 2:
                gate.wait(10)
            return self.conv(x)

    return Gated()


def test_cancel_stops_a_tiled_prediction_at_the_next_tile(make_window, big_folder, qtbot):
    win = make_window(big_folder)
    ctl = win.prediction
    gate = threading.Event()
    net = _gated_module(gate)
    load_and_wait(win, qtbot, ModelSpec(net, device="cpu", tile=TILE, labels=preset("camvid")), prefetch=False)
    def cancel_after_first_tile(k, done, n):
        if not gate.is_set():
            win.model_panel.cancel_button.click()
            gate.set()

    ctl.tileProgress.connect(cancel_after_first_tile)
    messages = []
    win.statusBar().messageChanged.connect(messages.append)
    ctl.run_current()
    qtbot.waitUntil(lambda: gate.is_set() and not ctl._inflight, timeout=10000)
    assert net.calls == 2                                   # tile 2 finished, tiles 3..9 never ran
    assert ctl.current is None and not ctl.busy and len(ctl.cache) == 0
    assert not any("failed" in m for m in messages) and any(m.startswith("Cancelled") for m in messages)
    cur = run_and_wait(win, qtbot)                          # Ctrl+R again runs it to the end
    assert cur is not None and net.calls == 2 + 9


def test_ctrl_r_again_while_a_cancelled_tiled_prediction_stops(make_window, big_folder, qtbot):
    win = make_window(big_folder)
    ctl = win.prediction
    gate = threading.Event()
    net = _gated_module(gate)
    load_and_wait(win, qtbot, ModelSpec(net, device="cpu", tile=TILE, labels=preset("camvid")), prefetch=False)

    def cancel_then_ask_again(k, done, n):
        if not gate.is_set():
            ctl.cancel()
            gate.set()
            ctl.workers.wait()           # the worker has stopped at tile 2; its error is still queued
            ctl.run_current()            # asked for again before the GUI heard it stopped

    ctl.tileProgress.connect(cancel_then_ask_again)
    ctl.run_current()
    qtbot.waitUntil(lambda: ctl.current is not None and not ctl.busy, timeout=10000)
    assert net.calls == 2 + 9            # stopped after 2 tiles, then predicted again in full


def test_batch_panel_shows_the_current_image_percentage(make_window, big_folder, ckpt, qtbot):
    win = make_window(big_folder)
    panel = win.batch_panel
    load_and_wait(win, qtbot, ModelSpec(str(ckpt), device="cpu", engine="torch", tile=TILE), prefetch=False)
    texts, values = [], []
    panel.runner.progress.connect(lambda p: (texts.append(panel.status.text()), values.append(panel.progress.value())))
    assert panel.start("all")
    qtbot.waitUntil(lambda: panel.summary is not None, timeout=20000)
    assert "1 of 1 images predicted" in panel.status.text()
    key_ = win.document.key
    within = [t for t in texts if re.search(rf"{key_} \d+ %", t)]
    assert f"0/1 · {key_} 55 %" in texts, texts
    assert len(within) == 8                                 # tiles 1..8 of 9 (the 9th is 100 %: shown as done)
    assert panel.progress.maximum() == 100 and 0 < min(v for v in values if v) < 100 <= max(values)
