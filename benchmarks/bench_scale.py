"""Scale-out overhead: the local batch runner against the Ray runner, side by side in one run.

1. **Real model** — the shipped default model (or ``--model``) over the first ``--images`` CamVid
   val images (synthetic 480×360 images when CamVid is absent): local runner images/s, Ray runner
   images/s with 1 and 2 workers on a private local Ray instance (``ray.init(num_cpus=CPUs)``), and
   the ratio Ray/local. Ray figures are given twice: the whole call (actor start-up included) and
   the steady state (from the first finished image to the last).
2. **Simulated** — the same pipelines with a model step that *sleeps* ``--delay`` seconds per image
   (``PredictorSpec.simulated_delay``; a stand-in for a GPU forward pass that dominates the run; it
   uses no CPU, so more workers than cores can overlap): throughput against the number of workers,
   next to the ideal ``workers / delay``. This is a simulation of scaling, not a measurement of a
   cluster.

Usage: ``python benchmarks/bench_scale.py [--images 40] [--threads 1] [--delay 0.5] [--sim-images 24]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segstudio.models.runners import get_runner  # noqa: E402
from segstudio.models.runners.spec import PredictorSpec  # noqa: E402


def images_for(n: int, root: Path) -> tuple[list[Path], str]:
    camvid = Path(os.environ.get("SEGSTUDIO_CAMVID", REPO.parent / "shared" / "data" / "camvid")) / "val"
    if camvid.is_dir():
        files = sorted(p for p in camvid.iterdir() if p.suffix.lower() in (".png", ".jpg"))[:n]
        if files:
            return files, f"{len(files)} CamVid val images (480×360)"
    from PIL import Image

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        path = root / f"syn{i:03d}.png"
        Image.fromarray(rng.integers(0, 256, (360, 480, 3), dtype=np.uint8)).save(path)
        out.append(path)
    return out, f"{n} synthetic 480×360 images (CamVid absent)"


def tiny_model(path: Path) -> Path:
    import torch

    from segstudio.core.labels import preset
    from segstudio.models.checkpoint import Checkpoint, save_checkpoint
    from segstudio.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("unet", 11, width=8, depth=2)
    save_checkpoint(Checkpoint("unet", preset("camvid"), model.state_dict(), {"width": 8, "depth": 2}), path)
    return path


def timed(runner: str, spec: PredictorSpec, images: list[Path], out: Path, **options) -> tuple[float, float, int]:
    """(whole-call seconds, steady-state images/s, images written)."""
    stamps: list[float] = []

    def progress(info) -> None:
        if info.current is not None:
            stamps.append(time.perf_counter())

    t0 = time.perf_counter()
    res = get_runner(runner)(spec, images, out, progress=progress, **options)
    total = time.perf_counter() - t0
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 2 and stamps[-1] > stamps[0] else 0.0
    if res.failed:
        raise SystemExit(f"{runner}: {len(res.failed)} images failed: {res.failed[0]}")
    return total, steady, len(res.written)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=REPO / "resources" / "models" / "camvid_default.pt")
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads per predictor, local and Ray alike (default 1: on a shared 2-core "
                         "machine a 2-thread forward pass collapses when the cores are oversubscribed)")
    ap.add_argument("--delay", type=float, default=0.5, help="simulated model seconds per image")
    ap.add_argument("--sim-images", type=int, default=24)
    ap.add_argument("--sim-workers", default="1,2,4")
    args = ap.parse_args()
    import ray

    cpus = os.cpu_count() or 1
    tmp = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    images, what = images_for(args.images, tmp / "in")
    model = args.model if args.model.exists() else tiny_model(tmp / "tiny.pt")
    # the same torch thread count in this process and in every Ray worker: a CPU forward pass can
    # differ in the last bits with it (runners.spec), and the comparison stays like for like
    spec = PredictorSpec(str(model), {"device": "cpu", "engine": "torch"}, threads=args.threads)
    print(f"bench_scale: {what}; model {model.name}; {cpus} CPU cores; {args.threads} torch thread(s) per "
          f"predictor; ray {ray.__version__}; load average {os.getloadavg()[0]:.1f}")

    t = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    print(f"ray.init (private local instance): {time.perf_counter() - t:.1f} s (paid once per session)")
    # warm the OS file cache and torch in this process before the local run
    get_runner("local")(spec, images[:2], tmp / "warm")

    print("\n1. real model (images/s; Ray: whole call incl. actor start-up | steady state)")
    local_total, local_steady, n = timed("local", spec, images, tmp / "local")
    local_rate = n / local_total
    print(f"   local runner            {local_rate:6.2f} img/s   ({local_total:.1f} s for {n})")
    rows = []
    for w in (1, 2):
        total, steady, n = timed("ray", spec, images, tmp / f"ray{w}", workers=w)
        rows.append((w, n / total, steady))
        print(f"   ray runner, {w} worker{'s' if w > 1 else ' '}   {n / total:6.2f} img/s   ({total:.1f} s) | "
              f"steady {steady:6.2f} img/s   ratio to local {n / total / local_rate:4.2f} | {steady / local_rate:4.2f}")
    same = all((tmp / "local" / p.name).read_bytes() == p.read_bytes() for p in (tmp / "ray2").glob("*.png"))
    print(f"   Ray outputs byte-identical to local: {same}")

    print(f"\n2. SIMULATED: model step = sleep {args.delay:.2f} s per image (tiny real model + sleep), "
          f"{args.sim_images} images")
    sim_images = images[: args.sim_images] if len(images) >= args.sim_images else images
    sim_spec = PredictorSpec(str(tiny_model(tmp / "tiny_sim.pt")), {"device": "cpu", "engine": "torch"},
                             simulated_delay=args.delay, threads=1)
    total, steady, n = timed("local", sim_spec, sim_images, tmp / "sim_local")
    print(f"   local runner            {n / total:6.2f} img/s   (ideal {1 / args.delay:5.2f})")
    base = None
    for w in (int(v) for v in args.sim_workers.split(",")):
        # a sleeping model step needs no CPU: each actor reserves 0.1, the decode/write tasks get the rest
        total, steady, n = timed("ray", sim_spec, sim_images, tmp / f"sim_ray{w}", workers=w, cpus_per_worker=0.1)
        base = base or steady
        print(f"   ray, {w} worker{'s' if w > 1 else ' '}          {n / total:6.2f} img/s whole call | steady "
              f"{steady:6.2f} img/s (ideal {w / args.delay:5.2f}, {steady / (w / args.delay):4.0%} of ideal, "
              f"×{steady / base:.2f} vs 1 worker)")
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
