"""Inference overheads, measured side by side in one run (prints figures; asserts nothing).

(a) single image, file -> mask PNG (decode + normalise + forward + argmax + encode + atomic write)
    over the raw forward of the same model on a ready tensor (goal ≤ 1.10);
(b) folder throughput of ``run_batch`` over raw back-to-back forward throughput (goal ≥ 0.90);
(c) onnxruntime vs torch (contiguous and channels-last) forward latency, LR-ASPP and unet-light.

Model: ``--model`` or the shipped default model, else a random-weight unet-light (CamVid
labels; speed does not depend on the weights). Images: ``--images`` or CamVid ``val``, else
synthetic 360×480 PNGs.

    python benchmarks/bench_inference.py [--model CKPT] [--images DIR] [--n 40] [--threads N]
"""

from __future__ import annotations

import argparse
import os
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
from segstudio.core.masks import write_mask  # noqa: E402
from segstudio.models.batch import run_batch  # noqa: E402
from segstudio.models.checkpoint import Checkpoint, save_checkpoint  # noqa: E402
from segstudio.models.predictor import Predictor  # noqa: E402
from segstudio.models.registry import build_model  # noqa: E402
from segstudio.paths import default_model_path  # noqa: E402


def median_time(fn, repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def raw_forward(predictor: Predictor, rgb: np.ndarray):
    """The model alone on a prepared channels-last tensor (what the predictor's forward costs)."""
    runner = predictor._runner
    x = runner._input(rgb[None]).clone(memory_format=torch.channels_last if runner.channels_last
                                       else torch.contiguous_format)

    def fwd():
        with torch.inference_mode():
            return runner.module(x)
    return fwd


def model_source(args, tmp: Path) -> Path:
    if args.model:
        return Path(args.model)
    if default_model_path().exists():
        return default_model_path()
    torch.manual_seed(0)
    model = build_model("unet-light", 11)
    path = tmp / "random_unet_light.pt"
    save_checkpoint(Checkpoint("unet-light", preset("camvid"), model.state_dict()), path)
    print("model: random-weight unet-light (no default model in this build)")
    return path


def image_files(args, tmp: Path) -> list[Path]:
    folder = Path(args.images) if args.images else REPO.parent / "shared" / "data" / "camvid" / "val"
    if folder.is_dir():
        files = list_images(folder)[: args.n]
        print(f"images: {len(files)} from {folder}")
        return files
    import cv2

    rng = np.random.default_rng(0)
    out = tmp / "images"
    out.mkdir()
    for i in range(args.n):
        img = cv2.GaussianBlur(rng.integers(0, 256, (360, 480, 3), dtype=np.uint8), (15, 15), 5)
        cv2.imwrite(str(out / f"im{i:03d}.png"), img)
    print(f"images: {args.n} synthetic 360×480 PNGs")
    return list_images(out)


def bench_single(predictor: Predictor, files: list[Path], out_dir: Path, repeat: int) -> tuple[float, float, dict]:
    """Median file->mask and raw-forward times, measured interleaved (robust to background load)."""
    rgb = read_image(files[0]).rgb
    fwd = raw_forward(predictor, rgb)
    labels = predictor.labels
    mask = predictor.predict(rgb, want_probs=False).labels

    def file_to_mask():
        img = read_image(files[0]).rgb
        pred = predictor.predict(img, want_probs=False)
        write_mask(out_dir / "single.png", pred.labels, labels)
    steps = {"file->mask": file_to_mask, "forward": fwd,
             "read": lambda: read_image(files[0]),
             "predict": lambda: predictor.predict(rgb, want_probs=False),
             "write": lambda: write_mask(out_dir / "part.png", mask, labels)}
    times: dict[str, list[float]] = {k: [] for k in steps}
    for i in range(repeat + 2):
        for name, fn in steps.items():
            t = time.perf_counter()
            fn()
            if i >= 2:
                times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    return med.pop("file->mask"), med.pop("forward"), med


def bench_folder(predictor: Predictor, files: list[Path], out_dir: Path) -> tuple[float, float, object]:
    """``run_batch`` throughput vs raw forwards (raw measured before and after, averaged)."""
    fwd = raw_forward(predictor, read_image(files[0]).rgb)
    fwd()

    def raw_rate() -> float:
        t = time.perf_counter()
        for _ in files:
            fwd()
        return len(files) / (time.perf_counter() - t)
    before = raw_rate()
    res = run_batch(predictor, files, out_dir)
    after = raw_rate()
    assert not res.failed, res.summary()
    return res.images_per_second, (before + after) / 2, res


def bench_engines(size: tuple[int, int], repeat: int, tmp: Path) -> list[tuple[str, float, float, float]]:
    from segstudio.models.onnx_engine import OnnxModel, export_onnx

    rows = []
    torch.manual_seed(0)
    for arch in ("lraspp", "unet-light"):
        model = build_model(arch, 11).eval()
        x = torch.rand(1, 3, *size)
        with torch.inference_mode():
            t_plain = median_time(lambda: model(x), repeat)
            cl = build_model(arch, 11).eval().to(memory_format=torch.channels_last)
            cl.load_state_dict(model.state_dict())
            xc = x.contiguous(memory_format=torch.channels_last)
            t_cl = median_time(lambda: cl(xc), repeat)
        path = tmp / f"{arch}.onnx"
        export_onnx(model, path, preset("camvid"), arch=arch)
        onnx_model = OnnxModel(path, threads=torch.get_num_threads())
        xn = x.numpy()
        t_ort = median_time(lambda: onnx_model.logits(xn), repeat)
        rows.append((arch, t_plain, t_cl, t_ort))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--images", default=None)
    ap.add_argument("--n", type=int, default=40, help="images for the folder run")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--skip-engines", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        source = model_source(args, tmp)
        files = image_files(args, tmp)
        predictor = Predictor(source, device="auto", engine="torch", tile=0)
        d = predictor.describe()
        h, w = read_image(files[0]).size
        print(f"model: {d['arch']} on {d['device']} ({d['engine']}, {d['precision']}, "
              f"channels_last={d['channels_last']}), image {w}×{h}")

        single, fwd, parts = bench_single(predictor, files, tmp, args.repeat)
        print(f"(a) single image file->mask {single * 1e3:7.1f} ms | raw forward {fwd * 1e3:7.1f} ms | "
              f"ratio {single / fwd:.3f} (goal <= 1.10)")
        print("    parts: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in parts.items())
              + f" (predict - forward = {(parts['predict'] - fwd) * 1e3:+.1f} ms)")

        rate, raw_rate, res = bench_folder(predictor, files, tmp / "out")
        print(f"(b) folder {rate:6.2f} img/s | raw forward {raw_rate:6.2f} img/s | ratio {rate / raw_rate:.3f} "
              f"(goal >= 0.90); model thread: {res.model_seconds:.2f} s predicting, "
              f"{res.wait_seconds:.2f} s waiting on I/O, of {res.seconds:.2f} s")

        if not args.skip_engines:
            print(f"(c) forward latency at {w}×{h}, median of {args.repeat}:")
            print(f"    {'arch':11s} {'torch':>9s} {'torch CL':>9s} {'onnxrt':>9s}  onnxrt/torch-CL")
            for arch, t_plain, t_cl, t_ort in bench_engines((h, w), args.repeat, tmp):
                print(f"    {arch:11s} {t_plain * 1e3:7.1f}ms {t_cl * 1e3:7.1f}ms {t_ort * 1e3:7.1f}ms  "
                      f"{t_ort / t_cl:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
