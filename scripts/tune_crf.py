"""Grid-search dense-CRF parameters for a checkpoint on a labelled folder; print mIoU per grid point.

    python scripts/tune_crf.py --model CKPT --images DIR --gt DIR [--limit N]
        [--sxy 40,80,120] [--srgb 3,5,13] [--compat 4,10] [--iterations 5,10]
        [--engine pydensecrf|torch] [--workers N] [--json BEST.json]

The model's softmax probabilities are computed once per image (normalised as the
checkpoint says: ``(rgb/255 - mean)/std``) and kept in memory as float16; then every grid
point over (bilateral_sxy, bilateral_srgb, bilateral_compat, iterations) refines all images
(the other parameters keep their defaults) and is scored with the checkpoint's label set
(void ignored). Prints mIoU and pixel accuracy without CRF and for each grid point, then
the best parameters as a JSON object (the ``CRFParams`` dict ``segstudio crf --params`` reads).
Images and ground-truth masks are paired by file stem.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segstudio.core import atomic  # noqa: E402
from segstudio.core.crf import CRFParams, dense_crf  # noqa: E402
from segstudio.core.errors import SegStudioError  # noqa: E402
from segstudio.core.images import list_images, read_image  # noqa: E402
from segstudio.core.masks import read_mask  # noqa: E402
from segstudio.core.metrics import ConfusionMatrix  # noqa: E402

# filled before workers fork, read by them
_CACHE: dict = {}


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def pair_files(images: Path, gt: Path, limit: int | None) -> list[tuple[Path, Path]]:
    masks = {p.stem: p for p in sorted(gt.glob("*.png"))} if gt.is_dir() else None
    if masks is None:
        raise SegStudioError(f"{gt}: ground-truth folder not found")
    pairs = [(p, masks[p.stem]) for p in list_images(images) if p.stem in masks]
    if not pairs:
        raise SegStudioError(f"{images}: no image has a ground-truth mask of the same name in {gt}")
    return pairs[:limit] if limit else pairs


def compute_probs(ckpt_path: Path, pairs: list[tuple[Path, Path]], device: str) -> tuple:
    """(label set, [(rgb, probs float16 C×H×W, gt)]) with the checkpoint's model."""
    import torch

    from segstudio.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(ckpt_path)
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    model = ckpt.build().to(dev)
    mean = torch.tensor(ckpt.mean, dtype=torch.float32, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(ckpt.std, dtype=torch.float32, device=dev).view(1, 3, 1, 1)
    items = []
    with torch.no_grad():
        for image_path, gt_path in pairs:
            rgb = read_image(image_path).rgb
            gt = read_mask(gt_path, ckpt.labels)
            if gt.shape != rgb.shape[:2]:
                raise SegStudioError(f"{gt_path}: mask is {gt.shape[0]}×{gt.shape[1]} but {image_path} is "
                                     f"{rgb.shape[0]}×{rgb.shape[1]}")
            x = torch.from_numpy(np.array(rgb)).to(dev).permute(2, 0, 1)[None].float().div_(255.0)
            x = ((x - mean) / std).contiguous()
            probs = torch.softmax(model(x).float(), 1)[0]
            items.append((rgb, probs.to(torch.float16).cpu().numpy(), gt))
    return ckpt.labels, items


def _refine_one(args: tuple) -> np.ndarray:
    """Confusion counts of one image under one parameter set (runs in workers too)."""
    index, params_dict = args
    labels, items, engine = _CACHE["labels"], _CACHE["items"], _CACHE["engine"]
    rgb, probs16, gt = items[index]
    params = CRFParams.from_dict(params_dict)
    probs = probs16.astype(np.float32)
    if engine == "torch":
        from segstudio.models.crf_torch import dense_crf_torch

        out = dense_crf_torch(rgb, probs, params)
    else:
        out = dense_crf(rgb, probs, params)
    cm = ConfusionMatrix(labels.num_classes, labels.ignore_index)
    cm.update(out.argmax(0).astype(labels.dtype), gt)
    return cm.full.copy()


def score_grid_point(params: CRFParams, pool) -> tuple[float, float]:
    labels = _CACHE["labels"]
    cm = ConfusionMatrix(labels.num_classes, labels.ignore_index)
    jobs = [(i, params.to_dict()) for i in range(len(_CACHE["items"]))]
    results = pool.map(_refine_one, jobs) if pool is not None else map(_refine_one, jobs)
    for full in results:
        cm.update_counts(full)
    s = cm.scores()
    return s.miou, s.pixel_accuracy


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, type=Path, help="SegStudio checkpoint (.pt)")
    ap.add_argument("--images", required=True, type=Path, help="folder of images")
    ap.add_argument("--gt", required=True, type=Path, help="folder of ground-truth masks (same stems)")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N pairs")
    ap.add_argument("--sxy", type=_floats, default=[40.0, 80.0, 120.0], help="bilateral_sxy values")
    ap.add_argument("--srgb", type=_floats, default=[3.0, 5.0, 13.0], help="bilateral_srgb values")
    ap.add_argument("--compat", type=_floats, default=[4.0, 10.0], help="bilateral_compat values")
    ap.add_argument("--iterations", type=_ints, default=[5, 10], help="iteration counts")
    ap.add_argument("--engine", choices=("pydensecrf", "torch"), default="pydensecrf")
    ap.add_argument("--device", default="auto", help="device for the model (and the torch engine)")
    ap.add_argument("--workers", type=int, default=1, help="processes refining images in parallel")
    ap.add_argument("--json", type=Path, default=None, help="also write the best parameters here")
    args = ap.parse_args(argv)
    try:
        pairs = pair_files(args.images, args.gt, args.limit)
        t0 = time.perf_counter()
        labels, items = compute_probs(args.model, pairs, args.device)
        print(f"{len(items)} image(s), {labels.num_classes} classes ({labels.name}); "
              f"probabilities in {time.perf_counter() - t0:.1f} s", flush=True)
        _CACHE.update(labels=labels, items=items, engine=args.engine)
        base = ConfusionMatrix(labels.num_classes, labels.ignore_index)
        for _, probs, gt in items:
            base.update(probs.argmax(0).astype(labels.dtype), gt)
        s = base.scores()
        print(f"{'no CRF':>44}  mIoU {s.miou * 100:6.2f}  pixel acc {s.pixel_accuracy * 100:6.2f}", flush=True)
        best: tuple[float, CRFParams | None] = (s.miou, None)
        pool = None
        if args.workers > 1:
            import multiprocessing as mp

            pool = mp.get_context("fork").Pool(args.workers)
        try:
            for sxy, srgb, compat, iters in itertools.product(args.sxy, args.srgb, args.compat, args.iterations):
                params = CRFParams(bilateral_sxy=sxy, bilateral_srgb=srgb, bilateral_compat=compat,
                                   iterations=iters)
                t0 = time.perf_counter()
                miou, acc = score_grid_point(params, pool)
                print(f"sxy {sxy:6.1f} srgb {srgb:5.1f} compat {compat:5.1f} it {iters:3d}  "
                      f"mIoU {miou * 100:6.2f}  pixel acc {acc * 100:6.2f}  ({time.perf_counter() - t0:.1f} s)",
                      flush=True)
                if best[1] is None or miou > best[0]:
                    best = (miou, params)
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    except SegStudioError as exc:
        print(f"tune_crf: error: {exc}", file=sys.stderr)
        return 1
    miou, params = best
    if params is None:
        print("no grid point was evaluated")
        return 1
    verdict = "improves on" if miou > s.miou else "does NOT improve on"
    print(f"best: mIoU {miou * 100:.2f} ({verdict} {s.miou * 100:.2f} without CRF)")
    text = json.dumps(params.to_dict(), indent=2)
    print(text)
    if args.json:
        atomic.write_text(args.json, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
