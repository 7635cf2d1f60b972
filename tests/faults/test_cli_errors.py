"""The one error path (issue 14) and command-line start-up (issue 13, item 10)."""

from __future__ import annotations

import errno

import pytest

from faulthelpers import error_line, write_images

from segstudio.cli import gui_cmd, main, verb_names
from segstudio.core.errors import DiskError, SegStudioError


def _patched_verb(monkeypatch, verb: str, exc: BaseException) -> None:
    from segstudio import cli

    real = cli.build_parser

    def build():
        parser = real()
        action = cli._verbs_action(parser)

        def boom(args):
            raise exc
        action.choices[verb].set_defaults(func=boom)
        return parser
    monkeypatch.setattr(cli, "build_parser", build)


@pytest.mark.parametrize("exc, code, text", [
    (SegStudioError("a.png: bad input"), 1, "segstudio doctor: error: a.png: bad input"),
    (DiskError("out/a.png", "cannot write: disk full", OSError(errno.ENOSPC, "No space left on device")), 3,
     "segstudio doctor: error: out/a.png: cannot write: disk full (No space left on device)"),
    (PermissionError(errno.EACCES, "Permission denied", "/x/y.json"), 3,
     "segstudio doctor: error: /x/y.json: permission denied (Permission denied)"),
    (KeyboardInterrupt(), 130, "segstudio doctor: interrupted"),
])
def test_every_failure_is_one_line_with_its_exit_code(cli, monkeypatch, exc, code, text):
    _patched_verb(monkeypatch, "doctor", exc)
    rc, _, err = cli("doctor")
    assert rc == code
    assert err.strip() == text


def test_unexpected_error_one_line_log_and_debug(cli, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _patched_verb(monkeypatch, "doctor", ZeroDivisionError("division by zero"))
    rc, _, err = cli("doctor")
    log = tmp_path / "cache" / "segstudio" / "segstudio.log"
    assert rc == 4
    assert err.strip() == (f"segstudio doctor: internal error: ZeroDivisionError: division by zero "
                           f"(run with --debug for the traceback; details in {log})")
    assert "Traceback" in log.read_text() and "ZeroDivisionError" in log.read_text()
    capsys.readouterr()
    assert main(["doctor", "--debug"]) == 4  # --debug anywhere on the line shows the traceback
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_unknown_word_is_not_a_verb(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, _, err = cli("doctr")
    assert rc == 2
    line = err.strip()
    assert len(err.strip().splitlines()) == 1
    assert "'doctr' is not a verb (did you mean 'doctor'?)" in line
    for verb in verb_names():
        assert verb in line


def test_existing_folder_still_opens_the_app(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(gui_cmd, "display_problem", lambda *a, **k: None)
    import segstudio.gui.app as app

    monkeypatch.setattr(app, "run", lambda folder, settings: seen.setdefault("folder", folder) and 0)
    assert main([str(tmp_path)]) == 0
    assert seen["folder"] == str(tmp_path)


def test_display_set_but_unreachable_gives_the_one_line(cli, monkeypatch):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":917")   # no X server listens there
    rc, _, err = cli("gui")
    assert rc == 2
    line = err.strip()
    assert len(line.splitlines()) == 1
    assert "cannot connect to the display (DISPLAY=:917" in line
    headless = [v for v in verb_names() if v != "gui"]
    assert line.endswith("use the headless verbs: segstudio " + "|".join(headless))


def test_display_probe_rules():
    assert gui_cmd.display_problem({}, "linux").startswith("no display available")
    assert gui_cmd.display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert gui_cmd.display_problem({"DISPLAY": ":917"}, "darwin") is None
    assert "DISPLAY=:917" in gui_cmd.display_problem({"DISPLAY": ":917"}, "linux")
    assert "DISPLAY=127.0.0.1:917" in gui_cmd.display_problem({"DISPLAY": "127.0.0.1:917"}, "linux")
    assert not gui_cmd.x11_reachable("garbage")


def _usage_error(capsys, *args) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_unknown_option_names_the_verb_its_usage_and_a_close_option(capsys, tmp_path):
    err = _usage_error(capsys, "predict", tmp_path, "--threads", "1")
    assert err.startswith("usage: segstudio predict")               # the verb's usage, not the top level's
    assert "segstudio predict: error: unrecognized arguments: --threads 1; see segstudio predict --help" in err
    err = _usage_error(capsys, "batch", tmp_path, "--out", tmp_path / "o", "--tile-overlapp", "32")
    assert "unrecognized arguments: --tile-overlapp 32 (--tile-overlapp: did you mean --tile-overlap?)" in err
    err = _usage_error(capsys, "--bogus")
    assert "segstudio: error: unrecognized arguments: --bogus" in err


def test_a_folder_without_images_is_an_error_that_points_at_its_subfolders(cli, tmp_path):
    top = tmp_path / "camvid"
    write_images(top / "val", 2)
    (top / "notes.txt").write_text("not an image")
    (top / "empty").mkdir()
    for verb, extra in (("batch", ["--out", tmp_path / "out"]), ("predict", []), ("accept", [])):
        rc, _, err = cli(verb, top, *extra)
        assert rc == 1
        line = error_line(err, verb)
        assert f"{top}: no image files" in line and "these hold images: val/" in line and "empty/" not in line
    assert not (top / "segstudio").exists() and not (tmp_path / "out").exists()   # nothing was written
    rc, _, err = cli("batch", top / "empty", "--out", tmp_path / "out")
    assert rc == 1 and "subfolders" not in error_line(err, "batch")


def test_predict_with_nothing_to_do_says_so_without_loading_a_model(cli, tmp_path):
    import numpy as np

    from segstudio.core.project import Project

    write_images(tmp_path / "p", 2)
    proj = Project(tmp_path / "p")
    for key in proj.keys():
        proj.write_mask(key, np.zeros((24, 32), np.uint8))
    rc, out, _ = cli("predict", tmp_path / "p", "--model", tmp_path / "no-such-model.pt")
    assert rc == 0
    assert out.strip() == (f"nothing to predict: all 2 images of {proj.folder} have a prediction or a mask "
                           "(--only all predicts them again; the user's masks are never touched)")
    rc, _, err = cli("predict", tmp_path / "p", "--only", "all", "--model", tmp_path / "no-such-model.pt")
    assert rc == 1 and "no-such-model.pt" in err                    # with work to do, the model is needed
