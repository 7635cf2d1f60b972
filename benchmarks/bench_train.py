"""Training throughput: data-loading time vs step time, and images/s (prints figures; asserts nothing).

Runs the trainer's own pieces (``SegDataset`` with augmentation, ``loader_options`` for the
device — workers, pinned memory, persistent workers on CUDA —, ``Precision`` — bf16/fp16 AMP on
CUDA — and optional ``torch.compile``) for ``--steps`` steps after ``--warmup`` untimed ones,
and splits each step into *waiting for the batch* (loader) and *compute* (host-to-device copy,
forward, backward, optimiser; CUDA synchronised). When loading is more than a small share of the
step, the loader starves the model: raise ``--workers``.

    python benchmarks/bench_train.py [--images DIR --masks DIR --labels camvid] [--arch unet-light]
        [--batch 8] [--crop 288,384] [--steps 30] [--device auto] [--workers N] [--no-amp] [--compile]
        [--threads N]

Default data: CamVid train when ``../shared/data/camvid`` exists, else 24 synthetic cell images.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    import torch

    from segstudio.core import labels as L
    from segstudio.models.devices import select_device
    from segstudio.models.registry import build_model
    from segstudio.models.train.accel import Precision, loader_options, maybe_compile
    from segstudio.models.train.data import AugmentConfig, SegDataset, pair_files
    from segstudio.models.train.losses import SegLoss

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path)
    ap.add_argument("--masks", type=Path)
    ap.add_argument("--labels", default=None)
    ap.add_argument("--arch", default="unet-light")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", default="288,384")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--no-amp", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    camvid = REPO.parent / "shared" / "data" / "camvid"
    if args.images is None and (camvid / "train").is_dir():
        args.images, args.masks, args.labels = camvid / "train", camvid / "trainannot", args.labels or "camvid"
    if args.images is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
        sys.path.insert(0, str(REPO / "benchmarks"))
        import make_cells
        make_cells.main(["--out", str(tmp), "--train", "24", "--test", "0"])
        args.images, args.masks, args.labels = tmp / "images", tmp / "masks", args.labels or "binary"
    labels = L.resolve(args.labels or "camvid")
    h, w = (int(v) for v in args.crop.split(","))
    t0 = time.perf_counter()
    data = SegDataset(pair_files(args.images, args.masks), labels, (0.5,) * 3, (0.25,) * 3,
                      AugmentConfig(crop=(h, w)))
    print(f"data: {len(data)} pairs from {args.images} decoded in {time.perf_counter() - t0:.1f} s")
    device = select_device(args.device)
    opts = loader_options(device, args.workers)
    prec = Precision(device, not args.no_amp)
    total = args.steps + args.warmup
    sampler = torch.utils.data.RandomSampler(data, num_samples=total * args.batch)
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch, sampler=sampler, drop_last=True, **opts)
    model = build_model(args.arch, labels.num_classes).to(device).to(memory_format=torch.channels_last)
    runner = maybe_compile(model, device, args.compile, lambda rec: print(rec["message"]))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crit = SegLoss("ce", None, labels.ignore_index if labels.ignore_index is not None else 255).to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    waits, computes = [], []
    it = iter(loader)
    for step in range(total):
        t_a = time.perf_counter()
        x, y = next(it)
        t_b = time.perf_counter()
        x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        y = y.to(device, non_blocking=True)
        with prec.autocast():
            loss = crit(runner(x), y)
        prec.backward_step(loss, opt)
        sync()
        t_c = time.perf_counter()
        if step >= args.warmup:
            waits.append(t_b - t_a)
            computes.append(t_c - t_b)
    wait, comp = statistics.mean(waits), statistics.mean(computes)
    step_s = wait + comp
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} thread(s)"
    print(f"device: {device} ({name}); precision {prec.name}; workers {opts['num_workers']}, pinned "
          f"{opts['pin_memory']}; compile {args.compile}; {args.arch}, batch {args.batch}, crop {h}×{w}")
    print(f"per step over {args.steps} steps: loading {1000 * wait:.1f} ms ({100 * wait / step_s:.0f} %), "
          f"compute {1000 * comp:.1f} ms; {args.batch / step_s:.1f} images/s "
          f"({args.batch / comp:.1f} images/s if loading were free)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
