"""``segstudio train``: train or fine-tune a model on image/mask folders or a project's corrections.

Without options the run follows the data: a 10-minute budget (or ``--steps`` / ``--epochs`` /
``--max-minutes``), the architecture, crop and batch for the data and device, normalisation
measured from the training images (a fine-tune keeps its base model's), class-weighted
cross-entropy, augmentation with 90° rotations when the layout is orientation-free, and a
held-out validation split when none is given — each decision printed with its reason.
"""

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


def _unit(text: str) -> float:
    v = float(text)
    if not 0.0 <= v < 1.0:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 0 and less than 1")
    return v


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
    src.add_argument("--val-fraction", type=float, default=0.15,
                     help="without --val-images: hold out this share of the images (from 5 images on; 0: none)")
    src.add_argument("--labels", default=None, help="label set preset or labels.json (default: camvid, or the project's)")
    m = p.add_argument_group("model")
    m.add_argument("--arch", default=None,
                   help="architecture (see `segstudio models`); default: the --from checkpoint's, else chosen "
                        "for the data and device (printed)")
    m.add_argument("--arch-options", default=None,
                   help='JSON dict of architecture options, e.g. \'{"width": 24}\' (default: the --from checkpoint\'s)')
    m.add_argument("--backbone-weights", default=None, metavar="FILE|hub",
                   help="start the backbone from a local torchvision ImageNet state dict (or 'hub': the torch hub "
                        "cache, if it holds one); never downloads; needs --arch")
    m.add_argument("--from", dest="from_ckpt", default=None, help="fine-tune from this checkpoint (classes mapped by name); "
                   "'default': the shipped model")
    m.add_argument("--out", type=Path, required=True, help="checkpoint to write (best by val mIoU)")
    o = p.add_argument_group("budget and optimisation")
    o.add_argument("--steps", type=int, default=None, help="optimiser steps to run")
    o.add_argument("--epochs", type=int, default=None, help="passes over the training images (validates each)")
    o.add_argument("--max-minutes", type=float, default=None,
                   help="time budget: the step count follows the measured speed and the schedule ends with the "
                        "time (default without --steps/--epochs: 10 minutes)")
    o.add_argument("--batch-size", type=int, default=None, help="default: chosen for the device (printed)")
    o.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd")
    o.add_argument("--lr", type=float, default=None, help="default: 0.02 from scratch, 0.002 fine-tuning (SGD)")
    o.add_argument("--weight-decay", type=float, default=5e-4)
    o.add_argument("--warmup-epochs", type=int, default=1, help="with --epochs: warm-up length")
    o.add_argument("--loss", choices=("ce", "wce", "focal"), default="wce",
                   help="default wce: cross-entropy weighted from the class histogram")
    o.add_argument("--class-weights", choices=("inverse", "median"), default="median",
                   help="wce/focal weights: median-frequency (default) or inverse (N−N_c)/N")
    o.add_argument("--weight-power", type=float, default=0.5, help="raise class weights to this power (default √)")
    o.add_argument("--focal-weighted", action="store_true", help="use class weights in the focal loss too")
    o.add_argument("--crop", type=_pair, default=None, help="training crop H,W (default: from the image size)")
    o.add_argument("--scale", type=_range, default=(0.6, 1.4), help="random scale range lo,hi")
    o.add_argument("--jitter", type=_unit, default=0.25,
                   help="brightness/contrast/saturation jitter amplitude, 0..1 (default 0.25; 0: off)")
    o.add_argument("--colour-cast", type=_unit, default=0.0,
                   help="random gain per colour channel, amplitude 0..1 (a white-balance or dusk tint; "
                        "default 0: off; never on grey images)")
    o.add_argument("--orientation", choices=("auto", "free", "fixed"), default="auto",
                   help="free: add 90° rotations and vertical flips; auto: free when every main class is spread "
                        "evenly over the image halves")
    o.add_argument("--no-early-stop", action="store_true", help="do not stop on a validation plateau")
    o.add_argument("--device", default="auto")
    o.add_argument("--seed", type=int, default=0)
    o.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    o.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: 0 on CPU, up to 8 on CUDA)")
    o.add_argument("--no-amp", action="store_true", help="CUDA: train in float32 (default: bf16, else fp16)")
    o.add_argument("--compile", action="store_true", help="CUDA: torch.compile the model")
    o.add_argument("--resume", action="store_true", help="continue from OUT.last.pt")
    o.add_argument("--nproc", type=int, default=1,
                   help="data-parallel processes on this machine (DDP: one per GPU, gloo on CPU); several "
                        "machines: torchrun --nproc-per-node N -m segstudio train … (docs/cluster.md)")
    o.add_argument("--json-progress", action="store_true", help="print one JSON record per line (for the GUI)")
    p.set_defaults(func=run)


