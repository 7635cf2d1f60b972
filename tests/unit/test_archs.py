"""Architectures: every registered model builds (default size, once) and returns N×C×H×W logits
at the input's size; small variants cover odd sizes, batches and the layer-level building blocks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from segstudio.models import registry
from segstudio.models.archs import fcn, pspnet, segnet
from segstudio.models.archs.backbones import build_backbone

NEW_ARCHS = ("fcn32s", "fcn16s", "fcn8s", "fcn_resnet50", "fcn_resnet101", "segnet", "deeplabv3",
             "deeplabv3plus", "pspnet", "lraspp")

SMALL = {
    "fcn32s": {"width_mult": 1 / 16},
    "fcn16s": {"width_mult": 1 / 16},
    "fcn8s": {"width_mult": 1 / 16},
    "segnet": {"width_mult": 1 / 16},
    "deeplabv3": {"backbone": "mobilenetv3", "backbone_width": 0.25, "aspp_channels": 16},
    "deeplabv3plus": {"backbone": "mobilenetv3", "backbone_width": 0.25, "aspp_channels": 16,
                      "decoder_channels": 16, "output_stride": 8},
    "pspnet": {"backbone": "mobilenetv3", "backbone_width": 0.25, "channels": 16},
    "lraspp": {"width_mult": 0.25, "inter_channels": 16},
}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("arch", NEW_ARCHS)
def test_default_size_builds_and_runs(arch):
    from segstudio.models.summary import parameter_count

    model = registry.build_model(arch, 11).eval()
    assert registry.count_parameters(model) == parameter_count(arch, 11) > 1_000_000
    if arch in ("fcn32s", "fcn16s"):
        return  # same VGG16 trunk as fcn8s (run below); their heads run in the small-variant test
    x = torch.rand(1, 3, 33, 47)
    with torch.inference_mode():
        y = model(x)
    assert isinstance(y, torch.Tensor)
    assert y.shape == (1, 11, 33, 47)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("arch", sorted(SMALL))
def test_small_variants_any_size_and_batch(arch):
    model = registry.build_model(arch, 5, **SMALL[arch]).eval()
    with torch.inference_mode():
        for h, w in ((1, 1), (17, 23), (64, 64), (97, 131)):
            assert model(torch.rand(1, 3, h, w)).shape == (1, 5, h, w), (h, w)
        assert model(torch.rand(2, 3, 30, 41)).shape == (2, 5, 30, 41)


def test_every_registered_arch_counts_parameters_on_meta():
    from segstudio.models.summary import parameter_count

    counts = {s.name: parameter_count(s.name, 11) for s in registry.available()}
    assert set(NEW_ARCHS) <= set(counts)
    assert all(n > 0 for n in counts.values())
    assert counts["fcn8s"] > counts["deeplabv3"] > counts["lraspp"]


def test_train_mode_backward_small():
    model = registry.build_model("deeplabv3plus", 3, **SMALL["deeplabv3plus"]).train()
    y = model(torch.rand(2, 3, 32, 32))
    loss = F.cross_entropy(y, torch.randint(0, 3, (2, 32, 32)))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_bad_options_are_reported():
    with pytest.raises(registry.UnknownArchitecture):
        registry.build_model("segnet", 3, no_such_option=1)
    with pytest.raises(ValueError, match="output_stride"):
        registry.build_model("deeplabv3", 3, backbone="mobilenetv3", output_stride=4)
    with pytest.raises(ValueError, match="backbone"):
        registry.build_model("pspnet", 3, backbone="vgg11")


# --- FCN -------------------------------------------------------------------------------------

def test_fcn_skip_layers_and_zero_init():
    m32, m16, m8 = (registry.build_model(a, 4, width_mult=1 / 16) for a in ("fcn32s", "fcn16s", "fcn8s"))
    assert not hasattr(m32, "score_pool4") and not hasattr(m16, "score_pool3")
    assert hasattr(m8, "score_pool3") and hasattr(m8, "score_pool4")
    assert m8.score_pool3.weight.abs().sum() == 0 and m8.score_pool4.weight.abs().sum() == 0
    assert m8.features[0].padding == (100, 100)
    assert all(layer.ceil_mode for layer in m8.features if isinstance(layer, torch.nn.MaxPool2d))


def test_fcn_features_match_torchvision_vgg16_layout():
    from torchvision.models import vgg16

    with torch.device("meta"):
        ours = registry.build_model("fcn8s", 3).features.state_dict()
        theirs = vgg16(weights=None).features.state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


def test_bilinear_transposed_conv_upsamples():
    up = fcn.upsampler(2, 2)
    y = up(torch.ones(1, 2, 5, 6))
    assert y.shape == (1, 2, 12, 14)
    assert torch.allclose(y[..., 2:-2, 2:-2], torch.ones(1, 2, 8, 10))   # a constant stays constant
    ramp = torch.arange(6.0).view(1, 1, 1, 6).expand(1, 2, 4, 6)
    inner = up(ramp)[0, 0, 2, 2:-2]
    assert torch.allclose(inner[1:] - inner[:-1], torch.full_like(inner[1:], 0.5))  # linear in between


# --- SegNet / PSPNet / backbones -----------------------------------------------------------------

def test_segnet_export_unpool_matches_max_unpool():
    for h, w in ((7, 9), (8, 8), (1, 3)):
        x = torch.rand(2, 3, h, w)
        pooled, idx = F.max_pool2d(x, 2, 2, ceil_mode=True, return_indices=True)
        ref = F.max_unpool2d(pooled, idx, 2, 2, output_size=x.shape[-2:])
        n, c = pooled.shape[:2]
        alt = pooled.new_zeros((n, c, h * w)).scatter(2, idx.flatten(2), pooled.flatten(2)).view(n, c, h, w)
        assert torch.equal(ref, alt)
        assert segnet.unpool(pooled, idx, x.shape[-2:]).shape == x.shape


@pytest.mark.parametrize("size", [(1, 1), (5, 7), (13, 17), (24, 36)])
@pytest.mark.parametrize("bins", [1, 2, 3, 6])
def test_psp_cumsum_pooling_equals_adaptive_pool(size, bins):
    x = torch.rand(2, 4, *size)
    ref = F.adaptive_avg_pool2d(x, bins)
    alt = pspnet._pool_axis(pspnet._pool_axis(x, bins, 2), bins, 3)
    assert torch.allclose(ref, alt, atol=1e-5)


@pytest.mark.parametrize("stride", [8, 16])
def test_mobilenet_backbone_output_stride(stride):
    bb = build_backbone("mobilenetv3", stride, low_level=True, backbone_width=0.25).body.eval()
    with torch.inference_mode():
        out = bb(torch.rand(1, 3, 64, 96))
    assert out["out"].shape[-2:] == (64 // stride, 96 // stride)
    assert out["low"].shape[-2:] == (16, 24)


def test_resnet_backbone_output_stride_on_meta():
    with torch.device("meta"):
        for stride in (8, 16):
            body = build_backbone("resnet50", stride).body
            assert body(torch.empty(1, 3, 64, 64))["out"].shape == (1, 2048, 64 // stride, 64 // stride)


def test_deeplab_layout_matches_torchvision():
    from torchvision.models.segmentation import deeplabv3_resnet50

    with torch.device("meta"):
        ours = registry.build_model("deeplabv3", 6).state_dict()
        theirs = deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=6).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}
