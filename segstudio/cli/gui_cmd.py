"""``segstudio gui [FOLDER]`` (also plain ``segstudio`` / ``segstudio FOLDER``): open the desktop app.

Without a display on Linux this prints one line pointing to the headless verbs and exits 2
instead of letting Qt abort. Qt is imported only inside :func:`run`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

NO_DISPLAY = ("segstudio: no display available (DISPLAY/WAYLAND_DISPLAY unset); "
              "use the headless verbs: segstudio batch|eval|export|train|crf|doctor")


def register(subparsers) -> None:
    p = subparsers.add_parser("gui", help="open the labelling app (default when no verb is given)",
                              description="Open the SegStudio desktop app, optionally on an image folder.")
    p.add_argument("folder", nargs="?", help="image folder to open")
    p.add_argument("--settings", metavar="FILE.ini", help="use this settings file instead of the user's")
    p.set_defaults(func=run)


def display_missing(environ=os.environ, platform: str = sys.platform) -> bool:
    if not platform.startswith("linux"):
        return False
    if environ.get("QT_QPA_PLATFORM"):
        return False
    return not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def run(args: argparse.Namespace) -> int:
    if display_missing():
        print(NO_DISPLAY, file=sys.stderr)
        return 2
    folder = args.folder
    if folder is not None and not Path(folder).is_dir():
        from segstudio.core.errors import ProjectError
        raise ProjectError(f"{folder}: not a folder")
    from segstudio.gui.app import run as run_app

    return run_app(folder, args.settings)
