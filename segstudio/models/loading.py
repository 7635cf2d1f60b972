"""Open any accepted model file: SegStudio checkpoint, bare state dict, TorchScript or ONNX.

``load_model_file(path, arch=None, num_classes=None, labels=None)`` returns a
:class:`LoadedModel` describing what was found (kind, architecture, labels, normalisation)
and how to run it. Rules:

* every ``torch.load`` uses ``weights_only=True``: a file that smuggles pickled code is refused
  and nothing in it runs;
* a SegStudio checkpoint describes itself; ``labels`` may rename its classes (same count);
* a bare ``state_dict`` (torchvision's or ours, optionally nested under ``state_dict``/``model``,
  ``module.`` prefixes stripped, torchvision's ``aux_classifier`` dropped) gets its architecture
  and class count from the caller or, failing that, from its keys and tensor shapes (each
  candidate configuration is built on the meta device and compared); ImageNet mean/std;
* TorchScript is a program, not weights: it is loaded only when the file is named ``*.ts`` /
  ``*.torchscript`` or the caller passes ``allow_torchscript=True`` (CLI: the file given as
  ``--model``); a TorchScript file disguised as ``.pt`` is refused;
* ``*.onnx`` files open with onnxruntime (see ``segstudio.models.onnx_engine``).
"""

from __future__ import annotations

import os
import warnings
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import torch

from segstudio.core.labels import LabelClass, LabelSet, voc_color
from segstudio.models.checkpoint import (FORMAT, IMAGENET_MEAN, IMAGENET_STD, Checkpoint, CheckpointError,
                                         checkpoint_from_dict, safe_torch_load)

TORCHSCRIPT_SUFFIXES = (".ts", ".torchscript", ".jit")
_NESTED_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")


@dataclass
class LoadedModel:
    kind: str                                  # "checkpoint" | "state_dict" | "torchscript" | "onnx"
    labels: LabelSet
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    arch: str | None = None
    arch_options: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    checkpoint: Checkpoint | None = None       # checkpoint / state_dict kinds
    module: torch.nn.Module | None = None      # torchscript kind (built lazily for the others)
    onnx: Any = None                           # onnx_engine.OnnxModel for the onnx kind
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return self.labels.num_classes

    def build_module(self) -> torch.nn.Module:
        """The torch module in eval mode on CPU (not available for ONNX files)."""
        if self.module is None:
            if self.checkpoint is None:
                raise CheckpointError(f"{self.path}: an ONNX model has no torch module; use the onnxruntime engine")
            self.module = self.checkpoint.build()
        return self.module


def generic_labels(n: int, name: str = "model") -> LabelSet:
    """``class_0 … class_{n-1}`` with VOC colours, void 255 (or none past 255 classes)."""
    classes = tuple(LabelClass(i, f"class_{i}", voc_color(i)) for i in range(n))
    return LabelSet(classes, 255 if n <= 255 else None, name=name)


def _check_labels(labels: LabelSet, n: int, where: Any, what: str) -> None:
    if labels.num_classes != n:
        raise CheckpointError(
            f"{where}: class-count mismatch: {what} has {n} output classes but label set "
            f"{labels.name!r} defines {labels.num_classes}")


def is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.endswith("/constants.pkl") or "/code/" in n for n in names)


