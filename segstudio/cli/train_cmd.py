"""``segstudio train``: train or fine-tune a model on image/mask folders or a project's corrections."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _pair(text: str) -> tuple[int, int]:
    h, w = (int(v) for v in text.split(","))
    return h, w


def _range(text: str) -> tuple[float, float]:
    lo, hi = (float(v) for v in text.split(","))
    return lo, hi


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train or fine-tune a segmentation model",
                       description="Train on --images/--masks (matched by file stem) or on a project's "
                                   "edited/reviewed masks (--project). Saves the best checkpoint by val mIoU "
                                   "to --out, the latest to OUT.last.pt (for --resume) and a log OUT.log.jsonl.")
    src = p.add_argument_group("data")
    src.add_argument("--images", type=Path, help="folder of training images")
    src.add_argument("--masks", type=Path, help="folder of training masks (PNG, same stems)")
    src.add_argument("--project", type=Path, help="a SegStudio project folder: train on its corrected masks")
    src.add_argument("--only", choices=("edited", "reviewed"), default="edited",
                     help="with --project: which masks to use (edited includes reviewed)")
    src.add_argument("--val-images", type=Path)
    src.add_argument("--val-masks", type=Path)
    src.add_argument("--labels", default=None, help="label set preset or labels.json (default: camvid, or the project's)")
    m = p.add_argument_group("model")
    m.add_argument("--arch", default=None,
                   help="architecture (see `segstudio models`); default: the --from checkpoint's, else unet-light")
    m.add_argument("--arch-options", default=None,
                   help='JSON dict of architecture options, e.g. \'{"width": 24}\' (default: the --from checkpoint\'s)')
    m.add_argument("--from", dest="from_ckpt", default=None, help="fine-tune from this checkpoint (classes mapped by name)")
    m.add_argument("--out", type=Path, required=True, help="checkpoint to write (best by val mIoU)")
    o = p.add_argument_group("optimisation")
    o.add_argument("--epochs", type=int, default=50)
    o.add_argument("--batch-size", type=int, default=8)
    o.add_argument("--lr", type=float, default=0.01)
    o.add_argument("--weight-decay", type=float, default=5e-4)
    o.add_argument("--warmup-epochs", type=int, default=1)
    o.add_argument("--loss", choices=("ce", "wce", "focal"), default="ce")
    o.add_argument("--class-weights", choices=("inverse", "median"), default="inverse",
                   help="wce/focal weights: inverse (N−N_c)/N or median-frequency")
    o.add_argument("--weight-power", type=float, default=1.0, help="raise class weights to this power")
    o.add_argument("--focal-weighted", action="store_true", help="use class weights in the focal loss too")
    o.add_argument("--crop", type=_pair, default=(288, 384), help="training crop H,W")
    o.add_argument("--scale", type=_range, default=(0.6, 1.4), help="random scale range lo,hi")
    o.add_argument("--device", default="auto")
    o.add_argument("--seed", type=int, default=0)
    o.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    o.add_argument("--max-minutes", type=float, default=None,
                   help="time budget: the LR schedule anneals to finish within it, then training stops")
    o.add_argument("--resume", action="store_true", help="continue from OUT.last.pt")
    o.add_argument("--json-progress", action="store_true", help="print one JSON record per line (for the GUI)")
    p.set_defaults(func=run)


def _datasets(args, labels, mean, std):
    from segstudio.core.project import Project, Status
    from segstudio.models.train.data import AugmentConfig, SegDataset, pair_files

    if args.project:
        project = Project(args.project)
        statuses = (Status.EDITED, Status.REVIEWED) if args.only == "edited" else (Status.REVIEWED,)
        keys = [k for k in project.keys_with_status(*statuses) if project.has_mask(k)]
        if not keys:
            from segstudio.core.errors import SegStudioError
            raise SegStudioError(f"{args.project}: no {args.only} masks to train on")
        pairs = [(project.images[k], project.mask_path(k)) for k in keys]
    else:
        if not (args.images and args.masks):
            from segstudio.core.errors import SegStudioError
            raise SegStudioError("give --images and --masks, or --project")
        pairs = pair_files(args.images, args.masks)
    aug = AugmentConfig(crop=args.crop, scale=args.scale)
    train_set = SegDataset(pairs, labels, mean, std, augment=aug, seed=args.seed)
    val_set = None
    if args.val_images and args.val_masks:
        val_set = SegDataset(pair_files(args.val_images, args.val_masks), labels, mean, std, augment=None)
    return train_set, val_set


def run(args: argparse.Namespace) -> int:
    from segstudio.core import labels as labels_mod
    from segstudio.models.checkpoint import IMAGENET_MEAN, IMAGENET_STD
    from segstudio.models.train.loop import TrainConfig, train

    if args.labels:
        labels = labels_mod.resolve(args.labels)
    elif args.project:
        from segstudio.core.project import Project
        labels = Project(args.project).labels
    else:
        labels = labels_mod.preset("camvid")
    arch, arch_options = args.arch, json.loads(args.arch_options) if args.arch_options else None
    if args.from_ckpt and (arch is None or arch_options is None):
        from segstudio.models.checkpoint import load_checkpoint
        base = load_checkpoint(args.from_ckpt)
        if arch is None or arch == base.arch:
            arch, arch_options = base.arch, base.arch_options if arch_options is None else arch_options
    arch = arch or "unet-light"
    config = TrainConfig(arch=arch, arch_options=arch_options or {}, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                         warmup_epochs=args.warmup_epochs, loss=args.loss, class_weights=args.class_weights,
                         weight_power=args.weight_power, focal_weighted=args.focal_weighted, crop=args.crop,
                         scale=args.scale, device=args.device, seed=args.seed, max_minutes=args.max_minutes,
                         threads=args.threads, from_checkpoint=args.from_ckpt)
    t_load = time.perf_counter()
    train_set, val_set = _datasets(args, labels, IMAGENET_MEAN, IMAGENET_STD)
    print(f"loaded {len(train_set)} training and {len(val_set) if val_set else 0} validation pairs "
          f"in {time.perf_counter() - t_load:.1f}s", file=sys.stderr)
    printer = _json_printer if args.json_progress else _text_printer()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = train(config, labels, train_set, val_set, args.out, resume=args.resume, progress=printer)
    best = summary.get("best", float("nan"))
    what = f"best val mIoU {100 * best:.2f}%" if val_set else f"lowest training loss {-best:.4f}"
    print(f"{what}; checkpoint: {args.out}", file=sys.stderr)
    return 0


def _json_printer(rec: dict) -> None:
    print(json.dumps(rec), flush=True)


def _text_printer():
    last = [0.0]

    def show(rec: dict) -> None:
        ev = rec.get("event")
        if ev == "step":
            now = time.perf_counter()
            if now - last[0] < 0.5 and rec["iter"] != rec["iters"]:
                return
            last[0] = now
            n, total = rec["iter"], rec["iters"]
            bar = "#" * int(20 * n / total)
            sys.stderr.write(f"\repoch {rec['epoch'] + 1} [{bar:<20}] {n}/{total} loss {rec['loss']:.4f} "
                             f"lr {rec['lr']:.4g}")
            sys.stderr.flush()
        elif ev == "epoch":
            val = f" val mIoU {100 * rec['val_miou']:.2f}%" if "val_miou" in rec else ""
            best = " (best, saved)" if rec.get("saved_best") else ""
            sys.stderr.write(f"\repoch {rec['epoch'] + 1}/{rec['epochs']} loss {rec['loss']:.4f}{val} "
                             f"{rec['seconds']:.0f}s{best}\n")
        elif ev in ("resume", "fine-tune", "done"):
            sys.stderr.write(json.dumps(rec) + "\n")

    return show
