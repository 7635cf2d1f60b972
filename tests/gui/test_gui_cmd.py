"""`segstudio gui` refuses cleanly without a display (checked without starting Qt)."""

import subprocess
import sys

from segstudio.cli import gui_cmd


def test_display_detection():
    assert gui_cmd.display_missing({}, "linux")
    assert not gui_cmd.display_missing({"DISPLAY": ":0"}, "linux")
    assert not gui_cmd.display_missing({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not gui_cmd.display_missing({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not gui_cmd.display_missing({}, "darwin")


def test_no_display_one_line_exit_2(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "segstudio", "gui", str(tmp_path)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0] and "segstudio batch|eval" in lines[0]
