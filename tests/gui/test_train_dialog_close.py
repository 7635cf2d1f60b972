"""Issue 13 item 2: the retrain dialog closes (Close, Escape, window close) while and after training;
closing while training asks whether to keep it in the background or stop it. Issue 16: the default is a
time budget with crop/batch chosen for the data, and a worse fine-tune is not offered as the better model."""

import sys

import pytest
from PySide6.QtCore import Qt

from tests.gui.test_train_dialog import make_dialog, project  # noqa: F401 - fixtures


def _sleeper(dlg, qtbot):
    with qtbot.waitSignal(dlg.process.started, timeout=10000):
        dlg.process.start(["-c", "import time; time.sleep(60)"], program=sys.executable)


def test_close_button_escape_and_window_close_when_idle(make_dialog, project, qtbot):  # noqa: F811
    dlg = make_dialog(project)
    dlg.close_btn.click()
    assert not dlg.isVisible()
    dlg.show()
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    assert not dlg.isVisible()
    dlg.show()
    assert dlg.close() and not dlg.isVisible()


@pytest.mark.parametrize("how", ["button", "escape", "window"])
def test_closing_while_training_keeps_it_in_the_background(make_dialog, project, qtbot, how):  # noqa: F811
    dlg = make_dialog(project)
    _sleeper(dlg, qtbot)
    asked = []
    dlg.ask_close = lambda: asked.append(True) or "keep"
    {"button": dlg.close_btn.click, "escape": lambda: qtbot.keyClick(dlg, Qt.Key.Key_Escape),
     "window": dlg.close}[how]()
    assert asked and not dlg.isVisible() and dlg.running()      # closed; training goes on


def test_closing_while_training_can_stop_it_or_stay_open(make_dialog, project, qtbot):  # noqa: F811
    dlg = make_dialog(project)
    _sleeper(dlg, qtbot)
    dlg.ask_close = lambda: "cancel"
    dlg.close_btn.click()
    assert dlg.isVisible() and dlg.running()
    dlg.ask_close = lambda: "stop"
    with qtbot.waitSignal(dlg.process.ended, timeout=10000):
        dlg.close_btn.click()
    assert not dlg.isVisible() and not dlg.running() and dlg.process.outcome == "cancelled"


def test_default_budget_is_time_with_crop_chosen_for_the_data(make_dialog, project):  # noqa: F811
    dlg = make_dialog(project)
    dlg.scratch_radio.setChecked(True)
    args = dlg.build_args()
    assert "--max-minutes" in args and "--epochs" not in args and "--crop" not in args


def test_a_worse_finetune_is_not_offered_as_better(make_dialog, project, qtbot):  # noqa: F811
    dlg = make_dialog(project)
    fake_out = project.folder.parent / "new.pt"
    script = ("import json, pathlib; pathlib.Path(%r).write_bytes(b'x');"
              "print(json.dumps({'event': 'done', 'best': 0.4, 'improved': False, "
              "'verdict': 'New model 40.0 %% vs current 70.0 %% mIoU on 3 held-out image(s): not better; "
              "the current model is kept.'}))" % str(fake_out))
    dlg.out_path, dlg._out_stamp = fake_out, None
    with qtbot.waitSignal(dlg.process.ended, timeout=10000):
        dlg.process.start(["-c", script], program=sys.executable)
    assert "not better" in dlg.status.text() and "kept" in dlg.status.text()
    assert dlg.use_btn.text() == "Use it anyway" and not dlg.use_btn.isDefault()


def test_finetune_starts_from_the_current_model(tmp_path):
    from types import SimpleNamespace

    from segstudio.gui.dialogs.train_dialog import current_model
    from segstudio.paths import default_model_path

    ckpt = tmp_path / "mine.pt"
    ckpt.write_bytes(b"x")
    win = SimpleNamespace(prediction=SimpleNamespace(spec=SimpleNamespace(source=str(ckpt))))
    assert current_model(win) == ckpt
    shipped = default_model_path() if default_model_path().is_file() else None
    assert current_model(SimpleNamespace()) == shipped
    onnx = SimpleNamespace(prediction=SimpleNamespace(spec=SimpleNamespace(source=str(tmp_path / "m.onnx"))))
    assert current_model(onnx) == shipped                   # only a checkpoint can be fine-tuned
