"""``--runner local|ray`` and the cluster options of the predicting verbs (``batch``, ``predict``).

``add_runner_options(parser)`` declares them (``cli.predict_options`` calls it, so every verb that
shares the model options gets them); ``spec_from_args(args)`` turns the model options into the
:class:`PredictorSpec` that Ray workers build their own Predictor from; ``run_on_ray`` runs the
batch with ``models.runners.ray_runner``. Ray is imported only when ``--runner ray`` runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable


def add_runner_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster (--runner ray; see docs/cluster.md)")
    g.add_argument("--runner", choices=("local", "ray"), default="local",
                   help="local: this process (default); ray: a Ray Data pipeline on a Ray cluster "
                        "(--workers is then the number of Predictor actors)")
    g.add_argument("--address", default=None,
                   help="Ray cluster: auto (the one `ray start` made on this machine) or ray://HOST:PORT; "
                        "default: start a private Ray instance on this machine")
    g.add_argument("--gpus-per-worker", type=float, default=0.0,
                   help="GPUs each Predictor actor reserves (fractions share a GPU, e.g. 0.5)")
    g.add_argument("--cpus-per-worker", type=float, default=1.0, help="CPUs each Predictor actor reserves")


def is_ray(args: argparse.Namespace) -> bool:
    return getattr(args, "runner", "local") == "ray"


def spec_from_args(args: argparse.Namespace, model: Path, labels: Any = None) -> Any:
    from segstudio.models.runners.spec import PredictorSpec

    options = {"device": args.device, "engine": args.engine, "tile": args.tile, "tile_overlap": args.tile_overlap,
               "max_side": args.max_side, "labels": labels, "arch": args.arch, "num_classes": args.num_classes,
               "allow_torchscript": args.model is not None, "tta": getattr(args, "tta", "none")}
    import torch  # already loaded by the driver's model check

    # the local runner's thread count: a CPU forward pass may differ in the last bits with it
    return PredictorSpec(str(Path(model).resolve()), options, threads=torch.get_num_threads())


def where(args: argparse.Namespace) -> str:
    gpus = f", {args.gpus_per_worker:g} GPU each" if args.gpus_per_worker else ""
    return f"Ray at {args.address or 'a private local instance'} ({args.workers} workers{gpus}, --device {args.device})"


def run_on_ray(args: argparse.Namespace, model: Path, labels: Any, images: list[Path], out_dir: Path, crf: Any,
               save_probs: bool, resume: bool, progress: Callable[[Any], None] | None) -> Any:
    """The batch of ``images`` on Ray with the options in ``args``; returns the ``BatchResult``."""
    from segstudio.models.runners.ray_runner import run

    print(f"runner: {where(args)}", file=sys.stderr)
    result = run(spec_from_args(args, model, labels), images, out_dir, progress=progress, resume=resume,
                 save_probs=save_probs, crf=crf, address=args.address, workers=args.workers,
                 gpus_per_worker=args.gpus_per_worker, cpus_per_worker=args.cpus_per_worker)
    if result.per_node:
        counts = ", ".join(f"{node[:8]} {n}" for node, n in sorted(result.per_node.items()))
        print(f"runner: predicted on {len(result.per_node)} node(s) (images per node id: {counts})", file=sys.stderr)
    return result
