"""LR-ASPP on MobileNetV3-Large (Howard et al. 2019), torchvision's implementation.

Built like ``torchvision.models.segmentation.lraspp_mobilenet_v3_large`` (same modules and
state-dict keys; random init), but the forward returns the logits tensor, not a dict.
``width_mult`` scales the MobileNetV3 backbone (1.0 = torchvision's model).
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.segmentation.lraspp import LRASPP

from segstudio.models.archs.backbones import FeatureTaps


class LRASPPLogits(LRASPP):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)["out"]


def build_lraspp(num_classes: int, width_mult: float = 1.0, inter_channels: int = 128) -> nn.Module:
    from torchvision.models import mobilenet_v3_large

    features = mobilenet_v3_large(weights=None, dilated=True, width_mult=width_mult).features
    # strided blocks carry ``_is_cn``; low = the stride-8 stage (C2), high = the last layer
    stages = [0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)] + [len(features) - 1]
    low, high = stages[-4], stages[-1]
    body = FeatureTaps(features, {str(low): "low", str(high): "high"})
    return LRASPPLogits(body, features[low].out_channels, features[high].out_channels, num_classes, inter_channels)
