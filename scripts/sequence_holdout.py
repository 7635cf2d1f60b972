"""Leave-one-sequence-out check for a training recipe: train without one CamVid sequence, score on it.

CamVid val (101 images) comes from sequence 0016E5, which train also holds, so a val gain need
not carry over to new streets. This script holds out one whole sequence of CamVid train (by file
name prefix; default ``0001TP``, a dusk drive), trains a recipe on the other sequences (choosing
the checkpoint by CamVid val, as the default model is chosen), then scores it on the held-out
sequence it never saw, optionally with test-time augmentation. The split is a folder of symbolic
links under ``--work``; nothing is copied and nothing is written into the data folder.

    python scripts/sequence_holdout.py --data ../shared/data/camvid --work /tmp/holdout --name j50 \\
        --tta none,flip -- --arch unet-light --epochs 60 --max-minutes 55 --jitter 0.5 --threads 1

prints one JSON line per TTA mode: ``{"name", "tta", "val_miou", "held_out_miou", "held_out_images"}``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def build_split(data: Path, work: Path, hold: str) -> tuple[int, int]:
    """Symlinks: work/train + trainannot without ``hold``, work/held + heldannot with it."""
    counts = [0, 0]
    for sub in ("train", "trainannot", "held", "heldannot"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    for img in sorted((data / "train").glob("*.png")):
        mask = data / "trainannot" / img.name
        if not mask.is_file():
            continue
        held = img.name.startswith(hold)
        counts[held] += 1
        for src, sub in ((img, "held" if held else "train"), (mask, "heldannot" if held else "trainannot")):
            link = work / sub / img.name
            if not link.is_symlink():
                link.symlink_to(src.resolve())
    return counts[0], counts[1]


class StepFailed(Exception):
    pass


def segstudio(*args: str) -> None:
    """Run one segstudio verb; it prints its own one-line error, this names the step that failed."""
    rc = subprocess.run([sys.executable, "-m", "segstudio", *args]).returncode
    if rc != 0:
        raise StepFailed(f"`segstudio {args[0]}` failed (exit {rc}); its message is above")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data/camvid"))
    p.add_argument("--work", type=Path, required=True, help="folder for the split, checkpoint and predictions")
    p.add_argument("--hold", default="0001TP", help="file-name prefix of the sequence to hold out")
    p.add_argument("--name", required=True, help="name of this recipe's run")
    p.add_argument("--tta", default="none", help="comma-separated TTA modes to score (none, flip, ms)")
    p.add_argument("--skip-train", action="store_true", help="score an existing WORK/NAME.pt")
    args = p.parse_args(own)
    n_train, n_held = build_split(args.data, args.work, args.hold)
    if n_held == 0 or n_train == 0:
        print(f"sequence_holdout: no images {'start with ' + args.hold if n_held == 0 else 'are left to train on'} "
              f"in {args.data / 'train'}", file=sys.stderr)
        return 1
    from segstudio.core.errors import SegStudioError
    try:
        return _run(args, extra, n_held)
    except (StepFailed, SegStudioError) as exc:
        print(f"sequence_holdout: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, extra: list[str], n_held: int) -> int:
    from segstudio.models.checkpoint import load_checkpoint     # torch only now (weights_only inside)
    ckpt = args.work / f"{args.name}.pt"
    if not args.skip_train:
        segstudio("train", "--images", str(args.work / "train"), "--masks", str(args.work / "trainannot"),
                  "--val-images", str(args.data / "val"), "--val-masks", str(args.data / "valannot"),
                  "--labels", "camvid", "--out", str(ckpt), *extra)
    if not ckpt.is_file():
        raise StepFailed(f"{ckpt}: no checkpoint to score")
    meta = load_checkpoint(ckpt).meta
    for tta in args.tta.split(","):
        out = args.work / f"{args.name}_{tta}"
        segstudio("batch", str(args.work / "held"), "--model", str(ckpt), "--out", str(out), "--tta", tta, "--quiet")
        report = args.work / f"{args.name}_{tta}.json"
        segstudio("eval", "--pred", str(out), "--gt", str(args.work / "heldannot"), "--labels", "camvid",
                  "--json", str(report))
        scores = json.loads(report.read_text())
        print(json.dumps({"name": args.name, "tta": tta, "val_miou": meta.get("val_miou"),
                          "held_out_miou": scores.get("miou"), "held_out_images": n_held}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
