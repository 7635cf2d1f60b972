"""Prediction in the app: background loading, responsive UI during inference, cancel, accept as
one undo step (painted pixels kept), prediction files, prefetch, uncertainty, load errors."""

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer

from guihelpers import drag, key
from predhelpers import load_and_wait, mask_copy, run_and_wait, slow_module, tiny_checkpoint
from segstudio.core.labels import preset
from segstudio.core.masks import read_mask
from segstudio.core.project import Project, Status
from segstudio.gui.prediction import engine
from segstudio.gui.prediction.engine import ModelSpec


@pytest.fixture
def no_default_model(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_RESOURCES", str(tmp_path / "no-resources"))


@pytest.fixture
def ckpt(tmp_path):
    return tiny_checkpoint(tmp_path / "tiny.pt")


def test_panel_without_default_model_then_checkpoint_runs_in_worker(no_default_model, make_window, demo_folder,
                                                                   ckpt, qtbot, monkeypatch):
    threads = []
    real_load, real_predict = engine.load_predictor, engine.predict
    monkeypatch.setattr(engine, "load_predictor",
                        lambda spec: threads.append(threading.current_thread()) or real_load(spec))
    monkeypatch.setattr(engine, "predict",
                        lambda *a: threads.append(threading.current_thread()) or real_predict(*a))
    win = make_window(demo_folder)
    panel, ctl = win.model_panel, win.prediction
    assert "not available" in panel.model_box.itemText(0)
    assert "Default model not available" in panel.state_label.text()
    assert not panel.load_button.isEnabled()
    panel.select_file(ckpt)
    assert win.settings.value("model/recent")[0] == str(ckpt.resolve())
    shown = []
    ctl.predictionChanged.connect(lambda k: shown.append((k, threading.current_thread())))
    cur = run_and_wait(win, qtbot)                       # Ctrl+R without a loaded model: loads, then runs
    assert threads and all(t is not threading.main_thread() for t in threads)
    assert shown and all(t is threading.main_thread() for _, t in shown)
    assert "unet" in panel.info_label.text() and "Sky" in panel.info_label.text()
    assert "mean (0.485" in panel.info_label.text()
    key_ = win.document.key
    assert cur.labels.shape == win.document.mask.shape and cur.probs.dtype == np.float16
    assert cur.probs.shape[0] == 11
    assert ctl.pred_layer.isVisible() and ctl.pred_layer.buffer.shape == cur.labels.shape
    proj = Project(win.project.folder)
    qtbot.waitUntil(lambda: proj.prediction_path(key_).exists(), timeout=5000)
    ctl.wait()
    np.testing.assert_array_equal(read_mask(proj.prediction_path(key_)), cur.labels)
    assert Project(win.project.folder).status(key_) == Status.PREDICTED
    assert not proj.mask_path(key_).exists()


def test_event_loop_keeps_running_during_slow_inference(make_window, demo_folder, qtbot):
    win = make_window(demo_folder)
    net = slow_module(0.3)
    load_and_wait(win, qtbot, ModelSpec(net, device="cpu", labels=preset("camvid")), prefetch=False)
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    run_and_wait(win, qtbot)
    timer.stop()
    assert net.calls == 1
    print(f"\n10 ms timer ticks during one 0.3 s forward pass: {len(ticks)}")
    assert len(ticks) >= 5, f"only {len(ticks)} timer ticks during a 0.3 s forward pass"


def test_cancel_discards_the_result(make_window, demo_folder, qtbot):
    win = make_window(demo_folder)
    net = slow_module(0.3)
    ctl = load_and_wait(win, qtbot, ModelSpec(net, device="cpu", labels=preset("camvid")), prefetch=False)
    ctl.run_current()
    assert ctl.busy and win.model_panel.cancel_button.isEnabled()
    win.model_panel.cancel_button.click()
    assert not ctl.busy
    ctl.wait()
    qtbot.wait(50)
    assert ctl.current is None and len(ctl.cache) == 0
    assert not ctl.pred_layer.isVisible()
    assert "Cancelled" in win.statusBar().currentMessage()


def test_accept_is_one_undo_step_and_keeps_painted_pixels(make_window, demo_folder, ckpt, qtbot):
    win = make_window(demo_folder)
    doc, ctl = win.document, win.prediction
    load_and_wait(win, qtbot, ModelSpec(str(ckpt), device="cpu"))
    key(win, Qt.Key.Key_2)
    drag(win, [(10, 10), (40, 12)])                      # the user paints class 2 first
    painted = doc.fixed_pixels().copy()
    assert painted.any()
    before = mask_copy(win)
    undo_len = len(doc.history().undo_stack)
    cur = run_and_wait(win, qtbot)
    key(win, Qt.Key.Key_Return)                          # Enter on the canvas accepts
    after = mask_copy(win)
    assert len(doc.history().undo_stack) == undo_len + 1
    np.testing.assert_array_equal(after[painted], before[painted])       # painted pixels kept
    np.testing.assert_array_equal(after[~painted], cur.labels[~painted])  # prediction elsewhere
    assert not ctl.pred_layer.isVisible()                 # accepted: the hatched layer is hidden
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(doc.mask, before)       # one undo restores the previous mask exactly
    key(win, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(doc.mask, after)


def test_fill_void_only_keeps_labelled_pixels(make_window, demo_folder, ckpt, qtbot):
    win = make_window(demo_folder)
    doc, ctl = win.document, win.prediction
    load_and_wait(win, qtbot, ModelSpec(str(ckpt), device="cpu"))
    start = np.full(doc.mask.shape, doc.labels.void_value, doc.mask.dtype)
    start[:, :20] = 4
    doc.apply_mask(start, "setup")
    run_and_wait(win, qtbot)
    win.model_panel.fill_void_box.setChecked(True)
    win.model_panel.accept_button.click()
    assert (doc.mask[:, :20] == 4).all()
    np.testing.assert_array_equal(doc.mask[:, 20:], ctl.current.labels[:, 20:])


def test_enter_still_closes_a_polygon_while_a_prediction_is_shown(make_window, demo_folder, ckpt, qtbot):
    win = make_window(demo_folder)
    load_and_wait(win, qtbot, ModelSpec(str(ckpt), device="cpu"))
    run_and_wait(win, qtbot)
    undo_len = len(win.document.history().undo_stack)
    key(win, Qt.Key.Key_P)
    from guihelpers import click
    for p in ((5, 5), (30, 5), (30, 30)):
        click(win, *p)
    key(win, Qt.Key.Key_Return)                           # closes the polygon, does not accept
    assert len(win.document.history().undo_stack) == undo_len + 1
    assert win.document.history().undo_stack[-1].description == "Polygon"
    assert win.prediction.pred_layer.isVisible()


def test_prefetch_next_image_then_instant_show(make_window, demo_folder, ckpt, qtbot):
    win = make_window(demo_folder)
    ctl = win.prediction
    load_and_wait(win, qtbot, ModelSpec(str(ckpt), device="cpu"))
    first = win.document.key
    run_and_wait(win, qtbot)
    nxt = win.file_model.neighbour(first, 1)
    qtbot.waitUntil(lambda: ctl._ck(nxt) in ctl.cache, timeout=10000)
    win.open_image(nxt)
    qtbot.waitUntil(lambda: win.document.key == nxt, timeout=5000)
    assert ctl.current is not None and ctl.current.key == nxt      # shown from the cache at once
    assert not ctl.busy


def test_uncertainty_heat_overlay(make_window, demo_folder, ckpt, qtbot):
    win = make_window(demo_folder)
    ctl = win.prediction
    load_and_wait(win, qtbot, ModelSpec(str(ckpt), device="cpu"))
    run_and_wait(win, qtbot)
    box = win.model_panel.uncertainty_box
    box.setCurrentIndex(box.findData("entropy"))
    qtbot.waitUntil(lambda: ctl.heat_layer.isVisible(), timeout=5000)
    assert ctl.heat_layer.buffer.shape == win.document.mask.shape
    box.setCurrentIndex(box.findData(None))
    assert not ctl.heat_layer.isVisible()


def test_bad_model_file_is_reported_not_raised(make_window, demo_folder, tmp_path, qtbot):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"this is not a checkpoint")
    win = make_window(demo_folder)
    win.model_panel.select_file(bad)
    win.prediction.run_current()
    qtbot.waitUntil(lambda: win.prediction.state == "failed", timeout=20000)
    assert "Load failed" in win.model_panel.state_label.text()
    assert "broken.pt" in win.statusBar().currentMessage()
    assert not win.prediction.busy


def test_device_list_from_the_doctor_report(make_window, demo_folder):
    win = make_window(demo_folder)
    panel = win.model_panel
    panel._devices({"cuda_devices": [{"index": 0, "name": "Fake GPU", "memory_gib": 8.0}],
                    "why": "GPU used: Fake GPU (CUDA is available: 1 device(s))"})
    assert panel.device_box.findData("cuda:0") >= 0 and "Fake GPU" in panel.device_box.itemText(2)
    assert "GPU used" in panel.device_note.text()
    panel._devices({"cuda_devices": [], "why": "CPU used: this PyTorch build has no CUDA support"})
    assert panel.device_box.count() == 2 and "no CUDA support" in panel.device_note.text()
    panel.device_box.setCurrentIndex(1)
    panel.engine_box.setCurrentIndex(panel.engine_box.findData("onnxruntime"))
    panel.tile_box.setCurrentIndex(panel.tile_box.findData(512))
    spec = win.prediction.spec
    assert (spec.device, spec.engine, spec.tile) == ("cpu", "onnxruntime", 512)
