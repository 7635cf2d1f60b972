"""The GPU path measured side by side in one run; writes one JSON and one markdown table.

Measures, on ``--device`` (``cuda`` on a lent GPU machine, ``cpu`` in CI's quick mode):

1. ``Predictor.predict()`` against the raw forward of the same module at fp32 / fp16 / bf16, for the
   shipped default model and a large architecture (DeepLabV3 ResNet-50), at 480×360 and 2048×1024;
2. folder throughput (``run_batch``: decode and encode overlapped with the model) against raw
   back-to-back forward throughput on the same images (goal ≥ 0.9×);
3. tiled inference of a large image (8192² on a GPU) against native per-pixel throughput;
4. the torch dense CRF on the device against pydensecrf on the CPU: time and label agreement;
5. training steps/s with AMP against fp32, and the fraction of time spent waiting on the data loader.

Reduced-precision rows are skipped (with the reason) where the device has no such autocast.

    python benchmarks/gpu_check.py --device cuda --out DIR
    python benchmarks/gpu_check.py --device cpu --quick --out DIR     # CI: same table, tiny sizes
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segstudio.core.images import list_images, read_image  # noqa: E402
from segstudio.core.labels import preset  # noqa: E402
from segstudio.models.batch import run_batch  # noqa: E402
from segstudio.models.checkpoint import Checkpoint  # noqa: E402
from segstudio.models.predictor import Predictor, PredictorError  # noqa: E402
from segstudio.models.registry import build_model  # noqa: E402
from segstudio.paths import default_model_path  # noqa: E402

CAMVID = REPO.parent / "shared" / "data" / "camvid"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeat: int, warmup: int = 2) -> float:
    """Median seconds of ``fn()`` (device-synchronised)."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def street_images(n: int, size: tuple[int, int]) -> list[np.ndarray]:
    """CamVid val images (resized to ``size`` = (h, w)) when present, else smooth synthetic scenes."""
    import cv2

    h, w = size
    files = list_images(CAMVID / "val")[:n] if (CAMVID / "val").is_dir() else []
    out = []
    for i in range(n):
        if files:
            rgb = read_image(files[i % len(files)]).rgb
        else:
            rng = np.random.default_rng(i)
            rgb = cv2.resize(rng.integers(0, 255, (12, 16, 3)).astype(np.uint8), (480, 360),
                             interpolation=cv2.INTER_CUBIC)
        out.append(rgb if rgb.shape[:2] == (h, w) else cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR))
    return out


def model_sources(quick: bool) -> list[tuple[str, object]]:
    """(name, Predictor source): the shipped model and a large architecture with random weights."""
    labels = preset("camvid")
    big = ("deeplabv3", {"backbone": "resnet50"}) if not quick else ("unet", {"width": 8, "depth": 3})
    torch.manual_seed(0)
    module = build_model(big[0], labels.num_classes, **big[1])
    ckpt = Checkpoint(arch=big[0], arch_options=big[1], labels=labels, state_dict=module.state_dict())
    default = default_model_path()
    return [("default (unet-light)", str(default)), (f"{big[0]} {big[1]}", ckpt)]


def raw_forward_fn(pred: Predictor, rgb: np.ndarray):
    runner = pred._runner
    x = runner._input(rgb[None]).clone(memory_format=torch.channels_last if runner.channels_last
                                       else torch.contiguous_format)
    dtype = runner.autocast_dtype

    def fwd():
        with torch.inference_mode():
            if dtype is not None:
                with torch.autocast(runner.device.type, dtype=dtype):
                    return runner.module(x)
            return runner.module(x)
    return fwd


def bench_predict(device: torch.device, quick: bool, repeat: int) -> list[dict]:
    sizes = [(96, 128)] if quick else [(360, 480), (1024, 2048)]
    rows = []
    for name, source in model_sources(quick):
        for precision in ("fp32", "fp16", "bf16"):
            try:
                pred = Predictor(source, device=str(device), engine="torch", precision=precision, tile=0)
            except PredictorError as exc:
                rows.append({"model": name, "precision": precision, "skipped": str(exc)})
                continue
            for h, w in sizes:
                rgb = street_images(1, (h, w))[0]
                raw = timed(raw_forward_fn(pred, rgb), device, repeat)
                full = timed(lambda: pred.predict(rgb, want_probs=False), device, repeat)
                rows.append({"model": name, "precision": precision, "size": f"{w}×{h}", "raw_ms": raw * 1e3,
                             "predict_ms": full * 1e3, "ratio": full / raw})
            del pred
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return rows


