"""DeepLabV3 and DeepLabV3+ (Chen et al. 2017, 2018): atrous backbone + ASPP (+ low-level decoder).

ASPP = a 1×1 conv, three 3×3 atrous convs (rates 6/12/18 at output stride 16, doubled at 8)
and image-level pooling, each with BatchNorm, concatenated and projected. DeepLabV3's head
keeps torchvision's module layout (``classifier.0.convs…``), so a bare torchvision
``deeplabv3_*`` state dict (without ``aux_classifier``) loads into ``deeplabv3``.
DeepLabV3+ upsamples the ASPP output to the 1/4-resolution low-level features, fuses them
(48-channel projection + two 3×3 convs) and upsamples the logits to the input size.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from segstudio.models.archs.backbones import build_backbone, conv_bn_relu


class ASPPPooling(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        for module in self:
            x = module(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    def __init__(self, cin: int, rates: Sequence[int], cout: int = 256, dropout: float = 0.5) -> None:
        super().__init__()
        branches: list[nn.Module] = [conv_bn_relu(cin, cout, 1)]
        branches += [conv_bn_relu(cin, cout, 3, dilation=r) for r in rates]
        branches.append(ASPPPooling(cin, cout))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(nn.Conv2d(len(branches) * cout, cout, 1, bias=False), nn.BatchNorm2d(cout),
                                     nn.ReLU(inplace=True), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.convs], dim=1))


def _rates(output_stride: int, atrous_rates: Sequence[int] | None) -> list[int]:
    if atrous_rates is not None:
        return [int(r) for r in atrous_rates]
    return [r * (16 // output_stride) for r in (6, 12, 18)]


class DeepLabV3(nn.Module):
    def __init__(self, num_classes: int, backbone: str = "resnet50", output_stride: int = 16,
                 aspp_channels: int = 256, atrous_rates: Sequence[int] | None = None,
                 backbone_width: float = 1.0) -> None:
        super().__init__()
        bb = build_backbone(backbone, output_stride, low_level=False, backbone_width=backbone_width)
        self.backbone = bb.body
        c = aspp_channels
        self.classifier = nn.Sequential(
            ASPP(bb.out_channels, _rates(output_stride, atrous_rates), c),
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
            nn.Conv2d(c, num_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        y = self.classifier(self.backbone(x)["out"])
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


class DeepLabV3Plus(nn.Module):
    def __init__(self, num_classes: int, backbone: str = "resnet50", output_stride: int = 16,
                 aspp_channels: int = 256, low_channels: int = 48, decoder_channels: int = 256,
                 atrous_rates: Sequence[int] | None = None, backbone_width: float = 1.0) -> None:
        super().__init__()
        bb = build_backbone(backbone, output_stride, low_level=True, backbone_width=backbone_width)
        self.backbone = bb.body
        self.aspp = ASPP(bb.out_channels, _rates(output_stride, atrous_rates), aspp_channels, dropout=0.1)
        self.low_proj = conv_bn_relu(bb.low_channels, low_channels, 1)
        self.decoder = nn.Sequential(conv_bn_relu(aspp_channels + low_channels, decoder_channels),
                                     conv_bn_relu(decoder_channels, decoder_channels))
        self.classifier = nn.Conv2d(decoder_channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        feats = self.backbone(x)
        low = self.low_proj(feats["low"])
        y = F.interpolate(self.aspp(feats["out"]), size=low.shape[-2:], mode="bilinear", align_corners=False)
        y = self.classifier(self.decoder(torch.cat([y, low], dim=1)))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


def build_deeplabv3(num_classes: int, **options) -> DeepLabV3:
    return DeepLabV3(num_classes, **options)


def build_deeplabv3plus(num_classes: int, **options) -> DeepLabV3Plus:
    return DeepLabV3Plus(num_classes, **options)
