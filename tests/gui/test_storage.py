"""Autosave, crash journal, per-image undo across image switches, apply_mask API."""

import numpy as np
from PySide6.QtCore import Qt

from guihelpers import drag, key
from segstudio.core import journal, masks
from segstudio.core.project import Project, Status


def _saved(win, key_):
    p = win.project.mask_path(key_)
    return masks.read_mask(p, win.project.labels) if p.exists() else None


def test_autosave_writes_mask_and_clears_journal(window, qtbot):
    doc = window.document
    key(window, Qt.Key.Key_3)
    drag(window, [(10, 10), (60, 40)])
    jpath = journal.journal_path(window.project.store, doc.key)
    assert jpath.exists()                       # journaled at once
    qtbot.waitUntil(lambda: _saved(window, doc.key) is not None and np.array_equal(_saved(window, doc.key), doc.mask),
                    timeout=5000)
    qtbot.waitUntil(lambda: not jpath.exists(), timeout=5000)
    assert Project(window.project.folder).status(doc.key) == Status.EDITED


def test_save_shortcut_and_status_marker(window, qtbot):
    doc = window.document
    window.document.saver.timer.setInterval(60_000)   # only Ctrl+S saves
    key(window, Qt.Key.Key_1)
    drag(window, [(5, 5), (20, 5)])
    key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: _saved(window, doc.key) is not None, timeout=5000)
    qtbot.waitUntil(lambda: window.file_model.status_of(window.file_model._row_of[doc.key]) == Status.EDITED)


def test_history_survives_switching_images(window, qtbot):
    doc = window.document
    first = doc.key
    key(window, Qt.Key.Key_2)
    drag(window, [(10, 10), (50, 10)])
    painted = doc.mask.copy()
    key(window, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: doc.key != first and doc.mask is not None, timeout=5000)
    assert (doc.mask == 11).all()
    key(window, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: doc.key == first, timeout=5000)
    assert np.array_equal(doc.mask, painted)    # saved on switch, read back
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (doc.mask == 11).all()               # the stroke is still undoable


def test_apply_mask_is_one_undo_step_and_signals_bbox(window, qtbot):
    doc = window.document
    seen = []
    window.maskEdited.connect(seen.append)
    new = doc.mask.copy()
    new[5:25, 30:70] = 4
    new[50, 2] = 7
    assert window.apply_mask(new, "Apply prediction")
    assert np.array_equal(window.current_mask(), new)
    assert seen[-1] == (2, 5, 70, 51)
    assert doc.counts[4] == 20 * 40
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (doc.mask == 11).all() and doc.counts[11] == doc.mask.size
    assert not doc.histories.get(doc.key).can_undo()


def test_journal_replayed_when_folder_opens(make_window, demo_folder):
    proj = Project(demo_folder)
    proj.write_mask("img1", np.full((60, 80), 11, np.uint8), Status.EDITED)
    j = journal.Journal(journal.journal_path(proj.store, "img1"), (60, 80), np.uint8)
    j.append([(5, 5, np.full((4, 4), 6, np.uint8))])
    j.close()                                    # as if the app had been killed
    make_window(demo_folder)
    assert not journal.journal_path(proj.store, "img1").exists()
    m = Project(demo_folder).read_mask("img1")
    assert (m[5:9, 5:9] == 6).all() and m[0, 0] == 11


def test_save_on_close(make_window, demo_folder):
    win = make_window(demo_folder, autosave_ms=60_000)
    key(win, Qt.Key.Key_5)
    drag(win, [(30, 30), (40, 30)])
    expected = win.document.mask.copy()
    k = win.document.key
    win.close()
    assert np.array_equal(Project(demo_folder).read_mask(k), expected)


def test_killed_before_autosave_edits_recovered_from_journal(make_window, demo_folder):
    win = make_window(demo_folder, autosave_ms=60_000)
    key(win, Qt.Key.Key_7)
    drag(win, [(10, 10), (70, 50)])
    key(win, Qt.Key.Key_E)
    drag(win, [(40, 30), (41, 30)])
    painted, k = win.document.mask.copy(), win.document.key
    win.document.saver.timer.stop()
    win.document.saver.dirty.clear()            # as if the process died: nothing saved
    win.close()
    assert not win.project.mask_path(k).exists()
    assert journal.journal_path(win.project.store, k).exists()
    win2 = make_window(demo_folder)             # reopening replays the journal and saves
    assert np.array_equal(Project(demo_folder).read_mask(k), painted)
    assert win2.document.key == k and np.array_equal(win2.document.mask, painted)
