"""``segstudio doctor``: what SegStudio runs on (torch, CUDA/MPS, onnxruntime, CRF, Qt) and why."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="report versions, GPUs and optional components",
                       description="Print torch/CUDA/MPS/onnxruntime/pydensecrf/Qt availability and "
                                   "which device models will run on, and why.")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segstudio.models.devices import doctor_report, format_report

    rep = doctor_report()
    print(json.dumps(rep, indent=2) if args.json else format_report(rep))
    return 0
