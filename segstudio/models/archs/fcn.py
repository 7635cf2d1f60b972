"""Fully convolutional networks (Long, Shelhamer & Darrell 2015) and torchvision's FCN-ResNet.

FCN-32s/16s/8s follow the paper's VGG16 net: the first conv pads by 100 pixels, pooling
rounds up (Caffe semantics), fc6/fc7 are 7×7 and 1×1 convolutions, and class scores are
upsampled by transposed convolutions initialised to bilinear interpolation (learnable,
one kernel per class). FCN-16s fuses 2×-upsampled scores with pool4 scores, FCN-8s also with
pool3 scores; each skip is cropped at the paper's offsets (5 and 9), the final scores at
19/27/31, which aligns the output with the input for every input size. The skip score
layers start at zero, so an untrained FCN-8s starts out as FCN-32s.

``width_mult`` scales every channel count (tests build tiny variants); the layer layout of
``features`` is torchvision's VGG16 ``features`` (same indices), so VGG16 weights fit.

``fcn_resnet50``/``fcn_resnet101`` are torchvision's models (aux head off) whose forward
returns the ``"out"`` tensor instead of a dict; their state dicts are torchvision's.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.segmentation.fcn import FCN

VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
POOL3, POOL4 = 16, 23  # indices of the pool3 / pool4 layers inside ``features``


def _vgg16_features(width_mult: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    cin, first = 3, True
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            continue
        cout = max(4, int(round(v * width_mult)))
        layers += [nn.Conv2d(cin, cout, 3, padding=100 if first else 1), nn.ReLU(inplace=True)]
        cin, first = cout, False
    return nn.Sequential(*layers)


def bilinear_kernel(channels: int, size: int) -> torch.Tensor:
    """``channels×1×size×size`` weights that make a grouped transposed conv bilinear upsampling."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    og = torch.arange(size, dtype=torch.float32)
    filt = 1 - torch.abs(og - center) / factor
    return (filt[:, None] * filt[None, :]).expand(channels, 1, size, size).clone()


def upsampler(channels: int, factor: int) -> nn.ConvTranspose2d:
    size = 2 * factor
    up = nn.ConvTranspose2d(channels, channels, size, stride=factor, groups=channels, bias=False)
    with torch.no_grad():
        up.weight.copy_(bilinear_kernel(channels, size))
    return up


def _crop(x: torch.Tensor, offset: int, like: torch.Tensor) -> torch.Tensor:
    h, w = like.shape[-2:]
    return x[:, :, offset:offset + h, offset:offset + w]


class FCNVGG(nn.Module):
    """FCN-``stride``s with ``stride`` in 32, 16, 8."""

    def __init__(self, num_classes: int, stride: int = 8, width_mult: float = 1.0, dropout: float = 0.5) -> None:
        super().__init__()
        if stride not in (32, 16, 8):
            raise ValueError(f"FCN stride must be 32, 16 or 8, got {stride}")
        self.stride = stride
        self.features = _vgg16_features(width_mult)
        c5 = self.features[28].out_channels
        fc = max(8, int(round(4096 * width_mult)))
        self.fc = nn.Sequential(nn.Conv2d(c5, fc, 7), nn.ReLU(inplace=True), nn.Dropout2d(dropout),
                                nn.Conv2d(fc, fc, 1), nn.ReLU(inplace=True), nn.Dropout2d(dropout))
        self.score_fr = nn.Conv2d(fc, num_classes, 1)
        if stride == 32:
            self.upscore = upsampler(num_classes, 32)
            return
        self.score_pool4 = nn.Conv2d(self.features[21].out_channels, num_classes, 1)
        self.upscore2 = upsampler(num_classes, 2)
        if stride == 16:
            self.upscore = upsampler(num_classes, 16)
        else:
            self.score_pool3 = nn.Conv2d(self.features[14].out_channels, num_classes, 1)
            self.upscore_pool4 = upsampler(num_classes, 2)
            self.upscore = upsampler(num_classes, 8)
        for score in (self.score_pool4, getattr(self, "score_pool3", None)):
            if score is not None:
                nn.init.zeros_(score.weight)
                nn.init.zeros_(score.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool3 = pool4 = x
        y = x
        for i, layer in enumerate(self.features):
            y = layer(y)
            if i == POOL3:
                pool3 = y
            elif i == POOL4:
                pool4 = y
        y = self.score_fr(self.fc(y))
        if self.stride == 32:
            return _crop(self.upscore(y), 19, x)
        y = self.upscore2(y)
        y = y + _crop(self.score_pool4(pool4), 5, y)
        if self.stride == 16:
            return _crop(self.upscore(y), 27, x)
        y = self.upscore_pool4(y)
        y = y + _crop(self.score_pool3(pool3), 9, y)
        return _crop(self.upscore(y), 31, x)


def build_fcn32s(num_classes: int, **options) -> FCNVGG:
    return FCNVGG(num_classes, stride=32, **options)


def build_fcn16s(num_classes: int, **options) -> FCNVGG:
    return FCNVGG(num_classes, stride=16, **options)


def build_fcn8s(num_classes: int, **options) -> FCNVGG:
    return FCNVGG(num_classes, stride=8, **options)


# --- torchvision FCN-ResNet -------------------------------------------------------------------

class FCNLogits(FCN):
    """torchvision's FCN whose forward returns the ``"out"`` logits tensor (aux head off)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)["out"]


def _fcn_resnet(depth: int, num_classes: int) -> nn.Module:
    from torchvision.models.segmentation import fcn_resnet50, fcn_resnet101

    builder = {50: fcn_resnet50, 101: fcn_resnet101}[depth]
    model = builder(weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=False)
    model.__class__ = FCNLogits  # same modules and state-dict keys, tensor output
    return model


def build_fcn_resnet50(num_classes: int) -> nn.Module:
    return _fcn_resnet(50, num_classes)


def build_fcn_resnet101(num_classes: int) -> nn.Module:
    return _fcn_resnet(101, num_classes)
