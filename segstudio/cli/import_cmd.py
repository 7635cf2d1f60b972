"""``segstudio import``: bring labels made elsewhere (labelme, COCO, VOC, Cityscapes, CVAT, id or colour
PNGs, YOLO-seg) into a project folder's mask store.

Headless: imports only ``segstudio.core.importers`` (numpy / OpenCV / PIL; pycocotools for COCO),
never torch or Qt. Everything is checked first and all problems are printed at once; class names
the project lacks are added (and reported). See docs/import.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMAT_NAMES = ("labelme", "coco", "voc", "cityscapes", "cvat", "ids", "rgb", "yolo-seg")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import", help="import labels from labelme, COCO, VOC, Cityscapes, CVAT, id/colour PNGs or YOLO-seg",
        description="Import existing labels into the mask store of a project folder. Every file is checked "
                    "first and all problems are listed at once; nothing is written unless all is well. Class "
                    "names are matched to the project's label set ignoring case and punctuation; unknown names "
                    "are added as new classes (or mapped with --map). Your own masks are never replaced "
                    "without --overwrite. Imported masks get status 'edited'. See docs/import.md.")
    p.add_argument("folder", type=Path, help="project folder (the images; labels go to FOLDER/segstudio/)")
    p.add_argument("--format", required=True, choices=FORMAT_NAMES, dest="fmt", help="source format")
    p.add_argument("--source", required=True, type=Path,
                   help="the labels: a folder, or one file (labelme .json, COCO .json, CVAT .zip)")
    p.add_argument("--labels", default=None, metavar="L",
                   help="label set the source's ids/colours refer to (preset or labels.json); "
                        "default: a labels.json beside the source, else the format's usual set")
    p.add_argument("--map", default=None, type=Path, dest="map_file", metavar="FILE",
                   help='JSON object {"source name": "project class" or null (void)}')
    group = p.add_mutually_exclusive_group()
    group.add_argument("--overwrite", action="store_true", help="replace masks you already have")
    group.add_argument("--skip-existing", action="store_true", help="keep masks you already have, import the rest")
    p.add_argument("--skip-missing", action="store_true",
                   help="leave out label files whose image is not in the folder (listed) instead of failing")
    p.add_argument("--quiet", action="store_true", help="no progress line, summary only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segstudio.core.importers import import_labels
    from segstudio.core.labels import resolve

    from segstudio.cli.export_cmd import _progress_printer

    labels = resolve(args.labels) if args.labels else None
    existing = "overwrite" if args.overwrite else "skip" if args.skip_existing else "error"
    tty = sys.stderr.isatty() and not args.quiet
    try:
        report = import_labels(args.folder, args.fmt, args.source, labels=labels, map_file=args.map_file,
                               existing=existing, skip_missing=args.skip_missing, progress=_progress_printer(tty))
    finally:
        if tty:
            print("\r" + " " * 66 + "\r", end="", file=sys.stderr, flush=True)
    lines = report.lines()
    print(lines[0])
    if not args.quiet:
        for line in lines[1:]:
            print(line)
    return 0
