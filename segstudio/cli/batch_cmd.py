"""``segstudio batch``: predict a mask PNG for every image of a folder (logic in ``models.batch``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from segstudio.core.errors import SegStudioError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="predict masks for a folder of images",
                       description="Write OUT_DIR/<stem>.png (indexed palette PNG) for every image in "
                                   "INPUT_DIR with a segmentation model. Exit status 1 if any image failed.")
    p.add_argument("input", type=Path, metavar="INPUT_DIR", help="folder of images (or one image file)")
    p.add_argument("--out", required=True, type=Path, metavar="OUT_DIR", help="folder for the masks")
    p.add_argument("--model", type=Path, default=None,
                   help="checkpoint, state dict, TorchScript (.ts) or ONNX file (default: the shipped model)")
    p.add_argument("--labels", default=None, help="label set (preset or labels.json) to name/colour the classes")
    p.add_argument("--arch", default=None, help="architecture of a bare state dict (default: inferred)")
    p.add_argument("--num-classes", type=int, default=None, help="class count of a bare state dict")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--engine", default="auto", choices=("auto", "torch", "onnxruntime"),
                   help="auto: onnxruntime on CPU when a valid ONNX export of the model exists, else torch")
    p.add_argument("--tile", type=int, default=None,
                   help="tile size for large images (default: tile images above 4 MP; 0: never)")
    p.add_argument("--tile-overlap", type=int, default=128, help="pixels shared by neighbouring tiles")
    p.add_argument("--max-side", type=int, default=None, help="downscale images whose long side exceeds this")
    p.add_argument("--resume", action="store_true", help="skip images whose mask already exists")
    p.add_argument("--save-probs", action="store_true", help="also write <stem>.npy (float16 C×H×W probabilities)")
    p.add_argument("--crf", action="store_true", help="refine each prediction with a dense CRF")
    p.add_argument("--crf-params", type=Path, default=None, help="JSON object of CRF parameters")
    p.add_argument("--workers", type=int, default=2, help="reader and writer threads each (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segstudio.core.images import is_image_file, list_images
    from segstudio.core import labels as labels_mod
    from segstudio.paths import default_model_path

    model = args.model
    if model is None:
        model = default_model_path()
        if not model.exists():
            raise SegStudioError(f"the default model is not shipped in this build yet ({model} is missing): "
                                 f"pass --model CKPT")
    if args.input.is_file() and is_image_file(args.input):
        images = [args.input]
    else:
        images = list_images(args.input)
    crf = None
    if args.crf:
        from segstudio.core.crf_params import CRFParams

        crf = CRFParams.shipped()
        if args.crf_params is not None:
            try:
                params = json.loads(args.crf_params.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise SegStudioError(f"{args.crf_params}: cannot read CRF parameters ({exc})") from None
            crf = CRFParams.from_dict({**crf.to_dict(), **params.get("params", params)}, str(args.crf_params))
    from segstudio.models.batch import TextProgress, run_batch
    from segstudio.models.predictor import Predictor

    labels = labels_mod.resolve(args.labels) if args.labels else None
    predictor = Predictor(model, device=args.device, engine=args.engine, tile=args.tile,
                          tile_overlap=args.tile_overlap, max_side=args.max_side, labels=labels, arch=args.arch,
                          num_classes=args.num_classes, allow_torchscript=args.model is not None)
    d = predictor.describe()
    print(f"model {model} ({d['arch'] or d['kind']}, {d['num_classes']} classes) on {d['device']} "
          f"with {d['engine']}; {len(images)} images -> {args.out}", file=sys.stderr)
    printer = None if args.quiet else TextProgress(sys.stderr)
    try:
        result = run_batch(predictor, images, args.out, progress=printer, resume=args.resume,
                           save_probs=args.save_probs, crf=crf, readers=args.workers, writers=args.workers)
    finally:
        if printer is not None:
            printer.close()
    print(result.summary())
    return 1 if result.failed else 0
