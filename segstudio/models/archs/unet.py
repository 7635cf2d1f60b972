"""U-Net (Ronneberger et al. 2015) with configurable width and depth, BatchNorm, padded convs.

Output logits have the input's size for any input size: the input is padded up to a
multiple of ``2**depth`` (reflect) and the logits are cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(conv_bn_relu(cin, cout), conv_bn_relu(cout, cout))


class UNet(nn.Module):
    def __init__(self, num_classes: int, width: int = 32, depth: int = 4, in_channels: int = 3,
                 max_width: int = 512, dropout: float = 0.1, stem_stride: int = 1) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError("unet depth must be ≥ 1")
        if stem_stride not in (1, 2, 4):
            raise ValueError("unet stem_stride must be 1, 2 or 4")
        self.depth = depth
        self.stem_stride = stem_stride
        chans = [min(width * 2 ** i, max_width) for i in range(depth + 1)]
        if stem_stride == 1:
            self.stem = DoubleConv(in_channels, chans[0])
        else:  # light variant: a strided stem drops the costly full-resolution stage; logits are upsampled
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, chans[0], 3, stride=stem_stride, padding=1, bias=False),
                nn.BatchNorm2d(chans[0]), nn.ReLU(inplace=True), conv_bn_relu(chans[0], chans[0]))
        self.down = nn.ModuleList(DoubleConv(chans[i], chans[i + 1]) for i in range(depth))
        self.up = nn.ModuleList(nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2) for i in reversed(range(depth)))
        self.dec = nn.ModuleList(DoubleConv(chans[i] * 2, chans[i]) for i in reversed(range(depth)))
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Conv2d(chans[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2 ** self.depth * self.stem_stride
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(F.max_pool2d(skips[-1], 2)))
        y = self.drop(skips.pop())
        for up, dec in zip(self.up, self.dec):
            y = dec(torch.cat([up(y), skips.pop()], dim=1))
        y = self.head(y)
        if self.stem_stride > 1:
            y = F.interpolate(y, scale_factor=self.stem_stride, mode="bilinear", align_corners=False)
        return y[..., :h, :w]


def build_unet(num_classes: int, width: int = 32, depth: int = 4, **options) -> UNet:
    return UNet(num_classes, width=width, depth=depth, **options)
