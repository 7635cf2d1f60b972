"""U-Net++ (Zhou et al. 2018): nested, dense skip pathways between encoder and decoder.

Node ``X[i][j]`` (level ``i``, column ``j``) is a double 3×3 conv block; ``X[i][0]`` is the
encoder, and ``X[i][j] = conv(cat(X[i][0], …, X[i][j-1], up(X[i+1][j-1])))`` for ``j ≥ 1``
(bilinear ×2 upsampling), so every skip is re-encoded by a dense chain of convs before it
meets the decoder. Widths are ``width · 2**i`` (capped at ``max_width``).

Deep supervision (``deep_supervision=True``): 1×1 heads on ``X[0][1] … X[0][depth]``; the output
is their mean ("accurate mode"); in training mode the individual head logits are also kept in
``model.aux_logits`` for a training loop that adds one loss per head (SegStudio's loop trains
the mean, which reaches every head). Pruned inference (``prune=L``, needs deep supervision):
only the nodes with ``i + j ≤ L`` run and the head on ``X[0][L]`` is the output — a smaller,
faster network with the same weights. ``stem_stride=2`` drops the full-resolution level
(as ``unet-light``); logits are upsampled. Input is padded to a multiple of
``stem_stride · 2**depth`` and the logits cropped back, so any size works.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segstudio.models.archs.unet import DoubleConv, conv_bn_relu


def pad_to_multiple(x: torch.Tensor, m: int) -> torch.Tensor:
    """Pad bottom/right to a multiple of ``m`` (reflect where the image is big enough)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
    return x


def make_stem(cin: int, cout: int, stem_stride: int) -> nn.Module:
    if stem_stride not in (1, 2, 4):
        raise ValueError("stem_stride must be 1, 2 or 4")
    if stem_stride == 1:
        return DoubleConv(cin, cout)
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stem_stride, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True), conv_bn_relu(cout, cout))


def up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class UNetPlusPlus(nn.Module):
    def __init__(self, num_classes: int, width: int = 32, depth: int = 4, in_channels: int = 3,
                 max_width: int = 512, deep_supervision: bool = False, prune: int | None = None,
                 stem_stride: int = 1, dropout: float = 0.1) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError("unetpp depth must be ≥ 1")
        if prune is not None and not (deep_supervision and 1 <= prune <= depth):
            raise ValueError(f"unetpp prune must be in 1..{depth} and needs deep_supervision=True")
        self.depth, self.stem_stride = depth, stem_stride
        self.deep_supervision, self.prune = deep_supervision, prune
        ch = [min(width * 2 ** i, max_width) for i in range(depth + 1)]
        self.encoder = nn.ModuleList([make_stem(in_channels, ch[0], stem_stride)] +
                                     [DoubleConv(ch[i - 1], ch[i]) for i in range(1, depth + 1)])
        # nodes[j-1][i] is X[i][j]
        self.nodes = nn.ModuleList(
            nn.ModuleList(DoubleConv(ch[i] * j + ch[i + 1], ch[i]) for i in range(depth + 1 - j))
            for j in range(1, depth + 1))
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        n_heads = depth if deep_supervision else 1
        self.heads = nn.ModuleList(nn.Conv2d(ch[0], num_classes, 1) for _ in range(n_heads))
        self.aux_logits: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, 2 ** self.depth * self.stem_stride)
        levels = self.prune or self.depth
        grid: list[list[torch.Tensor]] = []   # grid[i][j] = X[i][j]
        y = x
        for i in range(levels + 1):
            y = self.encoder[i](y if i == 0 else F.max_pool2d(y, 2))
            grid.append([self.drop(y) if i == levels else y])
        for j in range(1, levels + 1):
            for i in range(levels + 1 - j):
                grid[i].append(self.nodes[j - 1][i](torch.cat(grid[i][:j] + [up2(grid[i + 1][j - 1])], dim=1)))
        if self.deep_supervision:
            outs = [self.heads[j - 1](grid[0][j]) for j in range(1, levels + 1)]
            out = outs[-1] if self.prune else torch.stack(outs).mean(0)
            self.aux_logits = [self._finish(o, h, w) for o in outs] if self.training else []
        else:
            out = self.heads[0](grid[0][levels])
        return self._finish(out, h, w)

    def _finish(self, y: torch.Tensor, h: int, w: int) -> torch.Tensor:
        if self.stem_stride > 1:
            y = F.interpolate(y, scale_factor=self.stem_stride, mode="bilinear", align_corners=False)
        return y[..., :h, :w]


def build_unetpp(num_classes: int, **options) -> UNetPlusPlus:
    return UNetPlusPlus(num_classes, **options)
