"""Multi-path RefineNet (Lin et al. 2017) on a ResNet, cascaded over the four stages.

Building blocks (bias, no BatchNorm in the decoder, as in the paper):
- RCU, residual conv unit: ``x + conv3(relu(conv3(relu(x))))``;
- multi-resolution fusion: a 3×3 conv per input path to the output width, every path
  upsampled (bilinear) to the largest resolution and summed (skipped for a single path);
- chained residual pooling: ``x = relu(x)``, then ``n`` times ``t = conv3(maxpool5×5/1(t))``,
  ``x = x + t`` — pooling over growing windows, each result added back;
- an output RCU.
A RefineNet block takes its paths through a 3×3 adaptation conv and two RCUs, fuses them,
pools and refines. RefineNet-4 refines the 1/32 stage alone (width ``2·features``), RefineNet-3
fuses it with the 1/16 stage, then 1/8 and 1/4; two more RCUs, dropout and a 1×1 classifier
follow, and the 1/4-resolution scores are upsampled bilinearly to the input size.
``backbone`` is ``resnet18``/``34``/``50``/``101``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from segstudio.models.archs.backbones import resnet_depth, resnet_stages, stage_channels


def conv3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class RCU(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = conv3(channels, channels), conv3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class ChainedResidualPooling(nn.Module):
    def __init__(self, channels: int, stages: int = 2) -> None:
        super().__init__()
        self.convs = nn.ModuleList(conv3(channels, channels) for _ in range(stages))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        top = x
        for conv in self.convs:
            top = conv(F.max_pool2d(top, 5, stride=1, padding=2))
            x = x + top
        return x


class RefineBlock(nn.Module):
    def __init__(self, in_channels: Sequence[int], path_channels: Sequence[int], out_channels: int,
                 crp_stages: int = 2) -> None:
        super().__init__()
        self.adapt = nn.ModuleList(conv3(ci, cp) for ci, cp in zip(in_channels, path_channels))
        self.rcus = nn.ModuleList(nn.Sequential(RCU(cp), RCU(cp)) for cp in path_channels)
        multi = len(path_channels) > 1
        self.fuse = nn.ModuleList(conv3(cp, out_channels) for cp in path_channels) if multi else None
        width = out_channels if multi else path_channels[0]
        self.crp = ChainedResidualPooling(width, crp_stages)
        self.out = RCU(width)
        self.out_channels = width

    def forward(self, *paths: torch.Tensor) -> torch.Tensor:
        xs = [rcu(adapt(p)) for p, adapt, rcu in zip(paths, self.adapt, self.rcus)]
        if self.fuse is None:
            y = xs[0]
        else:
            size = max((x.shape[-2:] for x in xs), key=lambda s: s[0] * s[1])
            y = None
            for x, conv in zip(xs, self.fuse):
                z = conv(x)
                if z.shape[-2:] != size:
                    z = F.interpolate(z, size=size, mode="bilinear", align_corners=False)
                y = z if y is None else y + z
        return self.out(self.crp(y))


class RefineNet(nn.Module):
    def __init__(self, num_classes: int, backbone: str = "resnet50", features: int = 256, crp_stages: int = 2,
                 dropout: float = 0.5) -> None:
        super().__init__()
        depth = resnet_depth(backbone)
        self.backbone = resnet_stages(depth).body
        c1, c2, c3, c4 = stage_channels(depth)
        f = features
        self.refine4 = RefineBlock([c4], [2 * f], f, crp_stages)
        self.refine3 = RefineBlock([c3, self.refine4.out_channels], [f, f], f, crp_stages)
        self.refine2 = RefineBlock([c2, f], [f, f], f, crp_stages)
        self.refine1 = RefineBlock([c1, f], [f, f], f, crp_stages)
        self.head = nn.Sequential(RCU(f), RCU(f), nn.Dropout(dropout), nn.Conv2d(f, num_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        c = self.backbone(x)
        y = self.refine4(c["c4"])
        y = self.refine3(c["c3"], y)
        y = self.refine2(c["c2"], y)
        y = self.refine1(c["c1"], y)
        return F.interpolate(self.head(y), size=size, mode="bilinear", align_corners=False)


def build_refinenet(num_classes: int, **options) -> RefineNet:
    return RefineNet(num_classes, **options)
