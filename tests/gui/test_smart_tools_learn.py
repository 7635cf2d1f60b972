"""Learning brush (K) driven by real mouse events on the canvas viewport."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from guihelpers import OBJECT_RECT, click, drag, key, object_mask, two_tone_folder

from segstudio.core.tools import learn_brush

RECT = OBJECT_RECT   # a red object on a dark background


@pytest.fixture
def scene_window(make_window, tmp_path):
    return make_window(two_tone_folder(tmp_path, "scene"))


rect_mask = object_mask


def model_probs(n):
    """Class 1 on top everywhere; inside RECT class 2 is its close runner-up."""
    p = np.full((n, 60, 80), 0.02, np.float32)
    p[1] = 0.9
    p[1][rect_mask()], p[2][rect_mask()] = 0.55, 0.4
    return p / p.sum(axis=0, keepdims=True)


def services(win):
    return win.canvas.tools["learn_brush"].services


def wait_jobs(qtbot, win):
    qtbot.waitUntil(lambda: services(win).wait(0), timeout=10000)
    QApplication.processEvents()


def accept_class_1(win):
    """The model's labels (class 1 everywhere) accepted as the mask: not the user's paint."""
    doc = win.document
    assert doc.apply_mask(np.ones(doc.mask.shape, doc.mask.dtype), "Accept prediction")
    assert (doc.mask == 1).all() and not doc.fixed_pixels().any()


def test_a_short_stroke_turns_the_whole_object_in_one_undo_step(scene_window, qtbot, monkeypatch):
    win, doc = scene_window, scene_window.document
    probs = model_probs(doc.labels.num_classes)
    monkeypatch.setattr(services(win), "probs", lambda: probs)
    accept_class_1(win)
    before = doc.mask.copy()
    key(win, Qt.Key.Key_2)
    key(win, Qt.Key.Key_K)
    assert win.tool_state.tool == "learn_brush"
    win.tool_state.set_brush_size(5)
    drag(win, [(30, 27), (34, 27), (38, 27)])
    wait_jobs(qtbot, win)
    assert np.array_equal(doc.mask == 2, rect_mask())
    assert len(doc.history().undo_stack) == 2          # the accept and the learning stroke
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(doc.mask, before)


def test_without_a_prediction_it_learns_from_colour_and_stays_on_the_object(scene_window, qtbot, monkeypatch):
    win, doc = scene_window, scene_window.document
    monkeypatch.setattr(services(win), "probs", lambda: None)
    accept_class_1(win)
    before = doc.mask.copy()
    key(win, Qt.Key.Key_2)
    key(win, Qt.Key.Key_K)
    win.tool_state.set_brush_size(9)
    drag(win, [(26, 27), (35, 27), (44, 27)])
    wait_jobs(qtbot, win)
    stroke = win.canvas.tools["learn_brush"].stroke_stamp([(26, 27), (35, 27), (44, 27)], 9)
    expected = learn_brush.learning_brush_stamp(doc.image.rgb, None, before, stroke, 2, doc.labels.num_classes,
                                                np.zeros(before.shape, bool))
    want = np.zeros(before.shape, bool)
    (x0, y0, x1, y1), patch = expected
    want[y0:y1, x0:x1] = patch
    got = doc.mask == 2
    assert np.array_equal(got, want)
    assert got.sum() >= 9 * 18 and not (got & ~rect_mask()).any()   # at least the stroke, never off the object


def test_painted_pixels_are_kept_and_taught(scene_window, qtbot, monkeypatch):
    """A fill by the user is paint: the learning stroke never extends over it (only its own stroke)."""
    win, doc = scene_window, scene_window.document
    monkeypatch.setattr(services(win), "probs", lambda: model_probs(doc.labels.num_classes))
    key(win, Qt.Key.Key_1)
    key(win, Qt.Key.Key_F)
    click(win, 5, 5)
    assert doc.fixed_pixels().all()
    key(win, Qt.Key.Key_2)
    key(win, Qt.Key.Key_K)
    win.tool_state.set_brush_size(5)
    drag(win, [(30, 27), (34, 27), (38, 27)])
    wait_jobs(qtbot, win)
    got = doc.mask == 2
    near = np.zeros(got.shape, bool)
    near[24:31, 27:42] = True                         # the stroke's path ± the brush radius
    assert got.sum() >= 30 and not (got & ~near).any()


def test_an_edit_made_while_the_stroke_is_computed_wins(scene_window, qtbot, monkeypatch):
    """The proposal comes back late (worker); pixels the user painted meanwhile keep their new class."""
    import threading

    win, doc = scene_window, scene_window.document
    probs = model_probs(doc.labels.num_classes)
    monkeypatch.setattr(services(win), "probs", lambda: probs)
    accept_class_1(win)
    gate = threading.Event()
    real = learn_brush.learning_brush_stamp

    def held(*args, **kw):
        gate.wait(10)
        return real(*args, **kw)

    monkeypatch.setattr(learn_brush, "learning_brush_stamp", held)
    key(win, Qt.Key.Key_2)
    key(win, Qt.Key.Key_K)
    win.tool_state.set_brush_size(5)
    drag(win, [(30, 27), (34, 27), (38, 27)])       # the learning stroke: computing …
    key(win, Qt.Key.Key_3)
    key(win, Qt.Key.Key_B)
    drag(win, [(45, 18), (45, 36)])                  # … while the user paints class 3 inside the object
    painted = doc.mask == 3
    assert painted.any()
    gate.set()
    wait_jobs(qtbot, win)
    assert np.array_equal(doc.mask == 3, painted)    # the late proposal did not overwrite the new paint
    assert np.array_equal((doc.mask == 2) | painted, rect_mask() | painted)
