"""SegNet (Badrinarayanan et al. 2017): VGG16-BN encoder, decoder that upsamples with pool indices.

Each encoder stage ends with a 2×2 max-pool that remembers where its maxima were; the
mirrored decoder stage puts values back at those positions with ``F.max_unpool2d`` (given
the pre-pool size as ``output_size``, so odd sizes survive), then densifies them with
conv + BN + ReLU (exports to ONNX as a scatter, any size). Pools round up, so any input size ≥ 1 works and the logits have the
input's size. ``width_mult`` scales the channel counts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (channels, convs) per encoder stage


def unpool(x: torch.Tensor, idx: torch.Tensor, size: torch.Size) -> torch.Tensor:
    """``F.max_unpool2d(x, idx, 2, 2, output_size=size)``; while tracing/exporting, an equivalent
    scatter (ONNX ScatterElements) that works for any input size."""
    if not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
        return F.max_unpool2d(x, idx, 2, 2, output_size=size)
    n, c = x.shape[:2]
    h, w = size[-2], size[-1]
    out = x.new_zeros((n, c, h * w))
    out = out.scatter(2, idx.flatten(2), x.flatten(2))
    return out.view(n, c, h, w)


def _cbr(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SegNet(nn.Module):
    def __init__(self, num_classes: int, width_mult: float = 1.0, in_channels: int = 3) -> None:
        super().__init__()
        chans = [max(4, int(round(c * width_mult))) for c, _ in STAGES]
        enc, cin = [], in_channels
        for c, (_, n) in zip(chans, STAGES):
            layers: list[nn.Module] = []
            for _ in range(n):
                layers += _cbr(cin, c)
                cin = c
            enc.append(nn.Sequential(*layers))
        self.enc = nn.ModuleList(enc)
        dec = []
        for s in reversed(range(len(STAGES))):
            c, n = chans[s], STAGES[s][1]
            out = chans[s - 1] if s > 0 else chans[0]
            layers = []
            for j in range(n):
                last = j == n - 1
                if s == 0 and last:
                    break  # the classifier replaces the last conv of the first stage
                layers += _cbr(c, out if last else c)
            dec.append(nn.Sequential(*layers))
        self.dec = nn.ModuleList(dec)
        self.classifier = nn.Conv2d(chans[0], num_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stack = []
        for block in self.enc:
            x = block(x)
            size = x.shape[-2:]
            x, idx = F.max_pool2d(x, 2, 2, ceil_mode=True, return_indices=True)
            stack.append((idx, size))
        for block in self.dec:
            idx, size = stack.pop()
            x = block(unpool(x, idx, size))
        return self.classifier(x)


def build_segnet(num_classes: int, **options) -> SegNet:
    return SegNet(num_classes, **options)
