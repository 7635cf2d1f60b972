"""Architecture registry: ``build_model(arch, num_classes, **options) -> nn.Module``.

Every model returns logits ``N×C×H×W`` at the input's size, for any input size, and builds
offline with random initialisation (torchvision builders get ``weights=None``).
Builders are referenced as ``"module:function"`` strings and imported on first use, so
listing architectures costs nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from segstudio.core.errors import SegStudioError


class UnknownArchitecture(SegStudioError):
    pass


@dataclass(frozen=True)
class ArchSpec:
    name: str
    builder: str                 # "segstudio.models.archs.unet:build_unet"
    summary: str
    defaults: dict[str, Any] = field(default_factory=dict)

    def load_builder(self) -> Callable[..., Any]:
        module, func = self.builder.split(":")
        return getattr(importlib.import_module(module), func)


_ARCHS: dict[str, ArchSpec] = {}


def register(spec: ArchSpec) -> None:
    _ARCHS[spec.name] = spec


def available() -> list[ArchSpec]:
    return list(_ARCHS.values())


def spec(arch: str) -> ArchSpec:
    try:
        return _ARCHS[arch.lower()]
    except KeyError:
        raise UnknownArchitecture(
            f"unknown architecture {arch!r}; choose one of {', '.join(sorted(_ARCHS))}") from None


def build_model(arch: str, num_classes: int, **options: Any):
    """Build ``arch`` for ``num_classes`` outputs; ``options`` override the spec's defaults."""
    s = spec(arch)
    options = {k: v for k, v in options.items() if k != "backbone_init"}  # provenance only (models.pretrained)
    kwargs = {**s.defaults, **options}
    try:
        return s.load_builder()(num_classes, **kwargs)
    except TypeError as exc:
        raise UnknownArchitecture(f"{arch}: bad options {sorted(options)} ({exc})") from None


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


_A = "segstudio.models.archs."
for _spec in (
    ArchSpec("unet", _A + "unet:build_unet", "U-Net, configurable width/depth (stem_stride=2: light variant)",
             {"width": 32, "depth": 4}),
    ArchSpec("unet-light", _A + "unet:build_unet", "U-Net width 16 with a stride-2 stem: fast on CPU (default model)",
             {"width": 16, "depth": 4, "stem_stride": 2}),
    ArchSpec("fcn32s", _A + "fcn:build_fcn32s", "FCN-32s, VGG16 backbone"),
    ArchSpec("fcn16s", _A + "fcn:build_fcn16s", "FCN-16s, VGG16 backbone + pool4 skip"),
    ArchSpec("fcn8s", _A + "fcn:build_fcn8s", "FCN-8s, VGG16 backbone + pool4/pool3 skips"),
    ArchSpec("fcn_resnet50", _A + "fcn:build_fcn_resnet50", "torchvision FCN ResNet-50"),
    ArchSpec("fcn_resnet101", _A + "fcn:build_fcn_resnet101", "torchvision FCN ResNet-101"),
    ArchSpec("segnet", _A + "segnet:build_segnet", "SegNet, VGG16 encoder, max-unpooling decoder"),
    ArchSpec("deeplabv3", _A + "deeplab:build_deeplabv3", "DeepLabV3, atrous backbone + ASPP",
             {"backbone": "resnet50"}),
    ArchSpec("deeplabv3plus", _A + "deeplab:build_deeplabv3plus", "DeepLabV3+, ASPP + 1/4 low-level decoder",
             {"backbone": "resnet50"}),
    ArchSpec("pspnet", _A + "pspnet:build_pspnet", "PSPNet, pyramid pooling (1,2,3,6) on dilated ResNet",
             {"backbone": "resnet50"}),
    ArchSpec("lraspp", _A + "lraspp:build_lraspp", "torchvision LR-ASPP MobileNetV3-Large"),
    ArchSpec("deeplabv1", _A + "deeplabv1:build_deeplabv1",
             "DeepLab-v1 LargeFOV, VGG16, atrous conv5 (rate 2) and fc6 (rate 12), output stride 8"),
    ArchSpec("deeplabv2", _A + "deeplabv2:build_deeplabv2",
             "DeepLab-v2, atrous ResNet + ASPP-L (rates 6/12/18/24, summed), output stride 8",
             {"backbone": "resnet101"}),
    ArchSpec("dilated", _A + "dilated:build_dilated",
             "Yu & Koltun dilated VGG16 front-end + identity-initialised context module"),
    ArchSpec("refinenet", _A + "refinenet:build_refinenet",
             "multi-path RefineNet: RCU, multi-resolution fusion, chained residual pooling, 4 cascaded stages",
             {"backbone": "resnet50"}),
    ArchSpec("gcn", _A + "gcn:build_gcn", "Large Kernel Matters: global conv (k=15) + boundary refinement on ResNet",
             {"backbone": "resnet50", "k": 15}),
    ArchSpec("unetpp", _A + "unetpp:build_unetpp", "U-Net++, nested dense skips (deep_supervision, prune)",
             {"width": 32, "depth": 4}),
    ArchSpec("unetpp-light", _A + "unetpp:build_unetpp", "U-Net++ width 16 with a stride-2 stem: fast on CPU",
             {"width": 16, "depth": 4, "stem_stride": 2}),
    ArchSpec("unet3p", _A + "unet3p:build_unet3p",
             "U-Net 3+, full-scale skips (deep_supervision, cgm: classification-guided)", {"width": 32}),
):
    register(_spec)
