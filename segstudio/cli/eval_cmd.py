"""``segstudio eval``: score a folder of predicted masks against a ground-truth folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from segstudio.core import atomic, labels as labels_mod
from segstudio.core.evaluation import evaluate_folders


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="per-class IoU / mIoU of predicted masks against ground truth",
                       description="Match --pred and --gt masks by file stem and report per-class IoU, "
                                   "mIoU, pixel accuracy and frequency-weighted IoU.")
    p.add_argument("--pred", required=True, type=Path, help="folder of predicted masks (PNG)")
    p.add_argument("--gt", required=True, type=Path, help="folder of ground-truth masks (PNG)")
    p.add_argument("--labels", required=True,
                   help=f"label set: a preset ({', '.join(labels_mod.PRESETS)}) or a labels.json")
    p.add_argument("--ignore-index", type=int, default=None,
                   help="void value in the ground truth (default: the label set's)")
    p.add_argument("--json", type=Path, default=None, help="write all numbers and the confusion matrix here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    labels = labels_mod.resolve(args.labels)
    ignore = labels.ignore_index if args.ignore_index is None else args.ignore_index
    result = evaluate_folders(args.pred, args.gt, labels, ignore)  # errors: one line via cli.main
    for line in result.skipped:
        print(f"segstudio eval: warning: {line}", file=sys.stderr)
    print(result.table())
    if args.json:
        atomic.write_text(args.json, json.dumps(result.to_json(), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