def load_model_file(path: str | os.PathLike, arch: str | None = None, num_classes: int | None = None,
                    labels: LabelSet | None = None, allow_torchscript: bool = False) -> LoadedModel:
    """Open ``path`` (see module docstring). Raises :class:`CheckpointError` naming the file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: model file not found")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a model file")
    if labels is not None and num_classes is not None and labels.num_classes != num_classes:
        raise CheckpointError(f"{path}: --num-classes {num_classes} contradicts label set {labels.name!r} "
                              f"({labels.num_classes} classes)")
    if path.suffix.lower() == ".onnx":
        from segstudio.models.onnx_engine import load_onnx_model

        return load_onnx_model(path, labels=labels, num_classes=num_classes)
    if is_torchscript(path):
        if not (allow_torchscript or path.suffix.lower() in TORCHSCRIPT_SUFFIXES):
            raise CheckpointError(
                f"{path}: refused: this is a TorchScript archive, i.e. a program rather than weights. "
                f"Run it only if you trust its source: name it *.ts or pass it explicitly as a TorchScript model")
        return _load_torchscript(path, num_classes, labels)
    data = safe_torch_load(path)
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return from_checkpoint(checkpoint_from_dict(data, path), arch, labels, num_classes)
    state = extract_state_dict(data, path)
    return from_state_dict(state, arch=arch, num_classes=num_classes, labels=labels, path=path)


def from_checkpoint(ckpt: Checkpoint, arch: str | None, labels: LabelSet | None,
                     num_classes: int | None) -> LoadedModel:
    where = ckpt.path or "checkpoint"
    if arch is not None and arch.lower() != ckpt.arch.lower():
        raise CheckpointError(f"{where}: wrong architecture: the checkpoint holds {ckpt.arch!r}, "
                              f"not the requested {arch!r}")
    if num_classes is not None and num_classes != ckpt.num_classes:
        raise CheckpointError(f"{where}: class-count mismatch: the checkpoint has {ckpt.num_classes} classes "
                              f"({ckpt.labels.name!r}), not the requested {num_classes}")
    head = _head_classes(ckpt.arch, ckpt.state_dict)
    if head is not None and head != ckpt.num_classes:
        raise CheckpointError(f"{where}: class-count mismatch: its weights output {head} classes but its "
                              f"label set {ckpt.labels.name!r} defines {ckpt.num_classes}")
    problems = fits(ckpt.arch, ckpt.arch_options, ckpt.num_classes, ckpt.state_dict)
    if problems:
        looks = [a for a, o in _candidates(ckpt.state_dict)
                 if not fits(a, o, _head_classes(a, ckpt.state_dict) or ckpt.num_classes, ckpt.state_dict)]
        hint = f"; the weights look like {looks[0]!r}" if looks and looks[0] != ckpt.arch else ""
        raise CheckpointError(f"{where}: wrong architecture: the weights do not fit {ckpt.arch!r} "
                              f"{ckpt.arch_options or ''}{hint} ({'; '.join(problems)})")
    if labels is not None:
        _check_labels(labels, ckpt.num_classes, where, f"the checkpoint ({ckpt.labels.name!r})")
        ckpt = replace(ckpt, labels=labels)  # the caller's Checkpoint stays as it was
    return LoadedModel("checkpoint", ckpt.labels, tuple(ckpt.mean), tuple(ckpt.std), ckpt.arch,  # type: ignore[arg-type]
                       dict(ckpt.arch_options), ckpt.path, checkpoint=ckpt, meta=dict(ckpt.meta))


# --- bare state dicts ---------------------------------------------------------------------------

def extract_state_dict(data: Any, where: Any = "file") -> dict[str, torch.Tensor]:
    """The ``name -> tensor`` mapping inside ``data`` (plain, nested, DataParallel-prefixed)."""
    if isinstance(data, dict):
        for key in _NESTED_KEYS:
            inner = data.get(key)
            if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                data = inner
                break
    if not isinstance(data, dict) or not data or not all(isinstance(v, torch.Tensor) for v in data.values()):
        kind = type(data).__name__
        raise CheckpointError(f"{where}: not a model checkpoint: expected a SegStudio checkpoint or a state dict "
                              f"(names -> tensors), found a {kind}")
    state = {str(k): v for k, v in data.items()}
    for prefix in ("module.", "model.", "_orig_mod."):
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return {k: v for k, v in state.items() if not k.startswith("aux_classifier.")}


def _head_key(arch: str) -> str | None:
    a = arch.lower()
    if a.startswith("unet"):
        return "head.weight"
    if a in ("fcn32s", "fcn16s", "fcn8s"):
        return "score_fr.weight"
    if a in ("fcn_resnet50", "fcn_resnet101", "deeplabv3"):
        return "classifier.4.weight"
    if a in ("segnet", "deeplabv3plus", "pspnet"):
        return "classifier.weight"
    if a == "lraspp":
        return "classifier.low_classifier.weight"
    return None


def _head_classes(arch: str, state: dict[str, torch.Tensor]) -> int | None:
    key = _head_key(arch)
    t = state.get(key) if key else None
    return int(t.shape[0]) if t is not None and t.dim() >= 1 else None


def _backbone_candidates(state: dict[str, torch.Tensor]) -> list[dict[str, Any]]:
    if "backbone.layer3.22.conv1.weight" in state:
        return [{"backbone": "resnet101"}]
    if "backbone.layer1.0.conv1.weight" in state:
        return [{"backbone": "resnet50"}]
    if "backbone.0.0.weight" in state:
        return [{"backbone": "mobilenetv3", "backbone_width": w} for w in _MOBILE_WIDTHS]
    return []


_MOBILE_WIDTHS = (1.0, 0.75, 0.5, 0.35, 0.25, 1.25, 1.5, 2.0)


def _candidates(state: dict[str, torch.Tensor]) -> list[tuple[str, dict[str, Any]]]:
    """Architectures (with options) whose layout the keys suggest, most likely first."""
    s = state
    if "head.weight" in s and any(k.startswith("down.") for k in s):
        return [_unet_options(s)]
    if "score_fr.weight" in s:
        arch = "fcn8s" if "score_pool3.weight" in s else "fcn16s" if "score_pool4.weight" in s else "fcn32s"
        return [(arch, {} if s["features.0.weight"].shape[0] == 64
                 else {"width_mult": s["features.0.weight"].shape[0] / 64})]
    if "enc.0.0.weight" in s and "dec.0.0.weight" in s:
        c = s["enc.0.0.weight"].shape[0]
        return [("segnet", {} if c == 64 else {"width_mult": c / 64})]
    if "classifier.low_classifier.weight" in s:
        inter = int(s["classifier.cbr.0.weight"].shape[0])
        extra = {} if inter == 128 else {"inter_channels": inter}
        return [("lraspp", {**({} if w == 1.0 else {"width_mult": w}), **extra}) for w in _MOBILE_WIDTHS]
    backbones = _backbone_candidates(s)
    if "ppm.stages.0.0.weight" in s:
        ch = int(s["bottleneck.0.0.weight"].shape[0])
        return [("pspnet", _clean({**b, "channels": ch}, {"channels": 512})) for b in backbones]
    if "aspp.convs.0.0.weight" in s and "decoder.0.0.weight" in s:
        opts = {"aspp_channels": int(s["aspp.convs.0.0.weight"].shape[0]),
                "low_channels": int(s["low_proj.0.weight"].shape[0]),
                "decoder_channels": int(s["decoder.0.0.weight"].shape[0])}
        dflt = {"aspp_channels": 256, "low_channels": 48, "decoder_channels": 256}
        return [("deeplabv3plus", _clean({**b, **opts}, dflt)) for b in backbones]
    if "classifier.0.convs.0.0.weight" in s:
        # torchvision's deeplabv3_* layout: reproduce its rates (12, 24, 36) and strides
        aspp = int(s["classifier.0.convs.0.0.weight"].shape[0])
        out = []
        for b in backbones:
            os_ = 16 if b["backbone"] == "mobilenetv3" else 8
            out.append(("deeplabv3", _clean({**b, "output_stride": os_, "atrous_rates": [12, 24, 36],
                                             "aspp_channels": aspp}, {"aspp_channels": 256})))
        return out
    if "classifier.4.weight" in s and "backbone.layer4.0.conv1.weight" in s:
        return [("fcn_resnet101" if "backbone.layer3.22.conv1.weight" in s else "fcn_resnet50", {})]
    return []


def _clean(opts: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in opts.items()
            if defaults.get(k, object()) != v and not (k == "backbone_width" and v == 1.0)}


def _unet_options(s: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    depth = len({k.split(".")[1] for k in s if k.startswith("down.")})
    light = "stem.0.weight" in s
    first = s["stem.0.weight"] if light else s["stem.0.0.weight"]
    width, cin = int(first.shape[0]), int(first.shape[1])
    deepest = int(s[f"down.{depth - 1}.1.0.weight"].shape[0])
    opts: dict[str, Any] = {"width": width, "depth": depth}
    if deepest < width * 2 ** depth:
        opts["max_width"] = deepest
    if cin != 3:
        opts["in_channels"] = cin
    if light:
        opts["stem_stride"] = 2  # 2 and 4 have the same weights; 2 is the registry's light variant
        if opts == {"width": 16, "depth": 4, "stem_stride": 2}:
            return "unet-light", {}
    return "unet", opts


def fits(arch: str, options: dict[str, Any], num_classes: int, state: dict[str, torch.Tensor]) -> list[str]:
    """Differences between ``state`` and ``arch(options)`` built on the meta device ([] = fits)."""
    from segstudio.models.registry import build_model

    try:
        with torch.device("meta"):
            ref = build_model(arch, num_classes, **options).state_dict()
    except Exception as exc:  # noqa: BLE001 - any build failure means "does not fit"
        return [f"cannot build {arch} with {options}: {exc}"]
    problems = []
    skip = "num_batches_tracked"
    missing = [k for k in ref if k not in state and not k.endswith(skip)]
    extra = [k for k in state if k not in ref and not k.endswith(skip)]
    shapes = [k for k in ref if k in state and tuple(ref[k].shape) != tuple(state[k].shape)]
    if missing:
        problems.append(f"{len(missing)} missing tensors (e.g. {', '.join(missing[:3])})")
    if extra:
        problems.append(f"{len(extra)} unexpected tensors (e.g. {', '.join(extra[:3])})")
    if shapes:
        k = shapes[0]
        problems.append(f"{len(shapes)} shape mismatches (e.g. {k}: file {tuple(state[k].shape)}, "
                        f"model {tuple(ref[k].shape)})")
    return problems


def infer_architecture(state: dict[str, torch.Tensor], where: Any = "state dict") -> tuple[str, dict[str, Any], int]:
    """(arch, options, num_classes) for a bare state dict, or a CheckpointError saying why not."""
    for arch, opts in _candidates(state):
        n = _head_classes(arch, state)
        if n is not None and not fits(arch, opts, n, state):
            return arch, opts, n
    sample = ", ".join(list(state)[:4])
    raise CheckpointError(f"{where}: cannot tell which architecture these weights belong to (keys like {sample}); "
                          f"pass the architecture and class count explicitly (--arch, --num-classes)")


def from_state_dict(state: dict[str, torch.Tensor], arch: str | None = None, num_classes: int | None = None,
                    labels: LabelSet | None = None, path: Path | None = None,
                    options: dict[str, Any] | None = None) -> LoadedModel:
    where = path or "state dict"
    if arch is None:
        arch, opts, n = infer_architecture(state, where)
    else:
        from segstudio.models.registry import spec

        arch = spec(arch).name
        guessed = [(a, o) for a, o in _candidates(state) if a == arch]
        opts = guessed[0][1] if guessed else {}
        n = _head_classes(arch, state)
        if n is None:
            n = num_classes or (labels.num_classes if labels else None)
        if n is None:
            raise CheckpointError(f"{where}: cannot infer the class count for {arch!r}; pass --num-classes or labels")
        problems = fits(arch, {**opts, **(options or {})}, n, state)
        if problems:
            looks = [a for a, o in _candidates(state) if not fits(a, o, _head_classes(a, state) or n, state)]
            hint = f"; the weights look like {looks[0]!r}" if looks else ""
            raise CheckpointError(f"{where}: wrong architecture: the weights do not fit {arch!r}{hint} "
                                  f"({'; '.join(problems)})")
    opts = {**opts, **(options or {})}
    if num_classes is not None and num_classes != n:
        raise CheckpointError(f"{where}: class-count mismatch: the weights output {n} classes, not the "
                              f"requested {num_classes}")
    if labels is not None:
        _check_labels(labels, n, where, "the model")
    labels = labels or generic_labels(n, Path(str(where)).stem)
    state = dict(state)
    ckpt = Checkpoint(arch=arch, labels=labels, state_dict=state, arch_options=opts, path=path,
                      meta={"source": "state_dict"})
    _fill_batch_counters(ckpt)
    return LoadedModel("state_dict", labels, IMAGENET_MEAN, IMAGENET_STD, arch, opts, path, checkpoint=ckpt,
                       meta={"inferred": True})


def _fill_batch_counters(ckpt: Checkpoint) -> None:
    for k in [k for k in ckpt.state_dict if k.endswith(".running_mean")]:
        counter = k[: -len("running_mean")] + "num_batches_tracked"
        ckpt.state_dict.setdefault(counter, torch.tensor(0, dtype=torch.long))


# --- TorchScript --------------------------------------------------------------------------------

def _load_torchscript(path: Path, num_classes: int | None, labels: LabelSet | None) -> LoadedModel:
    import json

    extra = {"segstudio.json": ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still supported
            module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{path}: cannot load TorchScript model ({error_cause(exc)})") from None
    module.eval()
    info: dict[str, Any] = {}
    if extra["segstudio.json"]:
        try:
            info = json.loads(extra["segstudio.json"])
        except ValueError:
            info = {}
    if labels is None and "labels" in info:
        labels = LabelSet.from_dict(info["labels"], str(path))
    n = labels.num_classes if labels is not None else num_classes
    if n is None:
        n = _probe_classes(module, path)
    if labels is None:
        labels = generic_labels(n, path.stem)
    if num_classes is not None and num_classes != labels.num_classes:
        raise CheckpointError(f"{path}: class-count mismatch: {labels.num_classes} labels, {num_classes} requested")
    mean = tuple(info.get("mean", IMAGENET_MEAN))
    std = tuple(info.get("std", IMAGENET_STD))
    return LoadedModel("torchscript", labels, mean, std, info.get("arch"), dict(info.get("arch_options") or {}),  # type: ignore[arg-type]
                       path, module=module, meta={"torchscript": True})


def error_cause(exc: BaseException, limit: int = 300) -> str:
    """The cause of a model failure in one line. For the TorchScript interpreter, whose message
    starts with its own traceback ("The following operation failed in the TorchScript
    interpreter …"), that is the last lines (the real error), not the first."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    if "TorchScript interpreter" in lines[0] or lines[0].startswith("Traceback of TorchScript"):
        tail = []
        for ln in reversed(lines):
            if ln.startswith(("Traceback of TorchScript", "File \"", "~", "<")) or ln.endswith("<--- HERE"):
                break
            tail.insert(0, ln)
        text = " ".join(tail[-3:]) or lines[-1]
        return f"TorchScript: {text}"[:limit]
    return f"{type(exc).__name__}: {' '.join(lines[:2])}"[:limit]


def _probe_classes(module: Callable, path: Path) -> int:
    """Class count of an opaque model: run it once on a small grey image."""
    with torch.inference_mode():
        try:
            out = module(torch.zeros(1, 3, 64, 64))
        except Exception as exc:  # noqa: BLE001
            raise CheckpointError(f"{path}: the model fails on a 64×64 test image ({error_cause(exc)})") from None
    if isinstance(out, dict):
        out = out.get("out")
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        raise CheckpointError(f"{path}: the model must return N×C×H×W logits (got {type(out).__name__})")
    return int(out.shape[1])
