"""Command line: ``segstudio [gui|batch|eval|export|train|crf|doctor|models|export-onnx] …``.

Each verb lives in its own module exposing ``register(subparsers)``; the module sets
``func`` on its parser. Verb modules import torch/Qt lazily inside ``func`` so that
``segstudio eval`` never loads torch and no headless verb ever loads Qt.

:func:`main` is the one error path of every verb: whatever a verb raises becomes one line
``segstudio VERB: error: <path>: <what> (<errno text>)`` on stderr and a documented exit code
(``docs/errors.md``); a traceback is shown only with ``--debug`` (anywhere on the line, or
``SEGSTUDIO_DEBUG=1``) and, for unexpected errors (bugs), written to the log file.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from segstudio import __version__
from segstudio.core.errors import (EXIT_DISK, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, SegStudioError,
                                   os_error_message)

# verb module names, in the order shown by --help
VERBS = ("gui_cmd", "batch_cmd", "eval_cmd", "export_cmd", "train_cmd", "crf_cmd", "doctor_cmd",
         "models_cmd", "onnx_cmd", "predict_cmd", "accept_cmd", "import_cmd")
DEBUG_FLAG = "--debug"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segstudio",
        description="SegStudio: semantic segmentation labelling. With no verb, opens the desktop app.",
        epilog="Exit status: 0 done, 1 bad input or failed job, 2 usage, 3 disk/OS fault, 4 internal error, "
               "130 interrupted (docs/errors.md).")
    parser.add_argument("--version", action="version", version=f"segstudio {__version__}")
    parser.add_argument(DEBUG_FLAG, action="store_true", help="show the traceback of an error")
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


def _verbs_action(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def verb_names(parser: argparse.ArgumentParser | None = None) -> list[str]:
    """The registered verbs, in --help order (generated, so new verbs appear by themselves)."""
    return list(_verbs_action(parser or build_parser()).choices)


def log_path() -> Path:
    """Where unexpected errors (bugs) are logged with their traceback."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "segstudio" / "segstudio.log"


def _log_traceback(verb: str, argv: list[str]) -> Path | None:
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} segstudio {__version__} {verb}: "
                     f"{' '.join(argv)}\n{traceback.format_exc()}\n")
        return path
    except OSError:
        return None


def _not_a_verb(word: str, verbs: list[str]) -> int:
    close = difflib.get_close_matches(word, verbs, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    print(f"segstudio: '{word}' is not a verb{hint} and not an existing folder or file; "
          f"verbs: {', '.join(verbs)} (segstudio VERB --help; segstudio gui FOLDER opens a folder)",
          file=sys.stderr)
    return EXIT_USAGE


def _unknown_arguments(parser: argparse.ArgumentParser, verb: str | None, unknown: list[str]) -> None:
    """Stop with the verb's usage (not the top-level one), naming the unknown words, with a hint."""
    verb_parser = _verbs_action(parser).choices.get(verb) if verb else None
    target = verb_parser or parser
    options = [o for a in target._actions for o in a.option_strings]
    hints = []
    for word in unknown:
        if word.startswith("-"):
            close = difflib.get_close_matches(word.split("=", 1)[0], options, n=1, cutoff=0.6)
            if close:
                hints.append(f"{word}: did you mean {close[0]}?")
    more = f" ({'; '.join(hints)})" if hints else ""
    see = f"; see segstudio {verb} --help" if verb_parser is not None else ""
    target.error(f"unrecognized arguments: {' '.join(unknown)}{more}{see}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    debug = DEBUG_FLAG in argv[:cut] or os.environ.get("SEGSTUDIO_DEBUG", "") not in ("", "0")
    argv = [a for i, a in enumerate(argv) if i >= cut or a != DEBUG_FLAG]
    parser = build_parser()
    verbs = verb_names(parser)
    if not argv:
        argv = ["gui"]  # `segstudio` opens the app
    elif argv[0] not in verbs and not argv[0].startswith("-"):
        if not os.path.exists(argv[0]):
            return _not_a_verb(argv[0], verbs)
        argv = ["gui", *argv]  # `segstudio FOLDER` opens the app on it
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _unknown_arguments(parser, args.verb, unknown)          # exits 2 with the verb's own usage
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    verb = args.verb
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        _debug_trace(debug)
        print(f"segstudio {verb}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SegStudioError as exc:
        _debug_trace(debug)
        print(f"segstudio {verb}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        _debug_trace(debug)
        print(f"segstudio {verb}: error: {os_error_message(exc)}", file=sys.stderr)
        return EXIT_DISK
    except MemoryError:
        _debug_trace(debug)
        print(f"segstudio {verb}: error: out of memory", file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as exc:  # noqa: BLE001 - the one place every unexpected error ends
        _debug_trace(debug)
        where = _log_traceback(verb, argv)
        text = " ".join(str(exc).split())[:300]
        more = "run with --debug for the traceback" + (f"; details in {where}" if where else "")
        print(f"segstudio {verb}: internal error: {type(exc).__name__}: {text} ({more})", file=sys.stderr)
        return EXIT_INTERNAL


def _debug_trace(debug: bool) -> None:
    if debug:
        traceback.print_exc(file=sys.stderr)
