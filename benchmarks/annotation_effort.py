"""Annotation effort: how many interactions each correction tool needs, by a simulated annotator.

    python benchmarks/annotation_effort.py --images DIR --gt DIR --labels camvid \
        [--model CKPT | --pred DIR] [--skip N] [--limit N] [--max-interactions 50] [--tools brush,fill,…] \
        --json OUT [--plot OUT.png] [--threads 1]

For every image the simulated annotator of ``segstudio.core.tools.annotator`` starts from the
model's prediction (``--model``, default the shipped CamVid model; or masks already predicted,
``--pred``, e.g. by ``segstudio batch``) and corrects it with one tool at a time, through the
same core functions the GUI calls. After k = 0 … max interactions per image it records mIoU and
pixel accuracy over all images (as ``segstudio eval`` computes them). The effort ratio of a tool
is the interactions it needs to reach the mIoU that brush-only reaches at the cap, divided by the
cap (lower is better; ``null`` when never reached). ``oracle`` (fills exactly the largest wrong
region per click) is a reference, not a tool. Prints a table, writes the JSON

    {"tools": {"<name>": {"miou": [...], "pixel_accuracy": [...], "effort_ratio": r}},
     "images": n, "max_interactions": m}

and a PNG plot of mIoU against interactions (matplotlib when installed, else drawn with PIL).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from segstudio.core import atomic, images as images_mod, labels as labels_mod, masks  # noqa: E402
from segstudio.core.crf_params import CRFParams  # noqa: E402
from segstudio.core.errors import SegStudioError  # noqa: E402
from segstudio.core.tools import annotator  # noqa: E402

DEFAULT_TOOLS = ("brush", "polygon", "fill", "region", "superpixel", "wand", "grabcut", "scribble_crf", "class_swap",
                 "learn_brush", "oracle")
DEFAULT_MODEL = ROOT / "resources" / "models" / "camvid_default.pt"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", required=True, type=Path)
    p.add_argument("--gt", required=True, type=Path)
    p.add_argument("--labels", required=True, help="label-set preset or labels.json")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", type=Path, default=None, help=f"checkpoint (default {DEFAULT_MODEL.name})")
    src.add_argument("--pred", type=Path, default=None, help="folder of predicted masks instead of a model")
    p.add_argument("--skip", type=int, default=0, help="leave out the first N images (natural order)")
    p.add_argument("--limit", type=int, default=None, help="first N images (natural order, after --skip)")
    p.add_argument("--max-interactions", type=int, default=50)
    p.add_argument("--tools", default=",".join(DEFAULT_TOOLS))
    p.add_argument("--json", required=True, type=Path)
    p.add_argument("--plot", type=Path, default=None, help="PNG plot (default: next to --json)")
    p.add_argument("--swap-ratio", type=float, default=None,
                   help="class swap: τ in %% (default: the tool's own, core.tools.prob_region)")
    p.add_argument("--threads", type=int, default=1, help="torch threads for the model")
    return p.parse_args(argv)


def load_inputs(args: argparse.Namespace, labels: labels_mod.LabelSet) -> list[tuple[str, annotator.ImageInputs]]:
    gts = {p.stem: p for p in sorted(args.gt.glob("*.png"))}
    paths = [p for p in images_mod.list_images(args.images) if p.stem in gts]
    if not paths:
        raise SegStudioError(f"{args.images}: no image has a ground-truth mask of the same name in {args.gt}")
    paths = paths[max(0, args.skip):]
    paths = paths[: args.limit] if args.limit else paths
    if not paths:
        raise SegStudioError(f"{args.images}: no image left after --skip {args.skip}")
    predictor = None
    if args.pred is None:
        import torch

        from segstudio.models.predictor import Predictor
        torch.set_num_threads(max(1, args.threads))
        predictor = Predictor(str(args.model or DEFAULT_MODEL), device="cpu")
    out = []
    for path in paths:
        rgb = images_mod.read_image(path).rgb
        gt = masks.read_mask(gts[path.stem])
        if predictor is not None:
            pred = predictor.predict(rgb, want_probs=True)
            start, probs = pred.labels, pred.probs
        else:
            mask_path = args.pred / f"{path.stem}.png"
            if not mask_path.exists():
                raise SegStudioError(f"{mask_path}: no predicted mask for {path.name}")
            start, probs = masks.read_mask(mask_path), None
        if start.shape != gt.shape or rgb.shape[:2] != gt.shape:
            raise SegStudioError(f"{path.name}: image {rgb.shape[:2]}, prediction {start.shape} and "
                                 f"ground truth {gt.shape} differ in size")
        out.append((path.stem, annotator.ImageInputs(rgb, gt, start.astype(gt.dtype), probs)))
    return out


def run(args: argparse.Namespace) -> dict:
    labels = labels_mod.resolve(args.labels)
    n, void = labels.num_classes, labels.ignore_index
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in annotator.TOOLS]
    if unknown:
        raise SegStudioError(f"unknown tool(s) {', '.join(unknown)}; choose from {', '.join(annotator.TOOLS)}")
    if "brush" not in tools:
        tools.insert(0, "brush")
    inputs = load_inputs(args, labels)
    crf_params = CRFParams.shipped()
    options = {} if args.swap_ratio is None else {"swap_ratio": args.swap_ratio / 100.0}
    result: dict = {"tools": {}, "images": len(inputs), "max_interactions": args.max_interactions}
    for tool in tools:
        t0 = time.perf_counter()
        tables = [annotator.simulate_image(inp, tool, n, void, args.max_interactions, crf_params, options)
                  for _, inp in inputs]
        miou, acc = annotator.curves(tables, n)
        result["tools"][tool] = {"miou": miou, "pixel_accuracy": acc, "seconds": round(time.perf_counter() - t0, 2)}
        print(f"  {tool:13s} done in {time.perf_counter() - t0:7.1f} s", file=sys.stderr, flush=True)
    brush = result["tools"]["brush"]["miou"]
    for entry in result["tools"].values():
        entry["effort_ratio"] = annotator.effort_ratio(entry["miou"], brush)
    return result


def table(result: dict) -> str:
    m = result["max_interactions"]
    ks = sorted({0, min(10, m), min(20, m), m})
    head = ["tool"] + [f"mIoU@{k}" for k in ks] + [f"PA@{m}", "effort ratio"]
    rows = [head]
    for name, e in result["tools"].items():
        r = e["effort_ratio"]
        rows.append([name] + [f"{100 * e['miou'][k]:.2f}" for k in ks] + [f"{100 * e['pixel_accuracy'][m]:.2f}",
                                                                         "not reached" if r is None else f"{r:.2f}"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def plot(result: dict, path: Path) -> None:
    """mIoU vs interactions, one line per tool (matplotlib if installed, else PIL)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    series = {k: [100 * v for v in e["miou"]] for k, e in result["tools"].items()}
    title = f"mIoU vs interactions per image ({result['images']} images)"
    if plt is not None:
        fig, ax = plt.subplots(figsize=(8, 5))
        for name, ys in series.items():
            ax.plot(range(len(ys)), ys, label=name)
        ax.set_xlabel("interactions per image")
        ax.set_ylabel("mIoU %")
        ax.set_title(title)
        ax.legend()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return
    _plot_pil(series, title, path)