def _pairs(args) -> tuple[list, list[str]]:
    """(image, mask) pairs to train on, and the stems preferred for holding out (reviewed ones)."""
    from segstudio.core.errors import SegStudioError
    from segstudio.core.project import Project, Status
    from segstudio.models.train.data import pair_files

    if args.project:
        project = Project(args.project)
        statuses = (Status.EDITED, Status.REVIEWED) if args.only == "edited" else (Status.REVIEWED,)
        keys = [k for k in project.keys_with_status(*statuses) if project.has_mask(k)]
        if not keys:
            raise SegStudioError(f"{args.project}: no {args.only} masks to train on")
        reviewed = set(project.keys_with_status(Status.REVIEWED))
        pairs = [(project.images[k], project.mask_path(k)) for k in keys]
        return pairs, [project.images[k].stem for k in keys if k in reviewed]
    if not (args.images and args.masks):
        raise SegStudioError("give --images and --masks, or --project")
    return pair_files(args.images, args.masks), []


def _datasets(args, labels, say):
    from segstudio.core.learning import MIN_IMAGES_FOR_SPLIT, split_holdout
    from segstudio.models.train.data import SegDataset, pair_files

    pairs, preferred = _pairs(args)
    data = SegDataset(pairs, labels, (0.5,) * 3, (0.25,) * 3, augment=None, seed=args.seed)
    stems = [p.stem for p, _ in pairs]
    val_set = None
    if args.val_images and args.val_masks:
        val_set = SegDataset(pair_files(args.val_images, args.val_masks), labels, (0.5,) * 3, (0.25,) * 3)
        train_stems = stems
    elif args.val_fraction > 0 and len(stems) >= MIN_IMAGES_FOR_SPLIT:
        pool = preferred if len(preferred) >= MIN_IMAGES_FOR_SPLIT else stems
        _, held = split_holdout(pool, args.val_fraction, seed=args.seed)
        train_stems = [s for s in stems if s not in set(held)]
        val_set = data.subset(held, None)
        say("validation", f"no validation set given: {len(held)} of the {len(stems)} images held out "
                          f"({'reviewed ones, ' if pool is preferred else ''}chosen by file name hash; "
                          f"--val-fraction 0 to train on all): {', '.join(held[:8])}{' …' if len(held) > 8 else ''}")
    else:
        train_stems = stems
        say("validation", "no validation: " + ("--val-fraction 0" if args.val_fraction <= 0 else
                                               f"fewer than {MIN_IMAGES_FOR_SPLIT} images"))
    return data.subset(train_stems, None), val_set


