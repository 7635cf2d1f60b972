"""``segstudio predict FOLDER``: predictions for a project's images, into ``segstudio/predictions/``.

Never touches ``masks/`` (the user's work): it writes ``predictions/<key>.png`` (atomic), marks
unlabelled images *predicted*, and records each image's mean entropy in
``segstudio/attention.json`` (the app's "next image that needs attention"). ``--save-probs``
keeps ``predictions/<key>.npy`` (float16 C×H×W), which ``segstudio accept --crf`` needs.
The model options are the batch verb's (``cli.predict_options``): the prediction itself is
``models.batch.run_batch``, run in chunks of :data:`CHUNK` images into a staging folder whose
outputs are then renamed to their keys (two images sharing a stem land in different chunks).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from segstudio.cli.predict_options import add_model_options, build_predictor, describe, run_images
from segstudio.core.errors import SegStudioError

CHUNK = 64
RAY_CHUNK = 4096   # a Ray pipeline (and its actors) costs seconds to start: far fewer, larger chunks
STAGING = ".predict-staging"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict the images of a project folder (never touches masks/)",
                       description="Write FOLDER/segstudio/predictions/<key>.png for the project's images with "
                                   "a segmentation model and mark unlabelled images 'predicted'. The user's masks "
                                   "are never touched; accept predictions with `segstudio accept`. "
                                   "Exit status 1 if any image failed.")
    p.add_argument("folder", type=Path, metavar="FOLDER", help="project folder (images + segstudio/)")
    p.add_argument("--only", choices=("unlabelled", "all"), default="unlabelled",
                   help="unlabelled (default): images without a prediction or mask; all: every image")
    add_model_options(p)
    p.set_defaults(func=run)


def chunks(jobs: list[tuple[str, Path]], size: int = CHUNK) -> list[list[tuple[str, Path]]]:
    """Consecutive groups of at most ``size`` jobs in which no two images share a file stem."""
    out: list[list[tuple[str, Path]]] = []
    stems: set[str] = set()
    for job in jobs:
        stem = job[1].stem.lower()
        if not out or len(out[-1]) >= size or stem in stems:
            out.append([])
            stems = set()
        out[-1].append(job)
        stems.add(stem)
    return out


def _progress(total: int, base: int, printer):
    from dataclasses import replace

    def call(info) -> None:
        printer(replace(info, done=base + info.done, total=total))
    return call


def run(args: argparse.Namespace) -> int:
    from segstudio.core import attention
    from segstudio.core.project import Project, Status

    project = Project(args.folder)
    project.require_images()
    own_labels = project.labels_path.exists()
    if args.labels and own_labels:
        raise SegStudioError(f"{project.labels_path}: the project has its label set; --labels is for a new project")
    statuses = project.statuses()
    keys = [k for k in project.keys() if args.only == "all" or statuses[k] == Status.UNLABELLED]
    if not keys:                                     # before the model loads: nothing to wait for
        print(f"nothing to predict: all {len(statuses)} images of {project.folder} have a prediction or a mask "
              "(--only all predicts them again; the user's masks are never touched)")
        return 0
    predictor = build_predictor(args, labels=project.labels if own_labels else None)
    if own_labels and predictor.labels.num_classes != project.labels.num_classes:
        raise SegStudioError(f"{args.model or 'the default model'} predicts {predictor.labels.num_classes} classes "
                             f"but {project.labels_path} has {project.labels.num_classes}")
    if not own_labels:
        project.set_labels(predictor.labels)   # a new project takes the model's classes
    describe(args, predictor, len(keys), project.store / "predictions")
    jobs = [(k, project.images[k]) for k in keys]

    printer = None
    if not args.quiet:
        from segstudio.models.batch import TextProgress

        printer = TextProgress(sys.stderr)
    preds = project.store / "predictions"
    preds.mkdir(parents=True, exist_ok=True)
    staging = project.store / STAGING
    written, failed, scores, new_status = 0, [], {}, {}

    def flush() -> None:
        if new_status:
            project.set_statuses(dict(new_status))
            new_status.clear()
        attention.record_scores(project, scores)
        scores.clear()

    done = 0
    try:
        for chunk in chunks(jobs, RAY_CHUNK if getattr(args, "runner", "local") == "ray" else CHUNK):
            shutil.rmtree(staging, ignore_errors=True)
            key_of = {path: key for key, path in chunk}
            prog = _progress(len(jobs), done, printer) if printer is not None else (lambda info: None)
            result = run_images(args, predictor, [p for _, p in chunk], staging, save_probs=True, progress=prog)
            for src in result.written:
                key = key_of[src]
                staged = staging / f"{src.stem}.png"
                os.replace(staged, project.prediction_path(key))
                probs_file = staged.with_suffix(".npy")
                scores[key] = _score(probs_file)
                kept = project.prediction_path(key).with_suffix(".npy")
                if args.save_probs:
                    os.replace(probs_file, kept)
                else:
                    kept.unlink(missing_ok=True)   # never leave the probabilities of an older prediction
                if statuses[key] == Status.UNLABELLED:
                    new_status[key] = Status.PREDICTED
                written += 1
            failed += [(key_of.get(src, str(src)), why) for src, why in result.failed]
            done += len(chunk)
            if len(scores) >= 1024:
                flush()
            if result.cancelled:
                break
    finally:
        if printer is not None:
            printer.close()
        shutil.rmtree(staging, ignore_errors=True)
        flush()
    print(f"{len(jobs)} images: {written} predicted into {preds}, {len(failed)} failed"
          + "".join(f"\n  FAILED {k}: {why}" for k, why in failed))
    return 1 if failed else 0


def _score(probs_file: Path) -> float:
    import numpy as np

    from segstudio.core.attention import image_uncertainty

    try:
        return image_uncertainty(np.load(probs_file, allow_pickle=False))
    except (OSError, ValueError):
        return float("nan")
