"""Model ▸ Learn while I label: the window's binding of the learning loop (opt-in, remembered, counts the
user's work, and re-predicts only the given images with the better model)."""

import numpy as np

from predhelpers import tiny_checkpoint
from segstudio.core.project import Project, Status


def test_learn_action_counts_work_and_repredicts_with_the_better_model(make_window, demo_folder, tmp_path, qtbot):
    win = make_window(demo_folder)
    act = win.actions_.by_name["learn"]
    assert not act.isChecked() and win.learning.loop is None          # opt-in
    act.trigger()
    loop = win.learning.loop
    assert loop is not None and win.settings.value("learning/enabled", False, bool)
    keys = Project(demo_folder).keys()
    win.document.statusChanged.emit(keys[0], Status.EDITED.value)
    assert loop.trigger.seen == {keys[0]}                               # the user's work is counted
    # a retrained model that beat the current one: chosen, and only the given images re-predicted
    ckpt = tiny_checkpoint(tmp_path / "better.pt")
    win.learning._repredict(str(ckpt), [keys[1]])
    qtbot.waitUntil(lambda: win.batch_panel.summary is not None, timeout=30000)
    assert win.batch_panel.summary.written == [keys[1]]
    proj = Project(demo_folder)
    assert proj.prediction_path(keys[1]).exists() and not proj.prediction_path(keys[2]).exists()
    assert str(win.prediction.spec.source) == str(ckpt.resolve())
    act.trigger()                                                       # off again: the loop is shut down
    assert win.learning.loop is None and not win.settings.value("learning/enabled", True, bool)


def test_learn_setting_is_remembered_and_follows_the_folder(make_window, demo_folder, qtbot):
    win = make_window(demo_folder)
    win.actions_.by_name["learn"].trigger()
    win.close_folder()
    assert win.learning.loop is None
    assert win.open_folder(demo_folder)
    assert win.learning.loop is not None and win.learning.loop.project.folder == Project(demo_folder).folder
