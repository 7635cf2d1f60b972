"""Command line: ``segstudio [gui|batch|eval|export|train|crf|doctor|models|export-onnx] …``.

Each verb lives in its own module exposing ``register(subparsers)``; the module sets
``func`` on its parser. Verb modules import torch/Qt lazily inside ``func`` so that
``segstudio eval`` never loads torch and no headless verb ever loads Qt.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from segstudio import __version__
from segstudio.core.errors import SegStudioError

# verb module names, in the order shown by --help
VERBS = ("gui_cmd", "batch_cmd", "eval_cmd", "export_cmd", "train_cmd", "crf_cmd", "doctor_cmd",
         "models_cmd", "onnx_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segstudio",
        description="SegStudio: semantic segmentation labelling. With no verb, opens the desktop app.")
    parser.add_argument("--version", action="version", version=f"segstudio {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for name in VERBS:
        try:
            module = importlib.import_module(f"segstudio.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"segstudio.cli.{name}":
                continue  # verb not part of this build
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if not argv or (argv[0] not in parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
                    and not argv[0].startswith("-")):
        argv = ["gui", *argv]  # `segstudio` or `segstudio FOLDER` opens the app
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SegStudioError as exc:
        print(f"segstudio {args.verb}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"segstudio {args.verb}: interrupted", file=sys.stderr)
        return 130
