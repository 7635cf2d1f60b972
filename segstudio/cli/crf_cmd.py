"""``segstudio crf``: refine a C×H×W probability array with a dense CRF and write the mask PNG."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

import numpy as np

from segstudio.core import labels as labels_mod
from segstudio.core.crf_params import CRFError, CRFParams
from segstudio.core.npyfile import read_npy

_HELP = {
    "iterations": "mean-field iterations",
    "gaussian_sxy": "smoothness kernel spatial std (px)",
    "gaussian_compat": "smoothness kernel weight (0: off)",
    "bilateral_sxy": "appearance kernel spatial std (px)",
    "bilateral_srgb": "appearance kernel colour std (0..255)",
    "bilateral_compat": "appearance kernel weight (0: off)",
    "fixed_confidence": "unary confidence of --fixed (painted) pixels",
    "max_pixels": "refine larger images in overlapping tiles of at most this many pixels",
    "tile_overlap": "pixels shared by neighbouring tiles",
}


def register(sub: argparse._SubParsersAction) -> None:
    d = CRFParams()
    p = sub.add_parser("crf", help="refine class probabilities with a dense CRF and write a mask",
                       description="Read C×H×W softmax probabilities (.npy) for IMAGE, refine them with a "
                                   "fully connected CRF and write the arg-max as an indexed PNG mask.")
    p.add_argument("--image", required=True, type=Path, help="RGB image the probabilities belong to")
    p.add_argument("--probs", required=True, type=Path, help="C×H×W probabilities (.npy, softmax output)")
    p.add_argument("--out", required=True, type=Path, help="mask to write (.png)")
    p.add_argument("--labels", default=None,
                   help=f"label set for the palette and class count: a preset ({', '.join(labels_mod.PRESETS)}) "
                        f"or a labels.json")
    p.add_argument("--fixed", type=Path, default=None,
                   help="mask PNG of user-painted pixels that must keep their class (void = free)")
    p.add_argument("--params", type=Path, default=None,
                   help="JSON object of CRF parameters (e.g. the output of scripts/tune_crf.py); "
                        "flags below override it")
    p.add_argument("--engine", choices=("pydensecrf", "torch"), default="pydensecrf",
                   help="pydensecrf (CPU, reference) or torch (GPU when available)")
    p.add_argument("--device", default="auto", help="torch engine device: auto, cpu, cuda, cuda:1 …")
    for f in fields(CRFParams):
        kind = int if isinstance(getattr(d, f.name), int) else float
        p.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=None,
                       help=f"{_HELP[f.name]} (default {getattr(d, f.name)})")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def params_from_args(args: argparse.Namespace) -> CRFParams:
    base: dict = CRFParams.shipped().to_dict()
    if args.params is not None:
        try:
            loaded = json.loads(Path(args.params).read_text(encoding="utf-8"))
            base = {**base, **loaded.get("params", loaded)} if isinstance(loaded, dict) else loaded
        except FileNotFoundError:
            raise CRFError(f"{args.params}: parameter file not found") from None
        except (OSError, ValueError) as exc:
            raise CRFError(f"{args.params}: not a readable JSON file ({exc})") from None
        CRFParams.from_dict(base, str(args.params))
    overrides = {f.name: getattr(args, f.name) for f in fields(CRFParams) if getattr(args, f.name) is not None}
    return CRFParams.from_dict({**base, **overrides}, str(args.params) if args.params else "command line")


def load_probs(path: Path) -> np.ndarray:
    import stat

    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or device would block np.load
            raise CRFError(f"{path}: not a regular file; not opened")
    except OSError:
        pass  # missing: reported below
    probs = read_npy(path, "array", CRFError, missing="probabilities file not found")
    if probs.ndim != 3 or probs.dtype.kind != "f":
        raise CRFError(f"{path}: expected a floating-point C×H×W array, got {probs.dtype} {probs.shape}")
    return probs


def run(args: argparse.Namespace) -> int:
    from segstudio.core import crf, images, masks

    params = params_from_args(args)
    labels = labels_mod.resolve(args.labels) if args.labels else None
    image = images.read_image(args.image).rgb
    probs = load_probs(args.probs)
    if labels is not None and probs.shape[0] != labels.num_classes:
        raise CRFError(f"{args.probs}: {probs.shape[0]} classes but label set {labels.name!r} has "
                       f"{labels.num_classes}")
    if image.shape[:2] != probs.shape[1:]:
        raise CRFError(f"{args.probs}: probabilities are {probs.shape[1]}×{probs.shape[2]} but "
                       f"{args.image} is {image.shape[0]}×{image.shape[1]}")
    if args.out.suffix.lower() != ".png":
        raise CRFError(f"{args.out}: the mask is written as PNG; use a .png name")
    fixed = None
    if args.fixed is not None:
        fixed = masks.read_mask(args.fixed, labels).astype(np.int32)
        if fixed.shape != image.shape[:2]:
            raise CRFError(f"{args.fixed}: mask is {fixed.shape[0]}×{fixed.shape[1]} but {args.image} is "
                           f"{image.shape[0]}×{image.shape[1]}")

    def progress(done: int, total: int, message: str) -> None:
        if not args.quiet and total > 1:
            print(f"[{done}/{total}] {message}", flush=True)

    if args.engine == "torch":
        from segstudio.models.crf_torch import dense_crf_torch

        out = dense_crf_torch(image, probs, params, fixed, progress, device=args.device)
    else:
        out = crf.dense_crf(image, probs, params, fixed, progress)
    dtype = labels.dtype if labels is not None else (np.uint8 if out.shape[0] <= 256 else np.uint16)
    mask = out.argmax(axis=0).astype(dtype)
    masks.write_mask(args.out, mask, labels)
    if not args.quiet:
        print(f"wrote {args.out}")
    return 0