def bench_folder(device: torch.device, quick: bool, tmp: Path) -> dict:
    from PIL import Image

    n = 8 if quick else 64
    size = (96, 128) if quick else (360, 480)
    folder = tmp / "folder"
    folder.mkdir()
    images = street_images(n, size)
    for i, rgb in enumerate(images):
        Image.fromarray(rgb).save(folder / f"{i:04d}.png")
    pred = Predictor(str(default_model_path()), device=str(device), engine="torch")
    fwd = raw_forward_fn(pred, images[0])
    per_image = timed(fwd, device, repeat=max(3, n // 4))
    res = run_batch(pred, list_images(folder), tmp / "out")
    raw_rate = 1.0 / per_image
    return {"images": n, "size": f"{size[1]}×{size[0]}", "raw_img_s": raw_rate,
            "batch_img_s": res.images_per_second, "ratio": res.images_per_second / raw_rate,
            "failed": len(res.failed)}


def bench_tiled(device: torch.device, quick: bool) -> dict:
    side = 480 if quick else 8192
    pred = Predictor(str(default_model_path()), device=str(device), engine="torch",
                     tile=200 if quick else None)
    native = street_images(1, (360, 480))[0]
    t_native = timed(lambda: pred.predict(native, want_probs=False), device, repeat=1 if quick else 3)
    import cv2

    big = cv2.resize(native, (side, side), interpolation=cv2.INTER_LINEAR)
    t_big = timed(lambda: pred.predict(big, want_probs=False), device, repeat=1, warmup=1)
    mp_native = 360 * 480 / t_native / 1e6
    mp_big = side * side / t_big / 1e6
    return {"size": f"{side}²", "native_mp_s": mp_native, "tiled_mp_s": mp_big, "ratio": mp_big / mp_native}


def bench_crf(device: torch.device, quick: bool) -> dict:
    from segstudio.core.crf_params import CRFParams
    from segstudio.models.crf_torch import refine_labels_torch

    size = (96, 128) if quick else (360, 480)
    images = street_images(2 if quick else 5, size)
    pred = Predictor(str(default_model_path()), device=str(device), engine="torch")
    params = CRFParams.shipped()
    out: dict = {"images": len(images), "size": f"{size[1]}×{size[0]}"}
    try:
        from segstudio.core.crf import refine_labels
        refine_labels(images[0], pred.predict(images[0]).probs, params)
    except Exception as exc:  # noqa: BLE001 - pydensecrf missing on the GPU machine's image
        out["pydensecrf"] = f"unavailable ({type(exc).__name__}: {exc})"
        refine_labels = None
    t_cpu, t_dev, agree = [], [], []
    for rgb in images:
        probs = pred.predict(rgb).probs
        t = time.perf_counter()
        lab_dev = refine_labels_torch(rgb, probs, params, device=device)
        sync(device)
        t_dev.append(time.perf_counter() - t)
        if refine_labels is not None:
            t = time.perf_counter()
            lab_cpu = refine_labels(rgb, probs, params)
            t_cpu.append(time.perf_counter() - t)
            agree.append(float((lab_cpu == lab_dev).mean()))
    out["torch_ms"] = statistics.median(t_dev[1:] or t_dev) * 1e3
    if t_cpu:
        out["pydensecrf_cpu_ms"] = statistics.median(t_cpu) * 1e3
        out["speedup"] = out["pydensecrf_cpu_ms"] / out["torch_ms"]
        out["label_agreement"] = min(agree)
    return out


class _Pairs(torch.utils.data.Dataset):
    """Real decode + crop + normalise per item, as training does (images from disk each time)."""

    def __init__(self, files: list[Path], crop: tuple[int, int]) -> None:
        self.files, self.crop = files, crop

    def __len__(self) -> int:
        return len(self.files) * 8

    def __getitem__(self, i: int):
        rgb = read_image(self.files[i % len(self.files)]).rgb
        h, w = self.crop
        rng = np.random.default_rng(i)
        y = int(rng.integers(0, rgb.shape[0] - h + 1))
        x = int(rng.integers(0, rgb.shape[1] - w + 1))
        patch = np.ascontiguousarray(rgb[y:y + h, x:x + w])
        t = torch.from_numpy(patch).permute(2, 0, 1).float().div_(255.0).sub_(0.45).div_(0.25)
        target = torch.from_numpy((patch[..., 1] > 100).astype(np.int64))
        return t, target


def bench_train(device: torch.device, quick: bool, tmp: Path) -> list[dict]:
    from PIL import Image

    crop = (64, 64) if quick else (288, 384)
    size = (96, 128) if quick else (360, 480)
    folder = tmp / "train"
    folder.mkdir()
    for i, rgb in enumerate(street_images(4 if quick else 16, size)):
        Image.fromarray(rgb).save(folder / f"{i:04d}.png")
    files = list_images(folder)
    steps = 4 if quick else 40
    batch = 2 if quick else 16
    from segstudio.models.train.accel import Precision, loader_options

    rows = []
    # what `segstudio train` runs: its Precision (fp32, or AMP on CUDA) and its DataLoader options
    for amp in ([False, True] if device.type == "cuda" else [False]):
        precision = Precision(device, amp)
        name = "fp32" if precision.dtype is None else f"amp {precision.name}"
        torch.manual_seed(0)
        model = build_model("unet-light", 2).to(device)
        if device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loader = torch.utils.data.DataLoader(_Pairs(files, crop), batch_size=batch, shuffle=True, drop_last=True,
                                             **loader_options(device, 0 if quick else None))
        waited = total = 0.0
        done = 0
        it = iter(loader)
        t_start = time.perf_counter()
        while done < steps:
            t0 = time.perf_counter()
            try:
                x, y = next(it)
            except StopIteration:
                it = iter(loader)
                x, y = next(it)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            t1 = time.perf_counter()
            with precision.autocast():
                loss = torch.nn.functional.cross_entropy(model(x).float(), y)
            precision.backward_step(loss, opt)
            sync(device)
            if done >= 2:                    # first steps include cuDNN autotuning and worker start-up
                waited += t1 - t0
                total += time.perf_counter() - t0
            done += 1
        measured = steps - 2
        rows.append({"mode": name, "steps_s": measured / total if total else float("nan"),
                     "images_s": measured * batch / total if total else float("nan"),
                     "loader_wait_fraction": waited / total if total else float("nan"),
                     "batch": batch, "crop": f"{crop[1]}×{crop[0]}",
                     "wall_s": time.perf_counter() - t_start})
    return rows


def markdown(report: dict) -> str:
    d = report["device"]
    lines = [f"GPU check on **{d}** (torch {report['torch']}, {report['mode']} mode)", "",
             "| model | precision | size | raw forward ms | predict() ms | predict / raw |",
             "| --- | --- | --- | ---: | ---: | ---: |"]
    for r in report["predict"]:
        if "skipped" in r:
            lines.append(f"| {r['model']} | {r['precision']} | – | – | – | skipped: {r['skipped']} |")
        else:
            lines.append(f"| {r['model']} | {r['precision']} | {r['size']} | {r['raw_ms']:.2f} | "
                         f"{r['predict_ms']:.2f} | {r['ratio']:.2f} |")
    f = report["folder"]
    lines += ["", "| job | measured | reference | ratio |", "| --- | ---: | ---: | ---: |",
              f"| folder ({f['images']} × {f['size']}) img/s | {f['batch_img_s']:.1f} | raw forward {f['raw_img_s']:.1f} "
              f"| {f['ratio']:.2f} |"]
    t = report["tiled"]
    lines.append(f"| tiled {t['size']} MP/s | {t['tiled_mp_s']:.2f} | native 480×360 {t['native_mp_s']:.2f} | "
                 f"{t['ratio']:.2f} |")
    c = report["crf"]
    if "pydensecrf_cpu_ms" in c:
        lines.append(f"| dense CRF ({c['size']}) ms, torch on {d} | {c['torch_ms']:.1f} | pydensecrf CPU "
                     f"{c['pydensecrf_cpu_ms']:.1f} | {c['speedup']:.2f}× faster, labels agree "
                     f"{100 * c['label_agreement']:.2f} % |")
    else:
        lines.append(f"| dense CRF ({c['size']}) ms, torch on {d} | {c['torch_ms']:.1f} | {c.get('pydensecrf')} | – |")
    for r in report["train"]:
        lines.append(f"| training {r['mode']} (batch {r['batch']}, crop {r['crop']}) steps/s | {r['steps_s']:.2f} | "
                     f"{r['images_s']:.1f} img/s | loader wait {100 * r['loader_wait_fraction']:.1f} % |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (CI on the CPU)")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="folder for gpu_check.json and gpu_check.md")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    repeat = args.repeat or (2 if args.quick else 10)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    report: dict = {"device": name, "torch": torch.__version__, "mode": "quick" if args.quick else "full"}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for key, fn in (("predict", lambda: bench_predict(device, args.quick, repeat)),
                        ("folder", lambda: bench_folder(device, args.quick, tmp)),
                        ("tiled", lambda: bench_tiled(device, args.quick)),
                        ("crf", lambda: bench_crf(device, args.quick)),
                        ("train", lambda: bench_train(device, args.quick, tmp))):
            t = time.perf_counter()
            report[key] = fn()
            print(f"[gpu_check] {key}: {time.perf_counter() - t:.1f} s", flush=True)
    table = markdown(report)
    print(table)
    out = args.out or Path(tempfile.gettempdir())
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "gpu_check.md").write_text(table, encoding="utf-8")
    print(f"wrote {out / 'gpu_check.json'} and {out / 'gpu_check.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
