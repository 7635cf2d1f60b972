"""Class swap (X) driven by real mouse / wheel events on the canvas viewport."""

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from guihelpers import click, key, vp

from segstudio.core.tools import prob_region

RECT = (20, 15, 50, 40)   # x0, y0, x1, y1: where the model's runner-up is class 2


@pytest.fixture
def swap_window(make_window, tmp_path):
    rgb = np.full((60, 80, 3), 90, np.uint8)        # flat: colour cannot tell the object
    folder = tmp_path / "flat"
    folder.mkdir()
    Image.fromarray(rgb).save(folder / "a.png")
    return make_window(folder)


def model_probs(n):
    """Class 1 on top everywhere (0.6); class 2 the runner-up (0.35) inside RECT only."""
    p = np.full((n, 60, 80), 0.05 / (n - 2), np.float32)
    p[1] = 0.6
    x0, y0, x1, y1 = RECT
    p[2] = 0.05 / (n - 2)
    p[2, y0:y1, x0:x1] = 0.35
    p[3:, y0:y1, x0:x1] = 0.05 / (n - 3)
    return p / p.sum(axis=0, keepdims=True)


def services(win):
    return win.canvas.tools["class_swap"].services


def fill_with_class_1(win):
    key(win, Qt.Key.Key_1)
    key(win, Qt.Key.Key_F)
    click(win, 5, 5)
    assert (win.document.mask == 1).all()


def test_class_swap_click_relabels_where_the_model_finds_the_class_likely(swap_window, monkeypatch):
    win, doc = swap_window, swap_window.document
    probs = model_probs(doc.labels.num_classes)
    monkeypatch.setattr(services(win), "probs", lambda: probs)
    fill_with_class_1(win)
    before = doc.mask.copy()
    key(win, Qt.Key.Key_2)
    key(win, Qt.Key.Key_X)
    assert win.tool_state.tool == "class_swap"
    click(win, 30, 25)
    st = prob_region.class_swap_stamp(before, probs, 30, 25, 2, win.tool_state.swap_ratio / 100)
    expected = before.copy()
    (x0, y0, x1, y1), patch = st
    expected[y0:y1, x0:x1][patch] = 2
    assert np.array_equal(doc.mask, expected)
    rect = np.zeros(before.shape, bool)
    rect[RECT[1]:RECT[3], RECT[0]:RECT[2]] = True
    got = doc.mask == 2
    assert (got & rect).sum() == rect.sum() and (got & ~rect).sum() <= 2 * (30 + 25) * 2   # the box + ≤ 2 px
    assert len(doc.history().undo_stack) == 2                # the fill and the swap: one step each
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(doc.mask, before)


def test_class_swap_without_probabilities_says_so_and_changes_nothing(swap_window, monkeypatch):
    win, doc = swap_window, swap_window.document
    monkeypatch.setattr(services(win), "probs", lambda: None)
    fill_with_class_1(win)
    before = doc.mask.copy()
    key(win, Qt.Key.Key_2)
    key(win, Qt.Key.Key_X)
    click(win, 30, 25)
    assert np.array_equal(doc.mask, before)
    assert "probabilities" in win.statusBar().currentMessage()


def test_shift_wheel_changes_the_swap_ratio(swap_window):
    win = swap_window
    key(win, Qt.Key.Key_X)
    s = win.tool_state
    r0, zoom0 = s.swap_ratio, win.canvas.zoom
    viewport = win.canvas.viewport()
    pos = QPointF(vp(win, 30, 25))
    ev = QWheelEvent(pos, viewport.mapToGlobal(pos), QPointF(0, 0).toPoint(), QPointF(0, -120).toPoint(),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.ShiftModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, ev)
    assert s.swap_ratio == r0 - 2 and win.canvas.zoom == zoom0
    assert win.actions_.swap_ratio_box.value() == s.swap_ratio
