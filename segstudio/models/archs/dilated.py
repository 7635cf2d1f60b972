"""Dilated convolutions (Yu & Koltun 2016): the VGG16 front-end plus the context module.

Front-end: VGG16 without pool4 and pool5 (output stride 8; the pools' layer indices are kept
as identities so torchvision VGG16 weights fit), conv5 dilated by 2, fc6 a 7×7 convolution
dilated by 4, fc7 1×1, then 1×1 class scores. The paper's unpadded convolutions on a
reflection-padded input are replaced by padded convolutions (same receptive field).

Context module (basic): seven 3×3 convolutions on the C class-score channels with dilations
1, 1, 2, 4, 8, 16, 1, each followed by ReLU, then a 1×1 convolution — all initialised to the
identity (the module starts by passing the front-end's scores through, as in the paper).
``context_width`` > 1 widens the hidden layers (the paper's "large" module uses growing widths;
here every hidden layer has ``context_width × C`` channels, still identity-initialised on the
first C). Scores are upsampled bilinearly to the input size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segstudio.models.archs.backbones import vgg16_trunk

CONTEXT_DILATIONS = (1, 1, 2, 4, 8, 16, 1)


def identity_init(conv: nn.Conv2d) -> None:
    """Weights that copy input channel i to output channel i (for i < min(in, out)); bias 0."""
    with torch.no_grad():
        conv.weight.zero_()
        k = conv.kernel_size[0] // 2
        for i in range(min(conv.in_channels, conv.out_channels)):
            conv.weight[i, i, k, k] = 1.0
        if conv.bias is not None:
            conv.bias.zero_()


class ContextModule(nn.Module):
    def __init__(self, channels: int, width: int = 1, dilations=CONTEXT_DILATIONS) -> None:
        super().__init__()
        hidden = channels * max(1, int(width))
        layers: list[nn.Module] = []
        cin = channels
        for d in dilations:
            conv = nn.Conv2d(cin, hidden, 3, padding=d, dilation=d)
            identity_init(conv)
            layers += [conv, nn.ReLU(inplace=True)]
            cin = hidden
        final = nn.Conv2d(cin, channels, 1)
        identity_init(final)
        layers.append(final)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class DilatedNet(nn.Module):
    def __init__(self, num_classes: int, width_mult: float = 1.0, fc_channels: int = 4096, context: bool = True,
                 context_width: int = 1, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = vgg16_trunk(width_mult, {23: None, 30: None}, conv5_dilation=2)
        c5 = self.features[28].out_channels
        fc = max(8, int(round(fc_channels * width_mult)))
        self.fc = nn.Sequential(nn.Conv2d(c5, fc, 7, padding=12, dilation=4), nn.ReLU(inplace=True),
                                nn.Dropout2d(dropout), nn.Conv2d(fc, fc, 1), nn.ReLU(inplace=True),
                                nn.Dropout2d(dropout))
        self.score = nn.Conv2d(fc, num_classes, 1)
        self.context = ContextModule(num_classes, context_width) if context else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        y = self.context(self.score(self.fc(self.features(x))))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


def build_dilated(num_classes: int, **options) -> DilatedNet:
    return DilatedNet(num_classes, **options)
