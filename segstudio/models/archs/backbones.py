"""Feature extractors shared by the segmentation heads: dilated ResNet-50/101, MobileNetV3-Large,
multi-stage ResNet-18/34/50/101 (RefineNet, GCN) and the VGG16 trunk (DeepLab-v1, dilated net).

Built from torchvision with ``weights=None`` (random init, offline). Backbones are wrapped in
:class:`FeatureTaps`, which keeps torchvision's module names (``backbone.layer4…``,
``backbone.16…``) so state dicts stay interchangeable with torchvision's segmentation models.
``output_stride`` (8 or 16) replaces the last strides by dilation, as in DeepLab.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

BACKBONES = ("resnet50", "resnet101", "mobilenetv3")


class FeatureTaps(nn.ModuleDict):
    """Runs the children in order and returns ``{name: output}`` of the tapped children.

    Children after the last tap are dropped (e.g. ResNet's avgpool/fc), so the state dict
    holds exactly the weights that are used.
    """

    def __init__(self, model: nn.Module, taps: dict[str, str]) -> None:
        wanted = dict(taps)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        remaining = set(wanted)
        for name, module in model.named_children():
            layers[name] = module
            remaining.discard(name)
            if not remaining:
                break
        if remaining:
            raise ValueError(f"backbone has no layer(s) {sorted(remaining)}")
        super().__init__(layers)
        self.taps = wanted

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for name, module in self.items():
            x = module(x)
            if name in self.taps:
                out[self.taps[name]] = x
        return out


@dataclass
class Backbone:
    body: FeatureTaps          # returns {"out": deep features[, "low": stride-4 features]}
    out_channels: int
    low_channels: int          # 0 when no low-level tap was asked for


def _check_stride(output_stride: int) -> None:
    if output_stride not in (8, 16):
        raise ValueError(f"output_stride must be 8 or 16, got {output_stride}")


def resnet_backbone(depth: int, output_stride: int = 16, low_level: bool = False) -> Backbone:
    from torchvision.models import resnet50, resnet101

    _check_stride(output_stride)
    builder = {50: resnet50, 101: resnet101}[depth]
    net = builder(weights=None, replace_stride_with_dilation=[False, output_stride == 8, True])
    taps = {"layer1": "low", "layer4": "out"} if low_level else {"layer4": "out"}
    return Backbone(FeatureTaps(net, taps), 2048, 256 if low_level else 0)


def _dilate(features: nn.Sequential, output_stride: int) -> list[int]:
    """Turn the stride-2 convs past ``output_stride`` into dilated stride-1 convs, in place.

    Returns the cumulative stride after each child (for choosing feature taps).
    """
    stride, dilation = 1, 1
    after: list[int] = []
    for child in features:
        for conv in (m for m in child.modules() if isinstance(m, nn.Conv2d)):
            if conv.stride == (2, 2):
                if stride * 2 > output_stride:
                    conv.stride = (1, 1)
                    dilation *= 2
                else:
                    stride *= 2
            k = conv.kernel_size[0]
            if k > 1 and dilation > 1:
                conv.dilation = (dilation, dilation)
                conv.padding = ((k - 1) // 2 * dilation,) * 2
        after.append(stride)
    return after


def mobilenet_backbone(output_stride: int = 16, low_level: bool = False, width_mult: float = 1.0) -> Backbone:
    from torchvision.models import mobilenet_v3_large

    _check_stride(output_stride)
    features = mobilenet_v3_large(weights=None, width_mult=width_mult).features
    strides = _dilate(features, output_stride)
    last = len(features) - 1
    low = max(i for i, s in enumerate(strides) if s == 4)
    taps = {str(last): "out"}
    if low_level:
        taps = {str(low): "low", str(last): "out"}
    return Backbone(FeatureTaps(features, taps), features[last].out_channels,
                    features[low].out_channels if low_level else 0)


def build_backbone(name: str, output_stride: int = 16, low_level: bool = False,
                   backbone_width: float = 1.0) -> Backbone:
    name = name.lower().replace("_", "").replace("-", "")
    if name.startswith("resnet") and backbone_width != 1.0:
        raise ValueError("backbone_width applies to the mobilenetv3 backbone only")
    if name == "resnet50":
        return resnet_backbone(50, output_stride, low_level)
    if name == "resnet101":
        return resnet_backbone(101, output_stride, low_level)
    if name in ("mobilenetv3", "mobilenetv3large"):
        return mobilenet_backbone(output_stride, low_level, backbone_width)
    raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")


RESNET_DEPTHS = (18, 34, 50, 101)


def resnet_stages(depth: int = 50) -> Backbone:
    """A stride-32 ResNet returning ``{"c1": 1/4, "c2": 1/8, "c3": 1/16, "c4": 1/32}`` features.

    ``out_channels`` is the deepest stage's; :func:`stage_channels` gives all four.
    """
    from torchvision import models

    if depth not in RESNET_DEPTHS:
        raise ValueError(f"resnet depth must be one of {RESNET_DEPTHS}, got {depth}")
    net = getattr(models, f"resnet{depth}")(weights=None)
    body = FeatureTaps(net, {"layer1": "c1", "layer2": "c2", "layer3": "c3", "layer4": "c4"})
    return Backbone(body, stage_channels(depth)[-1], 0)


def resnet_depth(name: str) -> int:
    """``"resnet50"`` -> 50 (for the multi-stage backbones)."""
    key = str(name).lower().replace("-", "").replace("_", "")
    if key.startswith("resnet") and key[6:].isdigit() and int(key[6:]) in RESNET_DEPTHS:
        return int(key[6:])
    raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(f'resnet{d}' for d in RESNET_DEPTHS)}")


def stage_channels(depth: int) -> tuple[int, int, int, int]:
    base = (64, 128, 256, 512)
    return base if depth < 50 else tuple(4 * c for c in base)  # type: ignore[return-value]


VGG16_CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)   # torchvision ``vgg16().features`` indices
VGG16_POOLS = (4, 9, 16, 23, 30)
VGG16_WIDTHS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)


def vgg16_trunk(width_mult: float = 1.0, pools: dict[int, nn.Module | None] | None = None,
                conv5_dilation: int = 1) -> nn.Sequential:
    """VGG16's 13 convs + ReLUs at torchvision's ``features`` indices (so ImageNet VGG16 weights fit).

    ``pools`` maps a pool index (4, 9, 16, 23, 30) to the module used there (``None`` removes that
    pool: an ``nn.Identity`` keeps the indices); unlisted pools are 2×2 max pools of stride 2.
    ``conv5_dilation`` dilates the three conv5 layers (padding = dilation keeps the size).
    """
    pools = pools or {}
    layers: list[nn.Module] = []
    cin, conv = 3, 0
    for idx in range(31):
        if idx in VGG16_POOLS:
            pool = pools.get(idx, nn.MaxPool2d(2, 2, ceil_mode=True))
            layers.append(nn.Identity() if pool is None else pool)
        elif idx in VGG16_CONVS:
            cout = max(4, int(round(VGG16_WIDTHS[conv] * width_mult)))
            d = conv5_dilation if conv >= 10 else 1
            layer = nn.Conv2d(cin, cout, 3, padding=d, dilation=d)
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")  # torchvision VGG's init
            nn.init.zeros_(layer.bias)
            layers.append(layer)
            cin, conv = cout, conv + 1
        else:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def conv_bn_relu(cin: int, cout: int, k: int = 3, dilation: int = 1) -> nn.Sequential:
    pad = (k - 1) // 2 * dilation
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=pad, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
