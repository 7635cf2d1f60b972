"""``segstudio gui [FOLDER]`` (also plain ``segstudio`` / ``segstudio FOLDER``): open the desktop app.

Before Qt is imported the display is probed (cheaply: a socket connect, no subprocess): with no
display, or a ``DISPLAY``/``WAYLAND_DISPLAY`` that nothing answers on, this prints one line
listing the headless verbs and exits 2 instead of letting Qt abort (exit 134). Qt is imported
only inside :func:`run`.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

# Qt platforms that need no display server
_HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay")


def register(subparsers) -> None:
    p = subparsers.add_parser("gui", help="open the labelling app (default when no verb is given)",
                              description="Open the SegStudio desktop app, optionally on an image folder.")
    p.add_argument("folder", nargs="?", help="image folder to open")
    p.add_argument("--settings", metavar="FILE.ini", help="use this settings file instead of the user's")
    p.set_defaults(func=run)


def display_missing(environ=os.environ, platform: str = sys.platform) -> bool:
    """No display configured at all (Linux only; other systems always have one)."""
    if not platform.startswith("linux"):
        return False
    if environ.get("QT_QPA_PLATFORM"):
        return False
    return not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def _connects(family: int, address, timeout: float = 1.0) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(address)
        return True
    except OSError:
        return False


def x11_reachable(display: str) -> bool:
    """True when an X server accepts connections for ``display`` (``:N``, ``host:N``, ``unix:N``)."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return False
    if host.startswith("/"):  # launchd-style socket path (macOS XQuartz): trust it if present
        return os.path.exists(f"{host}:{rest}")
    if host in ("", "unix"):
        sock = f"/tmp/.X11-unix/X{number}"
        return (sys.platform.startswith("linux") and _connects(socket.AF_UNIX, "\0" + sock)) or \
            (os.path.exists(sock) and _connects(socket.AF_UNIX, sock))
    return _connects(socket.AF_INET, (host, 6000 + int(number)))


def wayland_reachable(name: str, environ=os.environ) -> bool:
    path = name if name.startswith("/") else os.path.join(environ.get("XDG_RUNTIME_DIR", ""), name)
    return bool(environ.get("XDG_RUNTIME_DIR") or name.startswith("/")) and _connects(socket.AF_UNIX, path)


def display_problem(environ=os.environ, platform: str = sys.platform) -> str | None:
    """Why Qt could not open a window here (None: a display answers, or none is needed)."""
    if not platform.startswith("linux"):
        return None
    qpa = environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if qpa in _HEADLESS_PLATFORMS:
        return None
    x, wl = environ.get("DISPLAY", ""), environ.get("WAYLAND_DISPLAY", "")
    if not x and not wl:
        return "no display available (DISPLAY/WAYLAND_DISPLAY unset)"
    if qpa in ("", "wayland") and wl and wayland_reachable(wl, environ):
        return None
    if qpa in ("", "xcb") and x and x11_reachable(x):
        return None
    tried = ([f"DISPLAY={x}"] if x else []) + ([f"WAYLAND_DISPLAY={wl}"] if wl else [])
    return f"cannot connect to the display ({', '.join(tried)}: nothing answers there)"


def no_display_line(problem: str) -> str:
    from segstudio.cli import verb_names

    headless = [v for v in verb_names() if v != "gui"]
    return f"segstudio: {problem}; use the headless verbs: segstudio {'|'.join(headless)}"


def run(args: argparse.Namespace) -> int:
    problem = display_problem()
    if problem:
        print(no_display_line(problem), file=sys.stderr)
        return 2
    folder = args.folder
    if folder is not None and not Path(folder).is_dir():
        from segstudio.core.errors import ProjectError
        raise ProjectError(f"{folder}: not a folder")
    from segstudio.gui.app import run as run_app

    return run_app(folder, args.settings)