def _plot_pil(series: dict[str, list[float]], title: str, path: Path) -> None:
    from PIL import Image, ImageDraw

    w, h, left, right, top, bottom = 900, 560, 60, 150, 40, 50
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    lo = min(min(s) for s in series.values())
    hi = max(max(s) for s in series.values())
    lo = float(np.floor(lo / 5) * 5)
    hi = max(float(np.ceil(hi / 5) * 5), lo + 5)
    kmax = max(len(s) for s in series.values()) - 1 or 1
    pw, ph = w - left - right, h - top - bottom

    def xy(k: float, v: float) -> tuple[float, float]:
        return left + pw * k / kmax, top + ph * (1 - (v - lo) / (hi - lo))

    d.rectangle([left, top, left + pw, top + ph], outline="black")
    for v in np.arange(lo, hi + 0.01, 5):
        y = xy(0, v)[1]
        d.line([left - 4, y, left + pw, y], fill=(225, 225, 225))
        d.text((8, y - 6), f"{v:.0f}", fill="black")
    for k in range(0, kmax + 1, max(1, kmax // 10)):
        x = xy(k, lo)[0]
        d.line([x, top + ph, x, top + ph + 4], fill="black")
        d.text((x - 6, top + ph + 8), str(k), fill="black")
    d.text((left + pw // 2 - 70, h - 20), "interactions per image", fill="black")
    d.text((8, top - 28), "mIoU %", fill="black")
    d.text((left + 40, 8), title, fill="black")
    for i, (name, ys) in enumerate(series.items()):
        c = COLOURS[i % len(COLOURS)]
        d.line([xy(k, v) for k, v in enumerate(ys)], fill=c, width=2)
        d.line([w - right + 12, top + 16 * i + 8, w - right + 36, top + 16 * i + 8], fill=c, width=3)
        d.text((w - right + 42, top + 16 * i + 2), name, fill="black")
    img.save(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except SegStudioError as exc:
        print(f"annotation_effort: error: {exc}", file=sys.stderr)
        return 1
    print(table(result))
    atomic.write_text(args.json, json.dumps(result, indent=1) + "\n")
    png = args.plot or args.json.with_suffix(".png")
    plot(result, png)
    print(f"wrote {args.json} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
