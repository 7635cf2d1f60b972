"""Feature extractors shared by the segmentation heads: dilated ResNet-50/101 and MobileNetV3-Large.

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


def conv_bn_relu(cin: int, cout: int, k: int = 3, dilation: int = 1) -> nn.Sequential:
    pad = (k - 1) // 2 * dilation
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=pad, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
