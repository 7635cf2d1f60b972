"""Issue 13 item 1: the painted ("fixed") pixels are derived from the undo history, so an undone
stroke neither leaves a void hole on accept nor constrains the CRF; redo counts it again."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from guihelpers import drag, key
from predhelpers import load_and_wait, run_and_wait, tiny_checkpoint
from segstudio.core.crf_params import CRFParams
from segstudio.gui.prediction import engine
from segstudio.gui.prediction.engine import ModelSpec

CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def ckpt(tmp_path):
    return tiny_checkpoint(tmp_path / "tiny.pt")


def test_undone_stroke_leaves_no_void_hole_after_accept(make_window, demo_folder, ckpt, qtbot):
    win = make_window(demo_folder)
    doc = win.document
    load_and_wait(win, qtbot, ModelSpec(str(ckpt), device="cpu"), prefetch=False)
    key(win, Qt.Key.Key_2)
    drag(win, [(10, 10), (50, 30)])
    assert doc.fixed_pixels().any()
    key(win, Qt.Key.Key_Z, CTRL)                                  # the stroke is undone
    assert not doc.fixed_pixels().any()
    cur = run_and_wait(win, qtbot)
    key(win, Qt.Key.Key_Return)
    assert not (doc.mask == doc.labels.void_value).any()            # no hole where the stroke was
    np.testing.assert_array_equal(doc.mask, cur.labels)


def test_redo_counts_the_stroke_again(window):
    doc = window.document
    key(window, Qt.Key.Key_3)
    drag(window, [(5, 40), (60, 40)])
    painted = doc.fixed_pixels().copy()
    key(window, Qt.Key.Key_Z, CTRL)
    key(window, Qt.Key.Key_Y, CTRL)
    np.testing.assert_array_equal(doc.fixed_pixels(), painted)
    assert painted.sum() == (doc.mask == 3).sum()


def test_crf_sees_no_fixed_pixels_where_a_stroke_was_undone(make_window, demo_folder, ckpt, qtbot, monkeypatch):
    seen = []
    real = engine.refine
    monkeypatch.setattr(engine, "refine", lambda rgb, probs, params, fixed, dtype:
                        seen.append(fixed) or real(rgb, probs, params, fixed, dtype))
    win = make_window(demo_folder)
    ctl = load_and_wait(win, qtbot, ModelSpec(str(ckpt), device="cpu"), prefetch=False)
    ctl.set_crf_params(CRFParams(iterations=1))
    key(win, Qt.Key.Key_4)
    drag(win, [(10, 10), (50, 30)])
    key(win, Qt.Key.Key_Z, CTRL)
    run_and_wait(win, qtbot)
    ctl.set_crf_enabled(True)
    qtbot.waitUntil(lambda: not ctl.busy and ctl.current.crf_labels is not None, timeout=20000)
    assert seen and seen[-1] is None                                # no constraint from the undone stroke


def test_undoing_every_stroke_leaves_no_mask_behind(window, qtbot):
    """Paint, save, undo, save: nothing is labelled, so no mask file and the status is not 'edited'
    (accept-all and export would otherwise take an all-void mask for the user's work)."""
    from segstudio.core.project import Project, Status

    doc = window.document
    project, k = doc.project, doc.key
    key(window, Qt.Key.Key_3)
    drag(window, [(5, 40), (60, 40)])
    doc.save(wait=True)
    assert project.mask_path(k).exists() and project.status(k) == Status.EDITED
    key(window, Qt.Key.Key_Z, CTRL)
    doc.save(wait=True)
    assert not project.mask_path(k).exists()
    assert Project(project.folder).status(k) == Status.UNLABELLED
