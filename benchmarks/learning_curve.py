"""Learning curve: CamVid val mIoU after training on 10 / 25 / 50 / 100 CamVid train images.

For each size N the same N images (first by a hash of the file name) are trained on twice with
``segstudio train``'s defaults and the same budget: fine-tuning the shipped model (``--from``)
and from scratch. Both are scored on all of CamVid val (101 images) with the Predictor; the
shipped model itself is scored once as the reference. Prints a Markdown table (and writes
``--out``/curve.json). The budget is ``--minutes`` (time) or ``--steps`` (steps: fairer when
the machine is shared, since a time budget then buys a varying number of steps).

    python benchmarks/learning_curve.py --out /tmp/curve [--sizes 10,25,50,100] [--minutes 10 | --steps 300]
        [--threads 1] [--camvid ../shared/data/camvid]

Note: the shipped model was trained on all 367 CamVid train images, so its fine-tunes start from a
model that has seen these images already; the from-scratch column is what a new data set gets.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def score(ckpt: Path, camvid: Path, threads: int) -> float:
    import torch

    from segstudio.core import labels as L, masks
    from segstudio.core.images import list_images, read_image
    from segstudio.core.metrics import ConfusionMatrix
    from segstudio.models.predictor import Predictor

    torch.set_num_threads(threads)
    ls = L.preset("camvid")
    pred = Predictor(ckpt, device="cpu", engine="torch")
    cm = ConfusionMatrix(ls.num_classes, ls.ignore_index)
    for img in list_images(camvid / "val"):
        cm.update(pred.predict(read_image(img).rgb).labels, masks.read_mask(camvid / "valannot" / img.name, ls))
    return float(cm.scores().miou)


def subset(camvid: Path, n: int, dest: Path) -> Path:
    names = sorted(os.listdir(camvid / "train"), key=lambda s: hashlib.sha1(s.encode()).hexdigest())[:n]
    for sub, src in (("images", "train"), ("masks", "trainannot")):
        (dest / sub).mkdir(parents=True, exist_ok=True)
        for name in names:
            link = dest / sub / name
            if not link.exists():
                link.symlink_to((camvid / src / name).resolve())
    return dest


def main(argv: list[str] | None = None) -> int:
    from segstudio.paths import default_model_path

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--camvid", type=Path, default=REPO.parent / "shared" / "data" / "camvid")
    ap.add_argument("--sizes", default="10,25,50,100")
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if not (args.camvid / "val").is_dir():
        print(f"{args.camvid}: CamVid not found", file=sys.stderr)
        return 2
    budget = ["--steps", str(args.steps)] if args.steps else ["--max-minutes", str(args.minutes or 10)]
    shipped = default_model_path()
    rows, results = [], {"budget": budget, "threads": args.threads}
    results["shipped"] = score(shipped, args.camvid, args.threads)
    print(f"shipped model: val mIoU {100 * results['shipped']:.2f} %", flush=True)
    for n in (int(v) for v in args.sizes.split(",")):
        data = subset(args.camvid, n, args.out / f"data{n}")
        row = {"images": n}
        for mode, extra in (("finetune", ["--from", str(shipped)]), ("scratch", [])):
            ckpt = args.out / f"{mode}{n}.pt"
            t0 = time.perf_counter()
            cmd = [sys.executable, "-m", "segstudio", "train", "--images", str(data / "images"),
                   "--masks", str(data / "masks"), "--labels", "camvid", *budget, "--threads", str(args.threads),
                   "--out", str(ckpt), *extra]
            subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL,
                           stderr=open(args.out / f"{mode}{n}.txt", "w"))
            row[f"{mode}_minutes"] = (time.perf_counter() - t0) / 60
            row[mode] = score(ckpt, args.camvid, args.threads)
            log = [json.loads(line) for line in ckpt.with_suffix(".log.jsonl").read_text().splitlines()]
            row[f"{mode}_steps"] = log[-1]["step"] if log else 0
            print(f"{n} images, {mode}: val mIoU {100 * row[mode]:.2f} % ({row[f'{mode}_minutes']:.1f} min, "
                  f"{row[f'{mode}_steps']} steps)", flush=True)
        rows.append(row)
        results["rows"] = rows
        (args.out / "curve.json").write_text(json.dumps(results, indent=1))
    print("\n| train images | fine-tuned shipped model | from scratch |\n| ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['images']} | {100 * r['finetune']:.1f} % ({r['finetune_steps']} steps) | "
              f"{100 * r['scratch']:.1f} % ({r['scratch_steps']} steps) |")
    print(f"\nshipped model (all 367 train images): {100 * results['shipped']:.1f} %; budget {' '.join(budget)}, "
          f"{args.threads} thread(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
