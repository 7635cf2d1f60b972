"""DeepLab-v1 LargeFOV (Chen et al. 2015): VGG16 with atrous convolution, output stride 8.

The VGG16 trunk keeps torchvision's ``features`` layer indices (ImageNet VGG16 weights fit):
pool1–3 are 3×3 max pools of stride 2 (padding 1), pool4 and pool5 have stride 1, the conv5
layers are atrous with rate 2, then pool5 is followed by a 3×3 average pool (stride 1), and
fc6 is a 3×3 convolution with rate 12 (the "large field of view", 1024 channels), fc7 a 1×1
convolution, fc8 the class scores. The stride-8 scores are upsampled bilinearly to the input
size (the dense CRF of the paper is SegStudio's own post-processing, ``segstudio crf``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segstudio.models.archs.backbones import vgg16_trunk


def _pool(stride: int) -> nn.MaxPool2d:
    return nn.MaxPool2d(3, stride, padding=1, ceil_mode=True)


class DeepLabV1(nn.Module):
    def __init__(self, num_classes: int, width_mult: float = 1.0, fc_channels: int = 1024, fc6_rate: int = 12,
                 dropout: float = 0.5) -> None:
        super().__init__()
        pools = {4: _pool(2), 9: _pool(2), 16: _pool(2), 23: _pool(1), 30: _pool(1)}
        self.features = vgg16_trunk(width_mult, pools, conv5_dilation=2)
        self.pool5a = nn.AvgPool2d(3, 1, padding=1, count_include_pad=False)
        c5 = self.features[28].out_channels
        fc = max(8, int(round(fc_channels * width_mult)))
        self.fc = nn.Sequential(nn.Conv2d(c5, fc, 3, padding=fc6_rate, dilation=fc6_rate), nn.ReLU(inplace=True),
                                nn.Dropout2d(dropout), nn.Conv2d(fc, fc, 1), nn.ReLU(inplace=True),
                                nn.Dropout2d(dropout))
        self.classifier = nn.Conv2d(fc, num_classes, 1)
        nn.init.normal_(self.classifier.weight, std=0.01)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        y = self.classifier(self.fc(self.pool5a(self.features(x))))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


def build_deeplabv1(num_classes: int, **options) -> DeepLabV1:
    return DeepLabV1(num_classes, **options)
