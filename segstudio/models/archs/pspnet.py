"""PSPNet (Zhao et al. 2017): pyramid pooling (bins 1, 2, 3, 6) on a dilated ResNet (output stride 8).

Each pyramid level average-pools the features into ``b×b`` bins, reduces them with a 1×1
conv + BN + ReLU to ``C/levels`` channels and upsamples them back; the levels are
concatenated with the features and fused by a 3×3 conv before the classifier.

Adaptive average pooling is computed from cumulative sums while tracing/exporting, so the
ONNX graph works for any input size (ONNX's own adaptive pooling needs fixed sizes);
eager mode uses ``F.adaptive_avg_pool2d``. Both give the same bins.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from segstudio.models.archs.backbones import build_backbone, conv_bn_relu


def _exporting() -> bool:
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling()


def _pool_axis(x: torch.Tensor, bins: int, dim: int) -> torch.Tensor:
    """Adaptive average pooling along ``dim`` (bins [floor(i·L/b), ceil((i+1)·L/b))) via cumsum."""
    length = x.shape[dim]
    csum = torch.cumsum(x, dim=dim)
    pad = [0] * (2 * (x.dim() - dim))
    pad[-2] = 1  # one leading zero along dim
    csum = F.pad(csum, pad)
    i = torch.arange(bins, device=x.device)
    start = torch.div(i * length, bins, rounding_mode="floor")
    end = torch.div((i + 1) * length + bins - 1, bins, rounding_mode="floor")
    total = csum.index_select(dim, end) - csum.index_select(dim, start)
    shape = [1] * x.dim()
    shape[dim] = bins
    return total / (end - start).to(x.dtype).reshape(shape)


def adaptive_avg_pool(x: torch.Tensor, bins: int) -> torch.Tensor:
    if not _exporting():
        return F.adaptive_avg_pool2d(x, bins)
    if bins == 1:
        return x.mean(dim=(2, 3), keepdim=True)
    return _pool_axis(_pool_axis(x, bins, 2), bins, 3)


class PyramidPooling(nn.Module):
    def __init__(self, cin: int, bins: Sequence[int] = (1, 2, 3, 6)) -> None:
        super().__init__()
        self.bins = tuple(int(b) for b in bins)
        reduced = cin // len(self.bins)
        self.stages = nn.ModuleList(conv_bn_relu(cin, reduced, 1) for _ in self.bins)
        self.out_channels = cin + reduced * len(self.bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        levels = [x]
        for b, stage in zip(self.bins, self.stages):
            y = stage(adaptive_avg_pool(x, b))
            levels.append(F.interpolate(y, size=size, mode="bilinear", align_corners=False))
        return torch.cat(levels, dim=1)


class PSPNet(nn.Module):
    def __init__(self, num_classes: int, backbone: str = "resnet50", output_stride: int = 8,
                 bins: Sequence[int] = (1, 2, 3, 6), channels: int = 512, dropout: float = 0.1,
                 backbone_width: float = 1.0) -> None:
        super().__init__()
        bb = build_backbone(backbone, output_stride, low_level=False, backbone_width=backbone_width)
        self.backbone = bb.body
        self.ppm = PyramidPooling(bb.out_channels, bins)
        self.bottleneck = nn.Sequential(conv_bn_relu(self.ppm.out_channels, channels), nn.Dropout2d(dropout))
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        y = self.classifier(self.bottleneck(self.ppm(self.backbone(x)["out"])))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


def build_pspnet(num_classes: int, **options) -> PSPNet:
    return PSPNet(num_classes, **options)
