"""The seed architectures of issue 17 (DeepLab-v1/v2, dilated net, RefineNet, GCN, U-Net++, U-Net 3+).

Per architecture, on a small configuration: logits at the input size for odd sizes (97×131),
a few SGD steps lower the loss on a tiny fixed set, save→load gives identical outputs, and the
ONNX export agrees with torch to 1e-4. The full-size defaults are built once each on the meta
device (shape only; the CPU-heavy forward of the default sizes is in ``test_archs.py``-style
``slow`` tests below).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from segstudio.models import registry
from segstudio.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint

SEED_ARCHS = ("deeplabv1", "deeplabv2", "dilated", "refinenet", "gcn", "unetpp", "unetpp-light", "unet3p")

SMALL = {
    "deeplabv1": {"width_mult": 1 / 16},
    "deeplabv2": {"backbone": "mobilenetv3", "backbone_width": 0.25},
    "dilated": {"width_mult": 1 / 16},
    "refinenet": {"backbone": "resnet18", "features": 8},
    "gcn": {"backbone": "resnet18", "k": 7},
    "unetpp": {"width": 4, "depth": 3, "deep_supervision": True},
    "unetpp-light": {"width": 4, "depth": 3},
    "unet3p": {"width": 4, "deep_supervision": True, "cgm": True},
}
N_CLASSES = 4


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _small(arch: str) -> torch.nn.Module:
    return registry.build_model(arch, N_CLASSES, **SMALL[arch])


@pytest.mark.parametrize("arch", SEED_ARCHS)
def test_registered_default_builds_on_meta_with_input_sized_logits(arch):
    with torch.device("meta"):
        model = registry.build_model(arch, 11).eval()
        y = model(torch.empty(1, 3, 97, 131))
    assert y.shape == (1, 11, 97, 131)
    assert registry.count_parameters(model) > 1_000_000


@pytest.mark.parametrize("arch", SEED_ARCHS)
def test_small_variant_odd_sizes_and_batches(arch):
    model = _small(arch).eval()
    with torch.inference_mode():
        for h, w in ((97, 131), (17, 23), (1, 1)):
            y = model(torch.rand(1, 3, h, w))
            assert y.shape == (1, N_CLASSES, h, w), (h, w)
            assert torch.isfinite(y).all()
        assert model(torch.rand(2, 3, 30, 41)).shape == (2, N_CLASSES, 30, 41)


def _tiny_set():
    """Two 48×64 images of flat-coloured 8×8 blocks (one colour per class) and their labels."""
    g = torch.Generator().manual_seed(1)
    low = torch.randint(0, N_CLASSES, (2, 6, 8), generator=g)
    y = F.interpolate(low[:, None].float(), size=(48, 64), mode="nearest")[:, 0].long()
    colours = torch.rand(N_CLASSES, 3, generator=g)
    x = colours[y].permute(0, 3, 1, 2) + 0.05 * torch.randn(2, 3, 48, 64, generator=g)
    return x, y


@pytest.mark.parametrize("arch", SEED_ARCHS)
def test_a_few_training_steps_lower_the_loss(arch):
    model = _small(arch).train()
    x, y = _tiny_set()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(16):
        loss = F.cross_entropy(model(x), y)
        for aux in getattr(model, "aux_logits", []):
            assert aux.shape == (2, N_CLASSES, 48, 64)
            loss = loss + 0.5 * F.cross_entropy(aux, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    # the BN-free VGG nets (DeepLab-v1, dilated) start slowly; the others drop by far more than 2 %
    assert losses[-1] < 0.98 * losses[0], losses
    assert min(losses[-4:]) < min(losses[:4]), losses


def _randomise_bn(model):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model


@pytest.mark.parametrize("arch", SEED_ARCHS)
def test_save_load_gives_identical_outputs(arch, tmp_path):
    from segstudio.models.loading import generic_labels

    model = _randomise_bn(_small(arch)).eval()
    ckpt = Checkpoint(arch, generic_labels(N_CLASSES), model.state_dict(), dict(SMALL[arch]))
    save_checkpoint(ckpt, tmp_path / "m.pt")
    again = load_checkpoint(tmp_path / "m.pt").build()
    x = torch.rand(1, 3, 37, 53)
    with torch.inference_mode():
        assert torch.equal(model(x), again(x))


@pytest.mark.parametrize("arch", SEED_ARCHS)
def test_onnx_agrees_with_torch(arch, tmp_path):
    pytest.importorskip("onnxruntime")
    from segstudio.models.loading import generic_labels
    from segstudio.models.onnx_engine import OnnxModel, export_onnx

    model = _randomise_bn(_small(arch)).eval()
    report = export_onnx(model, tmp_path / "m.onnx", generic_labels(N_CLASSES), arch=arch,
                         arch_options=SMALL[arch], sample_size=(64, 96), benchmark_size=None)
    onnx_model = OnnxModel(tmp_path / "m.onnx")
    x = torch.randn(1, 3, 45, 71)
    with torch.inference_mode():
        ref = model(x).numpy()
    got = onnx_model.logits(x.numpy())
    assert got.shape == ref.shape
    assert abs(got - ref).max() < 1e-4, report


# --- building blocks --------------------------------------------------------------------------

def test_dilated_context_module_starts_as_identity_on_non_negative_scores():
    from segstudio.models.archs.dilated import ContextModule

    ctx = ContextModule(5).eval()
    x = torch.rand(1, 5, 20, 24)
    with torch.inference_mode():
        assert torch.allclose(ctx(x), x)
    assert [c.dilation[0] for c in ctx.layers if isinstance(c, torch.nn.Conv2d)][:7] == [1, 1, 2, 4, 8, 16, 1]


def test_deeplabv1_is_output_stride_8_with_largefov():
    m = registry.build_model("deeplabv1", 3, width_mult=1 / 16).eval()
    with torch.inference_mode():
        # three stride-2 3×3 pools with Caffe's rounding up: (L - 1) // 8 + 1, then stride-1 pools
        assert m.pool5a(m.features(torch.rand(1, 3, 64, 96))).shape[-2:] == (9, 13)
    assert m.fc[0].dilation == (12, 12) and m.features[24].dilation == (2, 2)


def test_deeplabv2_sums_four_atrous_branches():
    m = registry.build_model("deeplabv2", 3, **SMALL["deeplabv2"])
    assert [b.dilation[0] for b in m.classifier.branches] == [6, 12, 18, 24]
    x = torch.rand(1, m.classifier.branches[0].in_channels, 9, 11)
    with torch.inference_mode():
        assert torch.allclose(m.classifier(x), sum(b(x) for b in m.classifier.branches), atol=1e-6)


def test_vgg_trunks_keep_torchvision_vgg16_keys():
    from torchvision.models import vgg16

    with torch.device("meta"):
        theirs = {k: tuple(v.shape) for k, v in vgg16(weights=None).features.state_dict().items()}
        for arch in ("deeplabv1", "dilated"):
            ours = registry.build_model(arch, 3).features.state_dict()
            assert {k: tuple(v.shape) for k, v in ours.items()} == theirs


def test_gcn_block_is_separable_large_kernel():
    from segstudio.models.archs.gcn import GlobalConv

    g = GlobalConv(8, 3, 15)
    assert [c.kernel_size for c in g.left] == [(15, 1), (1, 15)]
    assert [c.kernel_size for c in g.right] == [(1, 15), (15, 1)]
    with pytest.raises(ValueError):
        GlobalConv(8, 3, 4)


def test_refinenet_chained_pooling_and_cascade():
    m = _small("refinenet")
    assert len(m.refine4.adapt) == 1 and all(len(b.adapt) == 2 for b in (m.refine3, m.refine2, m.refine1))
    assert len(m.refine1.crp.convs) == 2


def test_unetpp_pruned_inference_reuses_weights_and_runs_fewer_nodes():
    full = registry.build_model("unetpp", 3, width=4, depth=3, deep_supervision=True).eval()
    pruned = registry.build_model("unetpp", 3, width=4, depth=3, deep_supervision=True, prune=1).eval()
    pruned.load_state_dict(full.state_dict())
    x = torch.rand(1, 3, 40, 56)
    with torch.inference_mode():
        y = pruned(x)
    assert y.shape == (1, 3, 40, 56)
    with pytest.raises(ValueError, match="deep_supervision"):
        registry.build_model("unetpp", 3, prune=2)


def test_unetpp_deep_supervision_output_is_the_mean_of_the_heads():
    m = registry.build_model("unetpp", 3, width=4, depth=2, deep_supervision=True).train()
    y = m(torch.rand(1, 3, 32, 32))
    assert len(m.aux_logits) == 2
    assert torch.allclose(y, torch.stack(m.aux_logits).mean(0), atol=1e-6)
    m.eval()
    with torch.inference_mode():
        m(torch.rand(1, 3, 32, 32))
    assert m.aux_logits == []


def test_unet3p_aux_outputs_only_in_training():
    m = _small("unet3p").train()
    m(torch.rand(1, 3, 32, 48))
    assert len(m.aux_logits) == 4 and m.aux_presence.shape == (1, N_CLASSES)
    m.eval()
    with torch.inference_mode():
        m(torch.rand(1, 3, 32, 48))
    assert m.aux_logits == [] and m.aux_presence is None


# --- pretrained backbones from local files ------------------------------------------------------

@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    from torchvision.models import resnet18

    torch.manual_seed(3)
    path = tmp_path_factory.mktemp("tv") / "resnet18-f37072fd.pth"
    torch.save(resnet18(weights=None).state_dict(), path)
    return path


def test_backbone_weights_from_a_local_torchvision_file(resnet18_file, tmp_path):
    from segstudio.models.loading import generic_labels
    from segstudio.models.pretrained import start_checkpoint

    opts = {"backbone": "resnet18", "features": 8}
    init = start_checkpoint("refinenet", opts, generic_labels(3), resnet18_file, tmp_path / "m.pt")
    assert init == tmp_path / "m.init.pt"
    ckpt = load_checkpoint(init)
    src = torch.load(resnet18_file, weights_only=True)
    assert torch.allclose(ckpt.state_dict["backbone.layer4.1.conv2.weight"].float(), src["layer4.1.conv2.weight"],
                          atol=1e-3)   # fp16 storage
    record = ckpt.arch_options["backbone_init"]
    assert record["file"] == "resnet18-f37072fd.pth" and len(record["sha256"]) == 64 and record["tensors"] == 100
    assert ckpt.build()(torch.rand(1, 3, 33, 47)).shape == (1, 3, 33, 47)   # the record is inert when building


def test_backbone_weights_from_the_hub_cache_only(resnet18_file, tmp_path, monkeypatch):
    import shutil

    from segstudio.models.loading import generic_labels
    from segstudio.models.pretrained import BackboneWeightsError, start_checkpoint

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    with pytest.raises(BackboneWeightsError, match="nothing is downloaded"):
        start_checkpoint("gcn", {"backbone": "resnet18", "k": 7}, generic_labels(3), "hub", tmp_path / "a.pt")
    (tmp_path / "th" / "hub" / "checkpoints").mkdir(parents=True)
    shutil.copy(resnet18_file, tmp_path / "th" / "hub" / "checkpoints")
    init = start_checkpoint("gcn", {"backbone": "resnet18", "k": 7}, generic_labels(3), "hub", tmp_path / "a.pt")
    assert load_checkpoint(init).meta["backbone_weights"]["path"].startswith(str(tmp_path / "th"))


def test_backbone_weights_that_do_not_fit_are_refused(resnet18_file, tmp_path):
    from segstudio.models.loading import generic_labels
    from segstudio.models.pretrained import BackboneWeightsError, start_checkpoint

    with pytest.raises(BackboneWeightsError, match="tensors fit"):
        start_checkpoint("deeplabv1", {"width_mult": 1 / 16}, generic_labels(3), resnet18_file, tmp_path / "b.pt")
    with pytest.raises(BackboneWeightsError, match="no pretrained backbone"):
        start_checkpoint("unetpp", {}, generic_labels(3), resnet18_file, tmp_path / "c.pt")


def test_cpu_latency_and_models_verb(capsys):
    from segstudio.cli import main
    from segstudio.models.summary import cpu_latency

    assert 0 < cpu_latency("unetpp", 3, size=(32, 48), width=4, depth=2) < 10
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n{a} " in out for a in SEED_ARCHS)