def run(args: argparse.Namespace) -> int:
    from segstudio.core import labels as labels_mod
    from segstudio.models.devices import select_device
    from segstudio.models.train.data import AugmentConfig
    from segstudio.models.train.loop import TrainConfig, train
    from segstudio.models.train.plan import choose_setup, measure_facts

    if args.nproc > 1:  # N processes each run this function as one DDP rank (models.train.ddp)
        from segstudio.models.train import ddp

        return ddp.spawn(args.nproc, run, args)
    printer = _json_printer if args.json_progress else _text_printer()

    def say(topic: str, text: str) -> None:
        printer({"event": "decision", "topic": topic, "message": text})

    if args.from_ckpt == "default" and not Path("default").exists():
        from segstudio.core.errors import SegStudioError
        from segstudio.paths import default_model_path

        args.from_ckpt = str(default_model_path())
        if not Path(args.from_ckpt).is_file():
            raise SegStudioError(f"{args.from_ckpt}: the shipped model is not in this installation (--from default)")
    if args.labels:
        labels = labels_mod.resolve(args.labels)
    elif args.project:
        from segstudio.core.project import Project
        labels = Project(args.project).labels
    else:
        labels = labels_mod.preset("camvid")
    t_load = time.perf_counter()
    train_set, val_set = _datasets(args, labels, say)
    print(f"loaded {len(train_set)} training and {len(val_set) if val_set else 0} validation pairs "
          f"in {time.perf_counter() - t_load:.1f}s", file=sys.stderr)
    facts = measure_facts([(rgb, m) for rgb, m, _ in train_set.items], train_set.grey, train_set.bit_depth,
                          labels.num_classes)
    device = select_device(args.device)
    setup = choose_setup(facts, device.type)
    arch, arch_options = args.arch, json.loads(args.arch_options) if args.arch_options else None
    mean, std = facts.mean, facts.std
    if args.backbone_weights:  # a start checkpoint holding the pretrained backbone (models/pretrained.py)
        from segstudio.models.pretrained import start_checkpoint
        args.from_ckpt = str(start_checkpoint(arch, arch_options or {}, labels, args.backbone_weights, args.out))
    if args.from_ckpt:
        from segstudio.models.checkpoint import load_checkpoint
        base = load_checkpoint(args.from_ckpt)
        if not args.backbone_weights:
            say("start", f"fine-tuning {args.from_ckpt}")
        if arch is None or arch == base.arch:
            arch, arch_options = base.arch, base.arch_options if arch_options is None else arch_options
        mean, std = base.mean, base.std
        say("normalisation", f"kept the base model's normalisation (mean {_fmt(mean)}, std {_fmt(std)})")
    else:
        say("start", "from scratch (random initial weights)" + (
            f": {len(train_set)} masks teach a new model little; --from CKPT (or --from default, the shipped "
            "model) retrains the model you predict with on these corrections" if args.project else ""))
        say("normalisation", f"measured from the training images: mean {_fmt(mean)}, std {_fmt(std)}"
                             + (" (grey: channel replicated)" if facts.grey else ""))
    if arch is None:
        arch, arch_options = setup.arch, {**setup.arch_options, **(arch_options or {})}
        say("model", "; ".join(setup.reasons))
    else:
        say("model", f"{arch} {json.dumps(arch_options or {})} (" + ("--arch" if args.arch else "the --from checkpoint's")
            + f"); device {device.type}")
    crop = args.crop or setup.crop
    batch = args.batch_size or setup.batch_size
    if not args.crop or not args.batch_size:
        say("crop", f"crop {crop[0]}×{crop[1]}, batch {batch}" + ("" if args.crop else
                                                                  f" (images of median size {facts.height}×{facts.width})"))
    free = facts.orientation_free if args.orientation == "auto" else args.orientation == "free"
    say("augmentation", f"scale {args.scale[0]}–{args.scale[1]}, horizontal flips, "
        + (f"brightness/contrast/saturation jitter ±{args.jitter:g}, " if args.jitter > 0 else "no colour jitter, ")
        + (f"colour cast ±{args.colour_cast:g}, " if args.colour_cast > 0 else "")
        + (facts.orientation_reason if args.orientation == "auto" else f"--orientation {args.orientation}"))
    for ds in (train_set, val_set):
        if ds is not None:
            ds.set_norm(mean, std)
    train_set.augment = AugmentConfig(crop=crop, scale=args.scale, rot90=free, jitter=args.jitter,
                                      colour_cast=args.colour_cast)
    lr = args.lr if args.lr is not None else (0.002 if args.from_ckpt else 0.02)
    config = TrainConfig(arch=arch, arch_options=arch_options or {}, epochs=args.epochs, steps=args.steps,
                         batch_size=batch, lr=lr, weight_decay=args.weight_decay,
                         warmup_epochs=args.warmup_epochs, loss=args.loss, class_weights=args.class_weights,
                         weight_power=args.weight_power, focal_weighted=args.focal_weighted, crop=crop,
                         scale=args.scale, jitter=args.jitter, colour_cast=args.colour_cast,
                         device=args.device, seed=args.seed, max_minutes=args.max_minutes,
                         threads=args.threads, from_checkpoint=args.from_ckpt, optimizer=args.optimizer,
                         early_stop=not args.no_early_stop, workers=args.workers, amp=not args.no_amp,
                         compile=args.compile,
                         meta={"input": facts.as_meta(), "val_stems": sorted(s for _, _, s in val_set.items)
                               if val_set is not None else []})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.resume:   # a killed run may have left half-written temp files of its checkpoints and log
        from segstudio.core.atomic import remove_stale_temps

        for stale in remove_stale_temps(args.out.parent, stem=args.out.stem):
            print(f"removed a temp file a killed run left: {stale}", file=sys.stderr)
    summary = train(config, labels, train_set, val_set, args.out, resume=args.resume, progress=printer)
    best = summary.get("best", float("nan"))
    what = f"best val mIoU {100 * best:.2f}%" if val_set else f"lowest training loss {-best:.4f}"
    print(f"{what}; checkpoint: {args.out}", file=sys.stderr)
    if "verdict" in summary:
        print(summary["verdict"], file=sys.stderr)
    return 0


