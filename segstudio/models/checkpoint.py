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
import re
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


_ZIP_MAGIC = b"PK\x03\x04"
# a legacy (pre-1.6) torch.save file starts with the pickled magic number 0x1950a86a20f9469cfc6c
_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def _sniff(path: Path) -> str | None:
    """Why ``path`` is not a PyTorch file at all, from its first bytes (None: it may be one)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    if size == 0:
        return "empty file (0 bytes), not a checkpoint"
    if head.startswith(_ZIP_MAGIC):
        if not zipfile.is_zipfile(path):
            return ("file is truncated: a zip archive without its end (central directory); "
                    "the copy or the save did not finish")
        with zipfile.ZipFile(path) as zf:
            if not any(n.endswith("data.pkl") for n in zf.namelist()):
                return "a zip archive, but not a PyTorch checkpoint (no data.pkl inside)"
        return None
    if head.startswith(_LEGACY_MAGIC):
        return None
    if head.startswith(b"\x80") or head[:1] in (b"(", b"}", b"]"):
        return ("a plain Python pickle, not a PyTorch checkpoint; pickles can carry code, so it is refused "
                "(nothing in it was run)")
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file (e.g. Keras weights), not a PyTorch checkpoint"
    if len(head) >= 10 and head[8:10] == b'{"':
        return "a safetensors file, not a PyTorch checkpoint (not supported)"
    return "not a checkpoint: neither a PyTorch zip archive nor a legacy PyTorch file"


def _clean(msg: str) -> str:
    """torch's message without its advice to load with ``weights_only=False`` (never passed on)."""
    keep = [ln.strip() for ln in msg.splitlines()
            if ln.strip() and "weights_only" not in ln and "torch.load" not in ln and "file an issue" not in ln]
    return _first_lines("\n".join(keep), 2)


def safe_torch_load(path: Path) -> Any:
    """``torch.load(weights_only=True)`` with the failure modes turned into clear messages:
    not a checkpoint / truncated / contains Python code. torch's advice to retry with
    ``weights_only=False`` is never repeated: that would run whatever code the file holds."""
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint file not found")
    problem = _sniff(path)
    if problem:
        raise CheckpointError(f"{path}: {problem}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        found = _GLOBAL.search(msg)
        if found:
            raise CheckpointError(
                f"{path}: refused: it contains pickled Python code (a reference to {found.group(1)}), not just "
                f"weights; nothing in it was run (only weights are loaded, weights_only=True)") from None
        raise CheckpointError(f"{path}: refused: holds Python objects other than weights and tensors "
                              f"({_clean(msg) or 'unsupported pickle content'}); nothing in it was run") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        msg = str(exc)
        if any(s in msg for s in ("central directory", "truncated", "unexpected EOF", "failed finding",
                                  "Ran out of input")) or isinstance(exc, EOFError):
            raise CheckpointError(f"{path}: file is truncated ({_clean(msg) or 'ends early'})") from None
        if "PytorchStreamReader" in msg or isinstance(exc, zipfile.BadZipFile):
            raise CheckpointError(f"{path}: file is corrupt ({_clean(msg)})") from None
        raise CheckpointError(f"{path}: cannot load checkpoint ({_clean(msg)})") from None


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
