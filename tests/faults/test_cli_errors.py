"""The one error path (issue 14) and command-line start-up (issue 13, item 10)."""

from __future__ import annotations

import errno

import pytest

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
