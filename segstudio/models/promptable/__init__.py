"""Promptable segmentation models (the Segment Anything family) behind one small interface.

A :class:`PromptableModel` computes an image embedding once per image (``set_image``; slow,
run it on a worker) and keeps the last few in an LRU cache by image key; ``predict(points,
labels, box)`` then runs only the prompt decoder (milliseconds on a CPU) and returns a
bool ``H×W`` mask in image coordinates. Points are ``(x, y)`` image coordinates, labels 1
(foreground) / 0 (background), the box ``(x0, y0, x1, y1)``.

Runners: :mod:`.sam_torch` (a segment-anything checkpoint — vit_b / vit_l / vit_h or any
ViT config, read from the state dict; loaded with ``torch.load(weights_only=True)``) and
:mod:`.sam_onnx` (an encoder + decoder ONNX pair as X-AnyLabeling ships them, onnxruntime).
:func:`find_weights` / :func:`load` look in the weights folder (``SEGSTUDIO_SAM_DIR``, default
``~/.local/share/segstudio/sam/``); nothing is ever downloaded, and without weights the error
says where to put them. MobileSAM, EfficientSAM and SAM 2 checkpoints are recognised and the
error names the package they need (``mobile_sam``, ``efficient_sam``, ``sam2``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Hashable, Sequence

import numpy as np

from segstudio.core.errors import SegStudioError

__all__ = ["PromptError", "PromptableModel", "weights_dir", "find_weights", "load", "WEIGHTS_HELP"]


class PromptError(SegStudioError):
    """A promptable model cannot be loaded or run (missing weights or package, bad file)."""


def weights_dir() -> Path:
    env = os.environ.get("SEGSTUDIO_SAM_DIR")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "segstudio" / "sam"


WEIGHTS_HELP = ("put a Segment Anything checkpoint (e.g. sam_vit_b_01ec64.pth) or an encoder + decoder ONNX "
                "pair (*encoder*.onnx and *decoder*.onnx, as X-AnyLabeling uses) in {dir} "
                "(or point SEGSTUDIO_SAM_DIR at another folder); nothing is downloaded")


class PromptableModel:
    """Base class: embedding cache by image key, prompt validation; runners fill in the rest."""

    name = "promptable"

    def __init__(self, cache_size: int = 4) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._current: Any = None
        self._shape: tuple[int, int] | None = None

    # -- runners implement these two ------------------------------------------------------------
    def _embed(self, rgb: np.ndarray) -> Any:
        raise NotImplementedError

    def _decode(self, embedding: Any, points: np.ndarray | None, labels: np.ndarray | None,
                box: np.ndarray | None) -> tuple[np.ndarray, float]:
        raise NotImplementedError

    # -- public ---------------------------------------------------------------------------------
    def has_embedding(self, key: Hashable) -> bool:
        return key in self._cache

    def set_image(self, rgb: np.ndarray, key: Hashable | None = None) -> None:
        """Compute (or take from the cache) the embedding of ``rgb`` and make it current."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] < 3 or rgb.dtype != np.uint8:
            raise PromptError(f"{self.name}: needs an H×W×3 uint8 RGB image, got {rgb.shape} {rgb.dtype}")
        key = key if key is not None else id(rgb)
        item = self._cache.get(key)
        if item is None:
            item = (self._embed(np.ascontiguousarray(rgb[..., :3])), rgb.shape[:2])
            self._cache[key] = item
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        self._current, self._shape = item

    def predict(self, points: Sequence[Sequence[float]] | None = None, labels: Sequence[int] | None = None,
                box: Sequence[float] | None = None) -> tuple[np.ndarray, float]:
        """Bool ``H×W`` mask and the model's quality score for the prompts, on the current image."""
        if self._current is None or self._shape is None:
            raise PromptError(f"{self.name}: no image set (call set_image first)")
        pts = np.asarray(points, np.float32).reshape(-1, 2) if points is not None and len(points) else None
        lab = np.asarray(labels, np.float32).reshape(-1) if pts is not None else None
        if pts is not None and (lab is None or lab.shape[0] != pts.shape[0]):
            raise PromptError(f"{self.name}: {0 if pts is None else len(pts)} points but "
                              f"{0 if labels is None else len(labels)} labels")
        bx = np.asarray(box, np.float32).reshape(4) if box is not None else None
        if pts is None and bx is None:
            raise PromptError(f"{self.name}: give at least one point or a box")
        mask, score = self._decode(self._current, pts, lab, bx)
        return mask.astype(bool, copy=False), float(score)


def find_weights(folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """What the weights folder holds: ``{"checkpoint": Path}`` or ``{"encoder": Path, "decoder": Path}``."""
    folder = Path(folder) if folder is not None else weights_dir()
    if not folder.is_dir():
        raise PromptError(f"no SAM weights: {folder} does not exist; " + WEIGHTS_HELP.format(dir=folder))
    onnx = sorted(folder.glob("*.onnx"))
    enc = [p for p in onnx if "encoder" in p.name.lower()]
    dec = [p for p in onnx if "decoder" in p.name.lower()]
    if enc and dec:
        return {"encoder": enc[0], "decoder": dec[0]}
    ckpts = sorted([*folder.glob("*.pth"), *folder.glob("*.pt")])
    if ckpts:
        return {"checkpoint": ckpts[0]}
    raise PromptError(f"no SAM weights in {folder}; " + WEIGHTS_HELP.format(dir=folder))


def load(source: str | os.PathLike | dict | None = None, device: str = "cpu") -> PromptableModel:
    """A runner for a checkpoint file, an ``{"encoder", "decoder"}`` ONNX pair, or the weights folder."""
    if source is None or (not isinstance(source, dict) and Path(source).is_dir()):
        source = find_weights(source)
    if isinstance(source, dict):
        if "encoder" in source:
            from segstudio.models.promptable.sam_onnx import SamOnnx
            return SamOnnx(source["encoder"], source["decoder"])
        source = source["checkpoint"]
    from segstudio.models.promptable.sam_torch import SamTorch
    return SamTorch.from_checkpoint(source, device=device)
