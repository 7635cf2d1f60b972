"""Retrain dialog: a real training subprocess (tiny U-Net), its failure and cancel paths; the process wrapper; the plot."""

import sys

import numpy as np
import pytest
from PIL import Image

from segstudio.core import masks
from segstudio.core.project import Project, Status

TINY = '{"width": 4, "depth": 1}'


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "proj"
    gt = tmp_path / "gt"
    folder.mkdir()
    gt.mkdir()
    rng = np.random.default_rng(0)
    p = Project(folder)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(folder / f"im{i}.png")
        mask = np.zeros((32, 48), np.uint8)
        mask[:, 24:] = 3
        p.write_mask(f"im{i}", mask, Status.EDITED)
        masks.write_mask(gt / f"im{i}.png", mask, p.labels)
    return p


@pytest.fixture
def make_dialog(qtbot, tmp_path):
    from segstudio.gui.dialogs.train_dialog import TrainDialog
    from segstudio.gui.settings import AppSettings

    made = []

    def factory(project, **kw):
        kw.setdefault("base_checkpoint", None)
        dlg = TrainDialog(project, settings=AppSettings(tmp_path / "settings.ini"), **kw)
        qtbot.addWidget(dlg)
        dlg.show()
        made.append(dlg)
        return dlg

    yield factory
    for dlg in made:
        dlg.shutdown()


def tiny(dlg, epochs=2, options=TINY):
    dlg.scratch_radio.setChecked(True)
    dlg.arch.setCurrentIndex(dlg.arch.findData("unet"))
    dlg.arch_options.setText(options)
    dlg.budget_epochs.setChecked(True)
    dlg.epochs.setValue(epochs)
    dlg.auto_crop.setChecked(False)
    dlg.batch.setValue(2)
    dlg.crop_h.setValue(16)
    dlg.crop_w.setValue(16)
    dlg.device.setCurrentIndex(dlg.device.findData("cpu"))


def test_training_subprocess_with_validation_plot_and_use(qtbot, make_dialog, project):
    from segstudio.gui.dialogs.train_dialog import RECENT_KEY
    from segstudio.gui.dialogs.train_progress import LOSS_SERIES, MIOU_SERIES

    project.set_ground_truth(project.folder.parent / "gt")
    saved = []
    dlg = make_dialog(project, before_start=lambda: saved.append(True))
    assert dlg.validate.isEnabled() and "2 image(s)" in dlg.validate.text()
    assert "(2 also trained on)" in dlg.validate.text()
    dlg.validate.setChecked(True)
    tiny(dlg, epochs=2)
    assert dlg.start()
    assert saved == [True] and dlg.running() and not dlg.start_btn.isEnabled()
    qtbot.waitUntil(lambda: dlg.process.outcome is not None, timeout=60000)
    assert dlg.process.outcome == "done", dlg.log_view.toPlainText()
    assert [x for x, _ in dlg.plot.points(LOSS_SERIES)] == [1.0, 2.0]
    assert len(dlg.plot.points(MIOU_SERIES)) == 2
    assert all(0.0 <= y <= 1.0 for _, y in dlg.plot.points(MIOU_SERIES))
    assert dlg.out_path.is_file() and dlg.out_path.parent == project.store / "models"
    assert dlg.progress.value() == dlg.progress.maximum()
    assert "Training finished" in dlg.status.text()
    assert "--val-masks" in dlg.last_args
    assert dlg.use_btn.isEnabled()
    assert dlg.out_edit.text() != str(dlg.out_path)     # the next run will not overwrite this model
    with qtbot.waitSignal(dlg.modelReady) as got:
        dlg.use_btn.click()
    assert got.args == [str(dlg.out_path)]
    recent = dlg.settings.value(RECENT_KEY, [])
    assert (recent if isinstance(recent, str) else recent[0]) == str(dlg.out_path)
    dlg.plot.grab()     # paints with data


def test_failing_run_shows_error_and_exit_code(qtbot, make_dialog, project, tmp_path):
    dlg = make_dialog(project)
    tiny(dlg, epochs=1, options='{"no_such_option": 1}')
    old = tmp_path / "earlier.pt"
    old.write_bytes(b"an earlier run's checkpoint")
    dlg.out_edit.setText(str(old))            # a file this run does not write is not offered
    dlg.start()
    qtbot.waitUntil(lambda: dlg.process.outcome is not None, timeout=60000)
    assert dlg.process.outcome == "failed" and dlg.process.exit_code == 1
    text = dlg.status.text()
    assert "exit code 1" in text and "bad options" in text
    assert "bad options" in dlg.log_view.toPlainText()
    assert "usable" not in text and not dlg.use_btn.isEnabled() and dlg.start_btn.isEnabled()


def test_problems_found_before_starting(make_dialog, project, tmp_path):
    dlg = make_dialog(project, base_checkpoint=tmp_path / "missing.pt")
    assert dlg.finetune_radio.isChecked()
    assert not dlg.start() and not dlg.running()
    assert "not found" in dlg.status.text()
    tiny(dlg)
    dlg.arch_options.setText("{width: 4")
    assert not dlg.start() and "not valid JSON" in dlg.status.text()
    dlg.arch_options.setText(TINY)
    dlg.only.setCurrentIndex(dlg.only.findData("reviewed"))     # no reviewed masks
    assert not dlg.start() and "No reviewed masks" in dlg.status.text()
    assert not dlg.validate.isEnabled()                         # no ground truth attached


