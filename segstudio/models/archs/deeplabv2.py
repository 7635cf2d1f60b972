"""DeepLab-v2 (Chen et al. 2017): atrous ResNet-101 (or -50) with ASPP-L, output stride 8.

ASPP-L is four parallel 3×3 atrous convolutions with rates 6, 12, 18 and 24 on the stride-8
features, each producing class scores directly (the ResNet variant of the paper), and the four
score maps are summed — no BatchNorm, no image pooling, no projection (that is DeepLabV3's
ASPP). The scores are upsampled bilinearly to the input size. ``backbone`` also accepts
``mobilenetv3`` (with ``backbone_width``), used by the tests to keep them small.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from segstudio.models.archs.backbones import build_backbone


class ASPPL(nn.Module):
    """Sum of parallel 3×3 atrous convolutions to class scores."""

    def __init__(self, cin: int, num_classes: int, rates: Sequence[int] = (6, 12, 18, 24)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(nn.Conv2d(cin, num_classes, 3, padding=r, dilation=r) for r in rates)
        for conv in self.branches:
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.branches[0](x)
        for branch in self.branches[1:]:
            y = y + branch(x)
        return y


class DeepLabV2(nn.Module):
    def __init__(self, num_classes: int, backbone: str = "resnet101", output_stride: int = 8,
                 atrous_rates: Sequence[int] = (6, 12, 18, 24), backbone_width: float = 1.0) -> None:
        super().__init__()
        bb = build_backbone(backbone, output_stride, low_level=False, backbone_width=backbone_width)
        self.backbone = bb.body
        self.classifier = ASPPL(bb.out_channels, num_classes, [int(r) for r in atrous_rates])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        y = self.classifier(self.backbone(x)["out"])
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


def build_deeplabv2(num_classes: int, **options) -> DeepLabV2:
    return DeepLabV2(num_classes, **options)