def _fmt(values) -> str:
    vals = [f"{v:.3f}" for v in values]
    return vals[0] if len(set(vals)) == 1 else "(" + ", ".join(vals) + ")"


def _json_printer(rec: dict) -> None:
    print(json.dumps(rec), flush=True)


def _text_printer():
    last = [0.0]

    def show(rec: dict) -> None:
        ev = rec.get("event")
        if ev == "step":
            now = time.perf_counter()
            if now - last[0] < 0.5:
                return
            last[0] = now
            n, total = rec["step"], max(1, rec["steps"])
            bar = "#" * int(20 * min(1.0, n / total))
            sys.stderr.write(f"\rstep [{bar:<20}] {n}/{total} loss {rec['loss']:.4f} lr {rec['lr']:.4g}")
            sys.stderr.flush()
        elif ev == "epoch":
            val = f" val mIoU {100 * rec['val_miou']:.2f}%" if "val_miou" in rec else ""
            best = " (best, saved)" if rec.get("saved_best") else ""
            sys.stderr.write(f"\rround {rec['epoch'] + 1}/{rec['epochs']} step {rec['step']}/{rec['steps']} "
                             f"loss {rec['loss']:.4f}{val} {rec['elapsed']:.0f}s{best}\n")
        elif ev == "plan":
            exp = (f", about {rec['expected_minutes']:.1f} min at {rec['seconds_per_step']:.3f} s/step"
                   if "expected_minutes" in rec else "")
            sys.stderr.write(f"\rplan: {rec['steps']} steps of batch {rec['batch_size']} = {rec['epochs']} epochs of "
                             f"{rec['train_images']} images (budget from {rec['budget_from']}{exp}), "
                             f"validating every {rec['eval_every']} steps\n")
        elif ev == "decision":
            sys.stderr.write(f"{rec['topic']}: {rec['message']}\n")
        elif ev in ("resume", "fine-tune", "done", "baseline", "note"):
            sys.stderr.write(json.dumps(rec) + "\n")

    return show
