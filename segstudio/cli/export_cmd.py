"""``segstudio export``: write a project's labels as a training data set (VOC, COCO, …).

Headless: imports only the core export package (numpy / OpenCV / PIL), never torch or Qt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMAT_NAMES = ("voc", "coco", "cityscapes", "camvid", "yolo-seg", "png")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a project's masks as VOC, COCO, Cityscapes, CamVid, YOLO-seg or PNG",
        description="Export the labels of a SegStudio project folder. Everything is checked first "
                    "(all problems are listed at once); output is written to DIR.partial-XXXX and renamed "
                    "to DIR only when complete. The project is never modified. See docs/export.md.")
    p.add_argument("folder", type=Path, help="project folder (images + segstudio/)")
    p.add_argument("--format", required=True, choices=FORMAT_NAMES, dest="fmt", help="output layout")
    p.add_argument("--out", required=True, type=Path, help="output folder (must not exist or be empty)")
    p.add_argument("--split", default=None, metavar="NAME=FRAC,...",
                   help="split the images, e.g. train=0.8,val=0.2 (default: all in train)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    p.add_argument("--only", choices=("reviewed", "edited", "all"), default="edited",
                   help="which images: reviewed only, edited or reviewed (default), or all")
    p.add_argument("--allow-missing", action="store_true",
                   help="skip selected images that have no mask instead of failing")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it holds a previous SegStudio export")
    p.add_argument("--recover", action="store_true",
                   help="first save unsaved edits left in crash journals into their masks (as the app does "
                        "on opening the folder); without it such an export is refused")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=run)


def _progress_printer(enabled: bool):
    if not enabled:
        return None
    state = {"shown": -1}

    def show(done: int, total: int, message: str) -> None:
        pct = int(100 * done / total) if total else 100
        if pct != state["shown"]:
            state["shown"] = pct
            print(f"\r{pct:3d}% {message[:60]:<60}", end="", file=sys.stderr, flush=True)
    return show


def run(args: argparse.Namespace) -> int:
    from segstudio.core.export import export_project

    tty = sys.stderr.isatty() and not args.quiet
    try:
        report = export_project(args.folder, args.fmt, args.out, split=args.split, seed=args.seed,
                                only=args.only, allow_missing=args.allow_missing, overwrite=args.overwrite,
                                progress=_progress_printer(tty), recover=args.recover)
    finally:
        if tty:
            print("\r" + " " * 66 + "\r", end="", file=sys.stderr, flush=True)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(report.summary())
    return 0
