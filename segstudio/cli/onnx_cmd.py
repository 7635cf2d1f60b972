"""``segstudio export-onnx``: export a checkpoint to a self-describing ONNX file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-onnx", help="export a model checkpoint to ONNX",
                       description="Export CKPT to ONNX (dynamic batch/height/width, labels, mean/std and "
                                   "architecture stored in the file's metadata). The result is checked "
                                   "against torch with onnxruntime before it is written.")
    p.add_argument("checkpoint", type=Path, metavar="CKPT", help="checkpoint or state dict")
    p.add_argument("--out", type=Path, default=None,
                   help="output file (default: CKPT with .onnx, which --engine auto then picks up)")
    p.add_argument("--cache", action="store_true", help="write into the export cache instead of beside CKPT")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--arch", default=None, help="architecture of a bare state dict (default: inferred)")
    p.add_argument("--num-classes", type=int, default=None, help="class count of a bare state dict")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segstudio.core.errors import SegStudioError
    from segstudio.models import onnx_engine
    from segstudio.models.loading import load_model_file

    loaded = load_model_file(args.checkpoint, arch=args.arch, num_classes=args.num_classes)
    if loaded.checkpoint is None:
        raise SegStudioError(f"{args.checkpoint}: only checkpoints and state dicts can be exported "
                             f"(this is a {loaded.kind} file)")
    sha = onnx_engine.file_sha256(args.checkpoint)
    out = args.out or (onnx_engine.cached_onnx_path(sha) if args.cache else args.checkpoint.with_suffix(".onnx"))
    rep = onnx_engine.export_onnx(loaded.build_module(), out, loaded.labels, loaded.mean, loaded.std, loaded.arch,
                                  loaded.arch_options, source_sha256=sha, opset=args.opset)
    print(f"wrote {out} ({rep['exporter']} exporter, opset {rep['opset']}, {loaded.arch}, "
          f"{loaded.num_classes} classes)")
    for note in rep["notes"]:
        print(f"note: {note}", file=sys.stderr)
    return 0
