"""Learning in the loop: counts new user work, retrains in the background, re-predicts only unreviewed images
when the new model is better, and keeps the current model otherwise (a stand-in trainer keeps it fast)."""

import sys

import numpy as np
import pytest
from PIL import Image

from segstudio.core.project import Project, Status


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "proj"
    folder.mkdir()
    p = Project(folder)
    for i in range(5):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / f"im{i}.png")
    mask = np.zeros((8, 8), np.uint8)
    p.write_mask("im0", mask, Status.EDITED)
    p.write_mask("im1", mask, Status.REVIEWED)
    p.write_prediction("im2", mask)
    return p


def fake_trainer(improved: bool, firm: bool = True) -> list[str]:
    """A ``python -c`` program standing in for ``segstudio train``: writes --out, reports a verdict."""
    code = ("import json, sys, pathlib; a = sys.argv; out = a[a.index('--out') + 1]; "
            "pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True); pathlib.Path(out).write_bytes(b'x'); "
            f"print(json.dumps({{'event': 'done', 'best': 0.8, 'improved': {improved!r}, 'firm': {firm!r}, "
            "'verdict': 'v'}))")
    return ["-c", code]


@pytest.mark.parametrize("improved", [True, False])
def test_loop_retrains_after_n_and_repredicts_only_unreviewed(project, qtbot, tmp_path, improved):
    from segstudio.gui.learning_loop import LearningLoop

    base = tmp_path / "current.pt"
    base.write_bytes(b"x")
    calls = []
    loop = LearningLoop(project, lambda: str(base), lambda path, keys: calls.append((path, keys)), every=2,
                        program=sys.executable)
    prog = fake_trainer(improved)
    start = loop.process.start
    loop.process.start = lambda args, program=None: start(prog + args, program=program)
    loop.note("im0", "edited")
    assert not loop.process.running() and loop.out_path is None       # 1 of 2: not yet
    loop.note("im0", "reviewed")                                       # the same image does not count twice
    assert loop.out_path is None
    with qtbot.waitSignal(loop.process.ended, timeout=20000):
        loop.note("im1", Status.REVIEWED)
    if improved:
        assert len(calls) == 1 and calls[0][0] == str(loop.out_path)
        assert calls[0][1] == ["im2", "im3", "im4"]                    # never im0/im1 (user masks)
    else:
        assert calls == []
    assert project.read_mask("im0") is not None and project.status("im1") == Status.REVIEWED
    loop.shutdown()


def test_loop_does_not_take_a_model_on_thin_evidence(project, qtbot, tmp_path):
    from segstudio.gui.learning_loop import LearningLoop

    base = tmp_path / "current.pt"
    base.write_bytes(b"x")
    calls, taken, messages = [], [], []
    loop = LearningLoop(project, lambda: str(base), lambda path, keys: calls.append((path, keys)), every=1,
                        program=sys.executable)
    loop.betterModel.connect(taken.append)
    loop.message.connect(messages.append)
    prog = fake_trainer(True, firm=False)
    start = loop.process.start
    loop.process.start = lambda args, program=None: start(prog + args, program=program)
    with qtbot.waitSignal(loop.process.ended, timeout=20000):
        loop.note("im0", "edited")
    qtbot.waitUntil(lambda: any("Not taken automatically" in m for m in messages), timeout=5000)
    assert calls == [] and taken == []
    loop.shutdown()


def test_loop_needs_a_current_model(project, qtbot):
    from segstudio.gui.learning_loop import LearningLoop

    loop = LearningLoop(project, lambda: None, lambda *a: None, every=1)
    with qtbot.waitSignal(loop.message) as got:
        loop.note("im0", "edited")
    assert "no current model" in got.args[0] and not loop.process.running()