def test_cancel_terminates_and_keeps_last_checkpoint(qtbot, make_dialog, project):
    dlg = make_dialog(project)
    tiny(dlg, epochs=2000)     # far more than it will run: cancelled after the first epoch
    dlg.start()
    qtbot.waitUntil(lambda: len(dlg.plot.points("training loss")) >= 1, timeout=60000)
    dlg.cancel_btn.click()
    qtbot.waitUntil(lambda: dlg.process.outcome is not None, timeout=15000)
    assert dlg.process.outcome == "cancelled" and not dlg.running()
    assert dlg.out_path.is_file()
    assert "stopped" in dlg.status.text() and "usable" in dlg.status.text()
    assert dlg.use_btn.isEnabled()


def test_process_wrapper_parses_lines_and_reports_crash(qtbot):
    from segstudio.gui.training_process import TrainingProcess

    script = ("import json, os, signal, sys, time\n"
              "sys.stdout.write(json.dumps({'event': 'step', 'epoch': 0, 'iter': 1, 'iters': 2, 'loss': 1.5}))\n"
              "sys.stdout.flush(); time.sleep(0.05)\n"
              "print(); print('plain text'); print(json.dumps({'event': 'epoch', 'loss': 1.0}), flush=True)\n"
              "sys.stderr.write('warning one\\nthe last words'); sys.stderr.flush()\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = TrainingProcess()
    logs = []
    proc.log.connect(logs.append)
    with qtbot.waitSignal(proc.ended, timeout=10000) as ended:
        proc.start(["-c", script], program=sys.executable)
    assert ended.args[0] == "crashed"
    assert [r["event"] for r in proc.records] == ["step", "epoch"]     # the split JSON line was joined
    assert "plain text" in logs and proc.stderr_tail().endswith("the last words")


def test_process_wrapper_exit_code_and_frozen_command(qtbot, monkeypatch):
    from segstudio.gui.training_process import TrainingProcess, train_command

    proc = TrainingProcess()
    with qtbot.waitSignal(proc.ended, timeout=10000) as ended:
        proc.start(["-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"], program=sys.executable)
    assert ended.args == ["failed", 3] and proc.stderr_tail() == "boom"
    assert train_command(["--epochs", "1"]) == (sys.executable, ["-m", "segstudio", "train", "--epochs", "1"])
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert train_command(["--epochs", "1"]) == (sys.executable, ["train", "--epochs", "1"])


def test_line_plot_series_gaps_and_hidden_axis(qtbot):
    from segstudio.gui.widgets.line_plot import RIGHT, LinePlot, nice_step

    plot = LinePlot(x_label="epoch")
    qtbot.addWidget(plot)
    plot.add_series("a", "#e07b39")
    plot.add_series("b", "#3d8bfd", RIGHT)
    plot.set_x_range(0, 5)
    for x, y in ((0.5, 2.0), (1.0, 1.5)):
        plot.append("a", x, y)
    plot.break_line("a")
    plot.append("a", 1.5, float("nan"))          # ignored
    plot.append("a", 2.0, 1.0)
    assert plot.points("a") == [(0.5, 2.0), (1.0, 1.5), (2.0, 1.0)]
    plot.set_series_visible("b", False)
    assert plot._y_extent(RIGHT) is None
    plot.resize(400, 200)
    assert not plot.grab().isNull()
    assert nice_step(2.7) == 1.0 and nice_step(100) == 20 and nice_step(0.9) == 0.2


def test_use_model_reaches_a_model_panel(make_window, project, tmp_path, monkeypatch):
    from segstudio.gui import dialogs

    win = make_window(project.folder)
    ckpt = tmp_path / "m.pt"
    ckpt.write_bytes(b"x")
    got = []
    win.modelTrained.connect(got.append)
    assert dialogs.deliver_model(win, ckpt) is True and got == [str(ckpt)]
    win.modelTrained.disconnect()

    class Panel:
        def __init__(self):
            self.paths = []

        def set_checkpoint(self, path):
            self.paths.append(path)

    win.model_panel = Panel()
    assert dialogs.deliver_model(win, ckpt) is True and win.model_panel.paths == [str(ckpt)]
    dlg = dialogs.open_train_dialog(win)
    assert dlg is dialogs.open_train_dialog(win)           # one per window and project
    dlg.shutdown()
    dlg.close()


def test_closing_the_window_asks_then_stops_a_running_training(make_window, project, qtbot):
    from segstudio.gui import dialogs

    win = make_window(project.folder)
    dlg = dialogs.open_train_dialog(win)
    with qtbot.waitSignal(dlg.process.started, timeout=10000):
        dlg.process.start(["-c", "import time; time.sleep(60)"], program=sys.executable)
    asked = []
    win._confirm = lambda text: asked.append(text) or False
    win.close()
    assert asked and win.isVisible() and dlg.running()          # "no": the window stays, training goes on
    win._confirm = lambda text: True
    win.close()
    assert not win.isVisible() and not dlg.running()
