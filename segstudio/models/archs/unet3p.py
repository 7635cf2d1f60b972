"""U-Net 3+ (Huang et al. 2020): full-scale skip connections, deep supervision, classification guidance.

Encoder: five levels of double 3×3 conv blocks, widths ``width · (1, 2, 4, 8, 16)``. Decoder
level ``i`` (0 = full resolution … 3) gathers *every* scale: encoder levels finer than ``i``
max-pooled down to it, the encoder level ``i`` itself, and the decoder levels coarser than
``i`` (level 4 is the bottom encoder) upsampled bilinearly to it — each through a 3×3
conv-BN-ReLU to ``cat_channels`` — concatenated (5 · ``cat_channels``) and fused by one
3×3 conv-BN-ReLU. The output is a 3×3 conv head on decoder level 0.

Deep supervision (``deep_supervision=True``): 3×3 heads on decoder levels 1–3 and the bottom
encoder, upsampled to the input size; in training mode they are kept in ``model.aux_logits``
for a loop that adds one loss per head (inference returns only the main output).
Classification-guided module (``cgm=True``): a 1×1 conv + global max pool on the bottom
encoder gives per-class image-level presence ``p_c = sigmoid(·)``; the logits become
``logits + log p_c`` (the segmentation probabilities multiplied by the presence, a soft,
differentiable version of the paper's binary gate, trained through the segmentation loss;
``model.aux_presence`` holds the presence logits for a loop that adds an image-level BCE).
``stem_stride=2`` drops the full-resolution level (light variant). Input is padded to a
multiple of ``16 · stem_stride`` and the logits cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segstudio.models.archs.unet import DoubleConv, conv_bn_relu
from segstudio.models.archs.unetpp import make_stem, pad_to_multiple

LEVELS = 5


class UNet3Plus(nn.Module):
    def __init__(self, num_classes: int, width: int = 32, cat_channels: int | None = None, in_channels: int = 3,
                 deep_supervision: bool = False, cgm: bool = False, stem_stride: int = 1,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.stem_stride, self.deep_supervision, self.cgm = stem_stride, deep_supervision, cgm
        self.depth = LEVELS - 1   # input sizes are padded to a multiple of 2**depth · stem_stride
        ch = [width * 2 ** i for i in range(LEVELS)]
        cat = cat_channels or width
        up = cat * LEVELS
        self.encoder = nn.ModuleList([make_stem(in_channels, ch[0], stem_stride)] +
                                     [DoubleConv(ch[i - 1], ch[i]) for i in range(1, LEVELS)])
        # skips[i][k]: from scale k (encoder for k <= i, decoder/bottom for k > i) into decoder level i
        self.skips = nn.ModuleList(
            nn.ModuleList(conv_bn_relu(ch[k] if k <= i or k == LEVELS - 1 else up, cat) for k in range(LEVELS))
            for i in range(LEVELS - 1))
        self.fuse = nn.ModuleList(conv_bn_relu(up, up) for _ in range(LEVELS - 1))
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Conv2d(up, num_classes, 3, padding=1)
        if deep_supervision:
            self.aux_heads = nn.ModuleList([nn.Conv2d(up, num_classes, 3, padding=1) for _ in range(LEVELS - 2)] +
                                           [nn.Conv2d(ch[-1], num_classes, 3, padding=1)])
        if cgm:
            self.classify = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(ch[-1], num_classes, 1),
                                          nn.AdaptiveMaxPool2d(1))
        self.aux_logits: list[torch.Tensor] = []
        self.aux_presence: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, 2 ** (LEVELS - 1) * self.stem_stride)
        enc: list[torch.Tensor] = []
        y = x
        for i, block in enumerate(self.encoder):
            y = block(y if i == 0 else F.max_pool2d(y, 2))
            enc.append(y)
        enc[-1] = self.drop(enc[-1])
        dec: dict[int, torch.Tensor] = {LEVELS - 1: enc[-1]}
        for i in range(LEVELS - 2, -1, -1):
            size = enc[i].shape[-2:]
            parts = []
            for k in range(LEVELS):
                if k < i:
                    src = F.max_pool2d(enc[k], 2 ** (i - k))
                elif k == i:
                    src = enc[i]
                else:
                    src = F.interpolate(dec[k], size=size, mode="bilinear", align_corners=False)
                parts.append(self.skips[i][k](src))
            dec[i] = self.fuse[i](torch.cat(parts, dim=1))
        out = self.head(dec[0])
        if self.cgm:
            presence = self.classify(enc[-1])                                  # N×C×1×1 logits
            out = out + F.logsigmoid(presence)
            self.aux_presence = presence.flatten(1) if self.training else None
        if self.deep_supervision and self.training:
            srcs = [dec[1], dec[2], dec[3], enc[-1]]
            self.aux_logits = [self._finish(head(s), h, w, x.shape[-2:]) for head, s in zip(self.aux_heads, srcs)]
        else:
            self.aux_logits = []
        return self._finish(out, h, w, x.shape[-2:])

    def _finish(self, y: torch.Tensor, h: int, w: int, padded) -> torch.Tensor:
        if y.shape[-2:] != padded:
            y = F.interpolate(y, size=padded, mode="bilinear", align_corners=False)
        return y[..., :h, :w]


def build_unet3p(num_classes: int, **options) -> UNet3Plus:
    return UNet3Plus(num_classes, **options)
