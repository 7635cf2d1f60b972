"""Self-describing checkpoints: arch + options + label set + normalisation + metadata + weights.

Format (a plain dict of tensors and primitives, so ``torch.load(weights_only=True)`` reads it)::

    {"format": "segstudio-checkpoint", "version": 1,
     "arch": "unet-light", "arch_options": {...},
     "labels": LabelSet.to_dict(), "mean": [..3], "std": [..3],
     "meta": {...training metadata...}, "state_dict": {...}}

Loading never unpickles code: anything but tensors/containers/primitives is refused.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from segstudio.core import atomic
from segstudio.core.errors import SegStudioError
from segstudio.core.labels import LabelSet

FORMAT = "segstudio-checkpoint"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class CheckpointError(SegStudioError):
    pass


@dataclass
class Checkpoint:
    arch: str
    labels: LabelSet
    state_dict: dict[str, torch.Tensor]
    arch_options: dict[str, Any] = field(default_factory=dict)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def num_classes(self) -> int:
        return self.labels.num_classes

    def build(self) -> torch.nn.Module:
        """The model with these weights, in eval mode, on CPU, float32."""
        from segstudio.models.registry import build_model

        model = build_model(self.arch, self.num_classes, **self.arch_options)
        state = {k: (v.float() if v.is_floating_point() else v) for k, v in self.state_dict.items()}
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            where = self.path or "checkpoint"
            raise CheckpointError(f"{where}: weights do not fit architecture {self.arch!r} with "
                                  f"{self.num_classes} classes: {_first_lines(str(exc))}") from None
        return model.eval()

    def to_dict(self, half: bool = False) -> dict:
        state = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
                 for k, v in self.state_dict.items()}
        return {"format": FORMAT, "version": 1, "arch": self.arch, "arch_options": dict(self.arch_options),
                "labels": self.labels.to_dict(), "mean": list(self.mean), "std": list(self.std),
                "meta": dict(self.meta), "state_dict": state}


def _first_lines(text: str, n: int = 3) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " ".join(lines[:n]) + (" …" if len(lines) > n else "")


def save_checkpoint(ckpt: Checkpoint, path: str | os.PathLike, half: bool = False,
                    extra: dict[str, Any] | None = None) -> None:
    """Write atomically; ``half`` stores float weights as fp16 (half the size, cast back on load).
    ``extra`` adds top-level entries (tensors/primitives only), e.g. the trainer's resume state."""
    buf = io.BytesIO()
    torch.save({**ckpt.to_dict(half=half), **(extra or {})}, buf)
    atomic.write_bytes(path, buf.getvalue())


def safe_torch_load(path: Path) -> Any:
    """``torch.load(weights_only=True)`` with the failure modes turned into clear messages."""
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        if "Weights only load failed" in msg or "Unsupported global" in msg or "GLOBAL" in msg:
            raise CheckpointError(
                f"{path}: refused: the file contains pickled Python code/objects, not just weights "
                f"(loaded with weights_only=True, nothing was executed). {_first_lines(msg, 2)}") from None
        raise CheckpointError(f"{path}: not a readable checkpoint ({_first_lines(msg, 2)})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        msg = str(exc)
        if any(s in msg for s in ("central directory", "truncated", "unexpected EOF", "failed finding",
                                  "PytorchStreamReader", "Ran out of input")) or isinstance(exc, EOFError):
            raise CheckpointError(f"{path}: file is truncated or corrupt ({_first_lines(msg, 1)})") from None
        raise CheckpointError(f"{path}: cannot load checkpoint ({_first_lines(msg, 2)})") from None


def checkpoint_from_dict(data: Any, path: Path | None = None) -> Checkpoint:
    where = path or "checkpoint"
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{where}: not a SegStudio checkpoint (no 'format': '{FORMAT}' entry)")
    try:
        labels = LabelSet.from_dict(data["labels"], str(where))
        return Checkpoint(arch=str(data["arch"]), labels=labels, state_dict=dict(data["state_dict"]),
                          arch_options=dict(data.get("arch_options") or {}),
                          mean=tuple(float(v) for v in data.get("mean", IMAGENET_MEAN)),  # type: ignore[arg-type]
                          std=tuple(float(v) for v in data.get("std", IMAGENET_STD)),  # type: ignore[arg-type]
                          meta=dict(data.get("meta") or {}), path=path)
    except KeyError as exc:
        raise CheckpointError(f"{where}: checkpoint lacks the {exc.args[0]!r} entry") from None


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a SegStudio checkpoint (other formats: see ``segstudio.models.loading``)."""
    path = Path(path)
    return checkpoint_from_dict(safe_torch_load(path), path)
