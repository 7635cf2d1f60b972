"""Pretrained backbones from local files: torchvision ImageNet state dicts, never downloaded.

``--backbone-weights FILE`` names a torchvision classification state dict (VGG16,
ResNet-18/34/50/101, MobileNetV3-Large); ``--backbone-weights hub`` takes the file from the
torch hub cache (``$TORCH_HOME/hub/checkpoints``) when it already holds torchvision's file for
the architecture's backbone — nothing is ever fetched. The weights are matched to the model
by key and shape (``conv1.weight`` → ``backbone.conv1.weight``, VGG ``features.N`` →
``features.N``, MobileNet ``features.N`` → ``backbone.N``; classifier/fc layers are left out)
and refused with a message when too few fit.

``start_checkpoint`` writes ``OUT.init.pt``: the freshly built model with the pretrained
backbone, as a SegStudio checkpoint. Training starts from it (``--from``), and the source is
recorded in ``arch_options["backbone_init"]`` (file name, SHA-256, tensors loaded), an inert
option that ``registry.build_model`` ignores — so every checkpoint trained from it says what
its backbone started from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from segstudio.core.errors import SegStudioError

# torchvision's file names of the ImageNet weights (as in the weights enums' URLs)
HUB_FILES = {
    "vgg16": ("vgg16-397923af.pth",),
    "resnet18": ("resnet18-f37072fd.pth",),
    "resnet34": ("resnet34-b627a593.pth",),
    "resnet50": ("resnet50-11ad3fa6.pth", "resnet50-0676ba61.pth"),
    "resnet101": ("resnet101-cd907fc2.pth", "resnet101-63fe2227.pth"),
    "mobilenetv3": ("mobilenet_v3_large-5c1a4163.pth", "mobilenet_v3_large-8738ca79.pth"),
}
VGG_ARCHS = ("deeplabv1", "dilated", "fcn32s", "fcn16s", "fcn8s")
MIN_FRACTION = 0.9   # of the source's non-classifier tensors that must fit


class BackboneWeightsError(SegStudioError):
    pass


def backbone_kind(arch: str, options: dict[str, Any]) -> str:
    """Which torchvision classifier's weights fit ``arch`` with ``options``."""
    from segstudio.models.registry import spec

    if arch in VGG_ARCHS:
        return "vgg16"
    if arch == "lraspp":
        return "mobilenetv3"
    name = {**spec(arch).defaults, **options}.get("backbone")
    if not name:
        raise BackboneWeightsError(f"architecture {arch!r} has no pretrained backbone to load "
                                   f"(VGG16, ResNet or MobileNetV3 architectures only)")
    key = str(name).lower().replace("-", "").replace("_", "")
    return "mobilenetv3" if key.startswith("mobilenetv3") else key


def hub_file(kind: str) -> Path:
    """torchvision's file for ``kind`` in the torch hub cache; an error when it is not there."""
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    for name in HUB_FILES.get(kind, ()):
        if (folder / name).is_file():
            return folder / name
    raise BackboneWeightsError(f"{folder}: the torch hub cache holds no {kind} ImageNet weights "
                               f"({' or '.join(HUB_FILES.get(kind, ('?',)))}); nothing is downloaded: "
                               f"put the file there or pass --backbone-weights FILE")


def _source_state(path: Path) -> dict[str, torch.Tensor]:
    from segstudio.models.checkpoint import safe_torch_load

    data = safe_torch_load(path)
    for key in ("state_dict", "model"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise BackboneWeightsError(f"{path}: not a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in data.items()}


def _candidates(key: str) -> list[str]:
    return [key, "backbone." + key, "backbone." + key.removeprefix("features."), "backbone.body." + key]


def load_backbone(model: torch.nn.Module, path: str | os.PathLike) -> dict[str, Any]:
    """Copy the tensors of the state dict at ``path`` that fit ``model``'s backbone; returns a record."""
    from segstudio.models.onnx_engine import file_sha256

    path = Path(path)
    source = {k: v for k, v in _source_state(path).items()
              if not k.startswith(("fc.", "classifier.", "num_batches_tracked"))}
    target = model.state_dict()
    matched: dict[str, torch.Tensor] = {}
    for key, tensor in source.items():
        for cand in _candidates(key):
            if cand in target and tuple(target[cand].shape) == tuple(tensor.shape):
                matched[cand] = tensor
                break
    weights = [k for k in source if not k.endswith("num_batches_tracked")]
    fitted = [k for k in matched if not k.endswith("num_batches_tracked")]
    if not weights or len(fitted) < MIN_FRACTION * len(weights):
        raise BackboneWeightsError(f"{path}: only {len(fitted)} of its {len(weights)} tensors fit the backbone of "
                                   f"this model: not the right backbone (or different options)")
    target.update({k: v.to(target[k].dtype) for k, v in matched.items()})
    model.load_state_dict(target)
    return {"file": path.name, "sha256": file_sha256(path), "tensors": len(fitted)}


def start_checkpoint(arch: str, options: dict[str, Any], labels, spec: str | os.PathLike, out: Path,
                     seed: int = 0) -> Path:
    """Write ``OUT.init.pt`` (the model with the pretrained backbone) and return its path."""
    from segstudio.models.checkpoint import IMAGENET_MEAN, IMAGENET_STD, Checkpoint, save_checkpoint
    from segstudio.models.registry import build_model

    if not arch:
        raise BackboneWeightsError("--backbone-weights needs --arch (which network the backbone goes into)")
    options = {k: v for k, v in options.items() if k != "backbone_init"}
    kind = backbone_kind(arch, options)
    path = hub_file(kind) if str(spec) == "hub" else Path(spec)
    torch.manual_seed(seed)
    model = build_model(arch, labels.num_classes, **options)
    record = load_backbone(model, path)
    init = Path(out).with_suffix(".init.pt")
    init.parent.mkdir(parents=True, exist_ok=True)
    ckpt = Checkpoint(arch, labels, {k: v.detach() for k, v in model.state_dict().items()},
                      {**options, "backbone_init": record}, IMAGENET_MEAN, IMAGENET_STD,
                      {"backbone_weights": {**record, "path": str(path)}})
    save_checkpoint(ckpt, init)
    return init
