"""Inference: ``Predictor(source).predict(rgb) -> Prediction(labels, probs)``.

``source`` is a model file path (anything ``loading.load_model_file`` accepts), a
``Checkpoint``, a ``LoadedModel`` or an ``nn.Module`` (with ``labels=``; mean/std default to
ImageNet's). Engines:

* ``torch``: eval mode, ``torch.inference_mode``; channels-last memory on CPU and CUDA; fp16
  autocast on CUDA. Normalisation ``(rgb/255 - mean)/std`` is one fused multiply-add on a
  reused buffer; the uint8 image is viewed (not copied) as channels-last NCHW.
* ``onnxruntime``: CPU execution provider, same interface (see ``onnx_engine``).
* ``auto``: ``onnxruntime`` when the device is the CPU and a valid ONNX export of the very
  checkpoint file exists (sibling ``X.onnx`` or the export cache, matched by SHA-256), or the
  source itself is ``.onnx``; else ``torch``. Explicit ``onnxruntime`` with a checkpoint that
  has no export yet exports it into the cache first.

Labels come from the argmax of the logits; probabilities (softmax, float32) are only computed
when asked for. ``tta="flip"|"ms"`` averages the probabilities over mirrored (and rescaled)
copies (see ``tta``); labels are then the argmax of the averaged probabilities. Large images: ``tile=None`` tiles images over ``AUTO_TILE_PIXELS`` (``tiling.auto_tile``: 1280 on CPU),
``tile=0`` never tiles, ``tile=N`` tiles when a side exceeds N; tiles of a tile row run through
the network ``batch_size`` at a time and ``on_progress(done, total)`` reports tiles within the image; ``max_side`` downsizes the image
first and upsamples the probabilities back (see ``tiling``).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn

from segstudio.core.errors import SegStudioError
from segstudio.core.labels import LabelSet
from segstudio.models import tiling
from segstudio.models.checkpoint import IMAGENET_MEAN, IMAGENET_STD, Checkpoint, CheckpointError
from segstudio.models.devices import select_device
from segstudio.models.loading import LoadedModel, from_checkpoint, generic_labels, load_model_file
from segstudio.models.tta import check_mode as check_tta
from segstudio.models.tta import tta_probs

ENGINES = ("auto", "torch", "onnxruntime")


class PredictorError(SegStudioError):
    pass


@dataclass
class Prediction:
    labels: np.ndarray                 # H×W class ids (uint8, uint16 past 255 classes)
    probs: np.ndarray | None = None    # C×H×W float32, when asked for and within the memory budget


def _tensor(array: np.ndarray) -> torch.Tensor:
    """Zero-copy tensor view; read-only arrays (e.g. decoded images) are only ever read here."""
    if array.flags.writeable:
        return torch.from_numpy(array)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(array)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 view of ``image`` (grey is repeated, alpha dropped)."""
    if image.dtype != np.uint8:
        raise PredictorError(f"images must be uint8, got {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return image[..., :3]
    raise PredictorError(f"images must be H×W×3 RGB, got shape {image.shape}")


PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None = plain fp32).

    ``auto`` is fp16 autocast on CUDA and fp32 elsewhere; ``bf16`` needs a GPU that supports it.
    """
    precision = (precision or "auto").lower()
    if precision not in PRECISIONS:
        raise PredictorError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if device.type != "cuda":
        raise PredictorError(f"precision {precision} runs on a CUDA device only (this model runs on {device})")
    if precision == "bf16":
        if not torch.cuda.is_bf16_supported():
            raise PredictorError(f"precision bf16: {torch.cuda.get_device_name(device)} does not support bfloat16; "
                                 f"use fp16 or fp32")
        return torch.bfloat16
    return torch.float16


def _precision_name(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.float16: "fp16 autocast", torch.bfloat16: "bf16 autocast"}[dtype]


class _TorchRunner:
    engine = "torch"

    def __init__(self, module: nn.Module, device: torch.device, mean, std, precision: str = "auto") -> None:
        self.device = device
        self.channels_last = device.type in ("cpu", "cuda")
        module = module.eval().to(device)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module = module
        self.autocast_dtype = autocast_dtype(device, precision)
        self.fp16 = self.autocast_dtype is not None  # any reduced-precision autocast (fp16 or bf16)
        m, s = torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)
        self.scale = (1.0 / (255.0 * s)).view(1, 3, 1, 1).to(device)
        self.shift = (-m / s).view(1, 3, 1, 1).to(device)
        self._buf: torch.Tensor | None = None

    def _input(self, batch: np.ndarray) -> torch.Tensor:
        n, h, w, _ = batch.shape
        src = _tensor(batch).to(self.device, non_blocking=True).permute(0, 3, 1, 2)  # NHWC view as NCHW
        if self._buf is None or tuple(self._buf.shape) != (n, 3, h, w):
            fmt = torch.channels_last if self.channels_last else torch.contiguous_format
            self._buf = torch.empty((n, 3, h, w), dtype=torch.float32, device=self.device, memory_format=fmt)
        x = self._buf
        x.copy_(src)
        return x.mul_(self.scale).add_(self.shift)

    def logits(self, batch: np.ndarray) -> torch.Tensor:
        x = self._input(batch)
        with torch.inference_mode():
            if self.autocast_dtype is not None:
                with torch.autocast(self.device.type, dtype=self.autocast_dtype):
                    y = self.module(x)
            else:
                y = self.module(x)
        if isinstance(y, dict):
            y = y["out"]
        return y


class _OrtRunner:
    engine = "onnxruntime"
    device = torch.device("cpu")

    def __init__(self, model: Any, mean, std) -> None:
        self.model = model
        m, s = torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)
        self.scale = (1.0 / (255.0 * s)).view(1, 3, 1, 1)
        self.shift = (-m / s).view(1, 3, 1, 1)
        self._buf: torch.Tensor | None = None

    def logits(self, batch: np.ndarray) -> torch.Tensor:
        n, h, w, _ = batch.shape
        if self._buf is None or tuple(self._buf.shape) != (n, 3, h, w):
            self._buf = torch.empty((n, 3, h, w), dtype=torch.float32)
        x = self._buf
        x.copy_(_tensor(batch).permute(0, 3, 1, 2))
        x.mul_(self.scale).add_(self.shift)
        return torch.from_numpy(self.model.logits(x.numpy()))


class Predictor:
    def __init__(self, source: Any, device: str | torch.device = "auto", engine: str = "auto",
                 tile: int | None = None, tile_overlap: int = tiling.DEFAULT_OVERLAP, max_side: int | None = None,
                 labels: LabelSet | None = None, mean=None, std=None, arch: str | None = None,
                 num_classes: int | None = None, allow_torchscript: bool = False,
                 prob_budget: int = tiling.DEFAULT_BUDGET, batch_size: int | None = None,
                 precision: str = "auto", tta: str = "none") -> None:
        engine = (engine or "auto").lower()
        if engine not in ENGINES:
            raise PredictorError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        self._device = select_device(device)
        self.tile, self.tile_overlap, self.max_side = tile, tile_overlap, max_side
        self.prob_budget = prob_budget
        self.batch_size = batch_size or (1 if self._device.type == "cpu" else 4)
        self.source_path: Path | None = None
        self.notices: list[str] = []
        self.on_notice: Callable[[str], None] | None = None
        self.tta = check_tta(tta)
        self.on_progress: Callable[[int, int], None] | None = None   # (tiles done, tiles) within a tiled image
        loaded = self._resolve(source, engine, labels, mean, std, arch, num_classes, allow_torchscript)
        self.loaded = loaded
        if loaded.kind == "onnx":
            if self._device.type != "cpu":
                raise PredictorError(f"{loaded.path}: the onnxruntime engine runs on the CPU only; "
                                     f"use --device cpu or the torch checkpoint")
            self._runner: Any = _OrtRunner(loaded.onnx, loaded.mean, loaded.std)
        else:
            if engine == "onnxruntime":
                raise PredictorError("engine 'onnxruntime' needs an ONNX file or a checkpoint file path")
            self._runner = _TorchRunner(loaded.build_module(), self._device, loaded.mean, loaded.std, precision)

    # -- construction ------------------------------------------------------------------------
    def _resolve(self, source, engine, labels, mean, std, arch, num_classes, allow_ts) -> LoadedModel:
        if isinstance(source, LoadedModel):
            return source
        if isinstance(source, Checkpoint):
            return from_checkpoint(source, arch, labels, num_classes)
        if isinstance(source, nn.Module):
            if labels is None:
                n = num_classes or _probe(source)
                labels = generic_labels(n)
            return LoadedModel("module", labels, tuple(mean or IMAGENET_MEAN), tuple(std or IMAGENET_STD),  # type: ignore[arg-type]
                               arch, {}, None, module=source)
        if not isinstance(source, (str, os.PathLike)):
            raise PredictorError(f"cannot predict with a {type(source).__name__}: give a model file, a Checkpoint "
                                 f"or an nn.Module")
        path = Path(source)
        self.source_path = path
        if path.suffix.lower() == ".onnx":
            if engine == "torch":
                raise PredictorError(f"{path}: an ONNX file runs with the onnxruntime engine, not torch")
            return load_model_file(path, arch, num_classes, labels)
        if engine in ("auto", "onnxruntime") and self._device.type == "cpu":
            onnx_path = self._onnx_for(path, engine, allow_ts)
            if onnx_path is not None:
                return load_model_file(onnx_path, None, num_classes, labels)
        return load_model_file(path, arch, num_classes, labels, allow_torchscript=allow_ts)

    def _onnx_for(self, path: Path, engine: str, allow_ts: bool) -> Path | None:
        from segstudio.models import onnx_engine

        if not path.exists():
            return None
        found = onnx_engine.find_onnx_for(path)
        if engine == "auto":
            # only where the export measured onnxruntime faster than torch on this CPU
            return found if found is not None and onnx_engine.measured_faster(found) else None
        if found is not None:
            return found
        loaded = load_model_file(path, allow_torchscript=allow_ts)
        if loaded.checkpoint is None:
            raise PredictorError(f"{path}: only checkpoints and state dicts can be exported to ONNX")
        sha = onnx_engine.file_sha256(path)
        out = onnx_engine.cached_onnx_path(sha)
        onnx_engine.export_onnx(loaded.build_module(), out, loaded.labels, loaded.mean, loaded.std, loaded.arch,
                                loaded.arch_options, source_sha256=sha)
        return out

    # -- properties --------------------------------------------------------------------------
    @property
    def labels(self) -> LabelSet:
        return self.loaded.labels

    @property
    def num_classes(self) -> int:
        return self.loaded.labels.num_classes

    @property
    def device(self) -> str:
        return str(self._runner.device)

    @property
    def engine(self) -> str:
        return self._runner.engine

    def describe(self) -> dict[str, Any]:
        lm = self.loaded
        return {"arch": lm.arch, "arch_options": dict(lm.arch_options), "kind": lm.kind,
                "path": str(lm.path) if lm.path else None, "classes": self.labels.names,
                "num_classes": self.num_classes, "ignore_index": self.labels.ignore_index,
                "mean": list(lm.mean), "std": list(lm.std), "device": self.device, "engine": self.engine,
                "precision": _precision_name(getattr(self._runner, "autocast_dtype", None)),
                "channels_last": bool(getattr(self._runner, "channels_last", False)),
                "tile": self.tile, "tile_overlap": self.tile_overlap, "max_side": self.max_side, "tta": self.tta}

    # -- inference ---------------------------------------------------------------------------
    def _tile_size(self, h: int, w: int) -> int | None:
        if self.tile is None:
            return tiling.auto_tile(self._device.type) if h * w > tiling.AUTO_TILE_PIXELS else None
        if self.tile and max(h, w) > self.tile:
            return int(self.tile)
        return None

    def _tile_after_oom(self, w: int, h: int) -> int:
        """After CUDA ran out of memory on a whole image: free the cache and choose tiles instead."""
        self._runner._buf = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        tile = min(tiling.DEFAULT_TILE, max(64, max(h, w) // 2))
        self.notify(f"image of {w}×{h} pixels did not fit in {self.device} memory; predicting it in {tile}-pixel "
                    f"tiles instead (set --tile to choose the size)")
        return tile

    def notify(self, text: str) -> None:
        """A message for the user (the CLI prints it, the GUI shows it); kept in ``notices``."""
        self.notices.append(text)
        if self.on_notice is not None:
            self.on_notice(text)
        else:
            logging.getLogger("segstudio").warning(text)

    def _finish(self, logits: torch.Tensor, want_probs: bool) -> Prediction:
        """``C×H×W`` logits -> labels (argmax) and, if wanted, float32 softmax probabilities."""
        labels = tiling.class_argmax(logits, self.labels.dtype)   # ~4× faster than torch on ONNX's C-contiguous output
        probs = None
        if want_probs:
            probs = torch.softmax(logits.float(), 0).cpu().contiguous().numpy()
        return Prediction(labels, probs)

    def _finish_probs(self, probs: torch.Tensor, want_probs: bool) -> Prediction:
        """``C×H×W`` (averaged) probabilities -> labels (argmax) and, if wanted, the probabilities."""
        return Prediction(tiling.class_argmax(probs, self.labels.dtype),
                          probs.cpu().contiguous().numpy() if want_probs else None)

    def tiles_probs(self, batch: np.ndarray) -> np.ndarray:
        """``N×C×h×w`` float32 probabilities of ``N×h×w×3`` uint8 (tile) images, with the TTA mode."""
        return tta_probs(self._runner.logits, batch, self.tta).cpu().numpy()   # channels-last stays (fast argmax)

    def _tile_scores(self) -> dict[str, Any]:
        """What ``tiling.predict_tiled`` runs the tiles through: the logits (labels straight from their
        argmax where one tile covers a pixel), or with TTA the averaged probabilities."""
        if self.tta == "none":
            return {"logits_fn": self._runner.logits}
        return {"batch_fn": self.tiles_probs}

    def tile_probs(self, rgb: np.ndarray) -> np.ndarray:
        """``C×h×w`` float32 probabilities of one (tile) image."""
        return self.tiles_probs(rgb[None])[0]

    def predict(self, image: np.ndarray, want_probs: bool = True) -> Prediction:
        """Labels (and probabilities) of an ``H×W×3`` uint8 RGB image."""
        rgb = as_rgb(image)
        h, w = rgb.shape[:2]
        scale = tiling.long_side_scale(h, w, self.max_side)
        work = tiling.resize_rgb(rgb, scale) if scale < 1.0 else rgb
        tile = self._tile_size(*work.shape[:2])
        if scale == 1.0 and tile is None:
            try:
                if self.tta != "none":
                    return self._finish_probs(tta_probs(self._runner.logits, work[None], self.tta)[0], want_probs)
                return self._finish(self._runner.logits(work[None])[0], want_probs)
            except torch.OutOfMemoryError:
                tile = self._tile_after_oom(w, h)
        dtype = self.labels.dtype
        if tile is not None:
            labels, probs = tiling.predict_tiled(work, None, self.num_classes, tile, self.tile_overlap,
                                                 want_probs or scale < 1.0, dtype, self.prob_budget,
                                                 batch_size=self.batch_size, progress=self.on_progress,
                                                 **self._tile_scores())
            if scale == 1.0:
                return Prediction(labels, probs)
        else:
            probs = self.tile_probs(work)
        if probs is None:
            raise PredictorError(f"image of {w}×{h} pixels: the reduced-size probabilities exceed the memory "
                                 f"budget; use a smaller --max-side")
        labels, probs = tiling.upsample_probs(probs, h, w, want_probs, dtype, self.prob_budget)
        return Prediction(labels, probs)

    def predict_batch(self, images: Iterable[np.ndarray], want_probs: bool = True) -> list[Prediction]:
        """Like ``predict`` for each image; equal-sized untiled images run in batches of ``batch_size``."""
        rgbs = [as_rgb(im) for im in images]
        out: list[Prediction | None] = [None] * len(rgbs)
        i = 0
        while i < len(rgbs):
            h, w = rgbs[i].shape[:2]
            simple = tiling.long_side_scale(h, w, self.max_side) == 1.0 and self._tile_size(h, w) is None
            j = i + 1
            if simple:
                while j < len(rgbs) and j - i < self.batch_size and rgbs[j].shape == rgbs[i].shape:
                    j += 1
            if j - i == 1:
                out[i] = self.predict(rgbs[i], want_probs)
            elif self.tta != "none":
                probs = tta_probs(self._runner.logits, np.stack(rgbs[i:j]), self.tta)
                for k in range(j - i):
                    out[i + k] = self._finish_probs(probs[k], want_probs)
            else:
                logits = self._runner.logits(np.stack(rgbs[i:j]))
                for k in range(j - i):
                    out[i + k] = self._finish(logits[k], want_probs)
            i = j
        return out  # type: ignore[return-value]


def _probe(module: nn.Module) -> int:
    with torch.inference_mode():
        y = module.eval()(torch.zeros(1, 3, 64, 64))
    if isinstance(y, dict):
        y = y["out"]
    return int(y.shape[1])


__all__ = ["Predictor", "Prediction", "PredictorError", "ENGINES", "CheckpointError"]
