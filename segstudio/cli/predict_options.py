"""The model/inference options shared by ``segstudio batch`` and ``segstudio predict``, in one place.

``add_model_options(parser)`` declares them (model file, label set, device, engine, tiling,
CRF, reader/writer threads, progress); ``run_images(args, images, out_dir, …)`` builds the
predictor from them and runs the batch (``models.batch.run_batch``) with a progress bar.
Both verbs call these two functions, so an option added here (a ``--runner``, ``--tta``)
reaches both verbs at once. Torch is imported inside ``run_images`` only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from segstudio.core.errors import SegStudioError


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Declare the options every predicting verb shares."""
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
    p.add_argument("--tta", default="none", choices=("none", "flip", "ms"),
                   help="test-time augmentation: flip (2 passes) or ms (scales 0.75/1/1.25 with flips, 6 passes)")
    p.add_argument("--save-probs", action="store_true", help="also write <stem>.npy (float16 C×H×W probabilities)")
    p.add_argument("--crf", action="store_true", help="refine each prediction with a dense CRF")
    p.add_argument("--crf-params", type=Path, default=None, help="JSON object of CRF parameters")
    p.add_argument("--workers", type=int, default=2, help="reader and writer threads each (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    from segstudio.cli.runner_options import add_runner_options

    add_runner_options(p)  # --runner local|ray, --address, --gpus-per-worker (H7)


def model_path(args: argparse.Namespace) -> Path:
    """``--model``, or the shipped default model (an error naming it when it is missing)."""
    from segstudio.paths import default_model_path

    if args.model is not None:
        return args.model
    model = default_model_path()
    if not model.exists():
        raise SegStudioError(f"the default model is not shipped in this build yet ({model} is missing): "
                             f"pass --model CKPT")
    return model


def crf_params(args: argparse.Namespace) -> Any:
    """The CRF parameters for ``--crf`` (shipped tuned defaults, overridden by ``--crf-params``), else None."""
    if not args.crf:
        return None
    from segstudio.core.crf_params import CRFParams

    crf = CRFParams.shipped()
    if args.crf_params is not None:
        try:
            params = json.loads(args.crf_params.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SegStudioError(f"{args.crf_params}: cannot read CRF parameters ({exc})") from None
        crf = CRFParams.from_dict({**crf.to_dict(), **params.get("params", params)}, str(args.crf_params))
    return crf


def build_predictor(args: argparse.Namespace, labels: Any = None) -> Any:
    """A ``Predictor`` from the options; ``labels`` (a LabelSet) overrides ``--labels``."""
    from segstudio.core import labels as labels_mod
    from segstudio.models.predictor import Predictor

    if labels is None and args.labels:
        labels = labels_mod.resolve(args.labels)
    ray = getattr(args, "runner", "local") == "ray"  # the driver only checks the model; Ray workers run it
    return Predictor(model_path(args), device="cpu" if ray else args.device, engine=args.engine, tile=args.tile,
                     tile_overlap=args.tile_overlap, max_side=args.max_side, labels=labels, arch=args.arch,
                     num_classes=args.num_classes, allow_torchscript=args.model is not None,
                     tta=getattr(args, "tta", "none"))


def describe(args: argparse.Namespace, predictor: Any, count: int, dest: Any) -> None:
    d = predictor.describe()
    print(f"model {model_path(args)} ({d['arch'] or d['kind']}, {d['num_classes']} classes) on {d['device']} "
          f"with {d['engine']}; {count} images -> {dest}", file=sys.stderr)


def run_images(args: argparse.Namespace, predictor: Any, images: list[Path], out_dir: Path,
               save_probs: bool | None = None, resume: bool = False,
               progress: Callable[[Any], None] | None = None) -> Any:
    """Predict ``images`` into ``out_dir`` with the options in ``args``; returns the ``BatchResult``.

    ``progress`` replaces the text progress bar (``--quiet`` turns the bar off)."""
    from segstudio.models.batch import TextProgress, run_batch

    printer = None if (args.quiet or progress is not None) else TextProgress(sys.stderr)
    try:
        if getattr(args, "runner", "local") == "ray":  # workers build their own Predictor (cli.runner_options)
            from segstudio.cli.runner_options import run_on_ray

            return run_on_ray(args, model_path(args), predictor.labels, images, out_dir, crf_params(args),
                              args.save_probs if save_probs is None else save_probs, resume, progress or printer)
        return run_batch(predictor, images, out_dir, progress=progress or printer, resume=resume,
                         save_probs=args.save_probs if save_probs is None else save_probs, crf=crf_params(args),
                         readers=args.workers, writers=args.workers)
    finally:
        if printer is not None:
            printer.close()
