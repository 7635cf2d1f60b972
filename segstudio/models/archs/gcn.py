"""Global Convolutional Network, "Large Kernel Matters" (Peng et al. 2017), on a ResNet.

GCN block: two branches of separable large kernels, ``k×1`` then ``1×k`` and ``1×k`` then
``k×1`` (no nonlinearity in between), summed — a dense ``k×k`` receptive field at ``O(k)`` cost,
mapping a stage's features straight to the C class-score channels (default ``k = 15``).
Boundary refinement (BR): a residual block ``x + conv3(relu(conv3(x)))`` on the score maps.
Each ResNet stage (1/4 … 1/32) gives GCN → BR scores; from the deepest, scores are upsampled
to the next stage, added, refined by a BR, and so on; two more ×2 upsamplings, each followed by
a BR, reach the input size. Upsampling is bilinear to the exact size (the paper's learnable
deconvolutions are replaced so any input size lines up). ``backbone`` is ``resnet18``…``101``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segstudio.models.archs.backbones import resnet_depth, resnet_stages, stage_channels


class GlobalConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 15) -> None:
        super().__init__()
        if k < 1 or k % 2 == 0:
            raise ValueError(f"GCN kernel size must be odd and positive, got {k}")
        p = k // 2
        self.left = nn.Sequential(nn.Conv2d(cin, cout, (k, 1), padding=(p, 0)),
                                  nn.Conv2d(cout, cout, (1, k), padding=(0, p)))
        self.right = nn.Sequential(nn.Conv2d(cin, cout, (1, k), padding=(0, p)),
                                   nn.Conv2d(cout, cout, (k, 1), padding=(p, 0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.left(x) + self.right(x)


class BoundaryRefine(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


def _up(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class GCN(nn.Module):
    def __init__(self, num_classes: int, backbone: str = "resnet50", k: int = 15) -> None:
        super().__init__()
        depth = resnet_depth(backbone)
        self.backbone = resnet_stages(depth).body
        c = num_classes
        self.gcn = nn.ModuleList(GlobalConv(ch, c, k) for ch in stage_channels(depth))
        self.br = nn.ModuleList(BoundaryRefine(c) for _ in range(4))          # after each GCN
        self.br_fuse = nn.ModuleList(BoundaryRefine(c) for _ in range(3))     # after each fusion
        self.br_up = nn.ModuleList(BoundaryRefine(c) for _ in range(2))       # after the last two upsamplings

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        feats = self.backbone(x)
        scores = [br(gcn(feats[f"c{i + 1}"])) for i, (gcn, br) in enumerate(zip(self.gcn, self.br))]
        y = scores[3]
        for i in (2, 1, 0):
            y = self.br_fuse[i](_up(y, scores[i].shape[-2:]) + scores[i])
        y = self.br_up[0](_up(y, ((h + 1) // 2, (w + 1) // 2)))
        return self.br_up[1](_up(y, (h, w)))


def build_gcn(num_classes: int, **options) -> GCN:
    return GCN(num_classes, **options)
