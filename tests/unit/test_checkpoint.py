"""Model files: SegStudio checkpoints, bare (torchvision) state dicts, TorchScript, ONNX — and the
refusals: pickled code, truncated files, wrong architecture, class-count mismatch."""

from __future__ import annotations

import os

import pytest
import torch

from segstudio.core.labels import preset
from segstudio.models.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from segstudio.models.loading import generic_labels, infer_architecture, load_model_file
from segstudio.models.registry import build_model

SMALL_UNET = {"width": 8, "depth": 3}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _ckpt(arch="unet", opts=None, labels=None, **kw) -> Checkpoint:
    opts = SMALL_UNET if opts is None and arch == "unet" else (opts or {})
    labels = labels or preset("camvid")
    model = build_model(arch, labels.num_classes, **opts)
    return Checkpoint(arch=arch, labels=labels, state_dict=model.state_dict(), arch_options=opts, **kw)


def _randomise_bn(model: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial BatchNorm statistics, so that round trips test them too."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def test_round_trip_gives_identical_outputs(tmp_path):
    model = _randomise_bn(build_model("unet", 11, **SMALL_UNET))
    ckpt = Checkpoint("unet", preset("camvid"), model.state_dict(), SMALL_UNET, mean=(0.5, 0.5, 0.5),
                      std=(0.25, 0.25, 0.25), meta={"epochs": 3})
    save_checkpoint(ckpt, tmp_path / "m.pt")
    loaded = load_model_file(tmp_path / "m.pt")
    assert loaded.kind == "checkpoint" and loaded.arch == "unet" and loaded.labels == preset("camvid")
    assert loaded.mean == (0.5, 0.5, 0.5) and loaded.std == (0.25, 0.25, 0.25) and loaded.meta == {"epochs": 3}
    x = torch.rand(2, 3, 45, 61)
    with torch.inference_mode():
        assert torch.equal(model(x), loaded.build_module()(x))


def test_half_checkpoint_is_close(tmp_path):
    model = _randomise_bn(build_model("lraspp", 4, width_mult=0.25))
    save_checkpoint(Checkpoint("lraspp", generic_labels(4), model.state_dict(), {"width_mult": 0.25}),
                    tmp_path / "h.pt", half=True)
    x = torch.rand(1, 3, 40, 48)
    with torch.inference_mode():
        assert torch.allclose(model(x), load_model_file(tmp_path / "h.pt").build_module()(x), atol=5e-2)


@pytest.mark.parametrize("wrap", ["plain", "nested", "dataparallel"])
def test_bare_state_dict_is_inferred(tmp_path, wrap):
    model = _randomise_bn(build_model("unet-light", 11))
    sd = model.state_dict()
    data = {"plain": sd, "nested": {"model": sd, "epoch": 3},
            "dataparallel": {"module." + k: v for k, v in sd.items()}}[wrap]
    torch.save(data, tmp_path / "sd.pth")
    loaded = load_model_file(tmp_path / "sd.pth", labels=preset("camvid"))
    assert loaded.kind == "state_dict" and loaded.arch == "unet-light" and loaded.num_classes == 11
    x = torch.rand(1, 3, 40, 52)
    with torch.inference_mode():
        assert torch.equal(model(x), loaded.build_module()(x))


@pytest.mark.parametrize("arch,opts", [
    ("unet", SMALL_UNET), ("fcn8s", {"width_mult": 0.0625}), ("fcn16s", {"width_mult": 0.0625}),
    ("segnet", {"width_mult": 0.0625}), ("lraspp", {"width_mult": 0.25}),
    ("deeplabv3plus", {"backbone": "mobilenetv3", "backbone_width": 0.25, "aspp_channels": 16}),
    ("pspnet", {"backbone": "mobilenetv3", "backbone_width": 0.25, "channels": 16}),
])
def test_architecture_inference_from_keys(arch, opts):
    with torch.device("meta"):
        sd = build_model(arch, 7, **opts).state_dict()
    assert infer_architecture(sd) == (arch, opts, 7)


def test_torchvision_deeplab_state_dict_reproduces_torchvision(tmp_path):
    from torchvision.models.segmentation import deeplabv3_mobilenet_v3_large

    tv = _randomise_bn(deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=5,
                                                    aux_loss=True))
    torch.save(tv.state_dict(), tmp_path / "tv.pth")
    loaded = load_model_file(tmp_path / "tv.pth")  # arch and class count from the keys; aux head dropped
    assert loaded.arch == "deeplabv3" and loaded.num_classes == 5
    assert loaded.arch_options["backbone"] == "mobilenetv3"
    assert [c.name for c in loaded.labels.classes] == [f"class_{i}" for i in range(5)]
    x = torch.rand(1, 3, 57, 75)
    with torch.inference_mode():
        assert torch.allclose(tv(x)["out"], loaded.build_module()(x), atol=1e-5)


def test_torchvision_lraspp_state_dict(tmp_path):
    from torchvision.models.segmentation import lraspp_mobilenet_v3_large

    tv = _randomise_bn(lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=3))
    torch.save(tv.state_dict(), tmp_path / "lr.pt")
    loaded = load_model_file(tmp_path / "lr.pt", arch="lraspp", num_classes=3)
    x = torch.rand(1, 3, 50, 66)
    with torch.inference_mode():
        assert torch.allclose(tv(x)["out"], loaded.build_module()(x), atol=1e-5)


def test_uninferable_state_dict_says_so(tmp_path):
    torch.save({"foo.weight": torch.zeros(3, 3), "bar.bias": torch.zeros(3)}, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match=r"odd\.pt.*cannot tell which architecture.*--arch"):
        load_model_file(tmp_path / "odd.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match=r"list\.pt.*not a model checkpoint.*list"):
        load_model_file(tmp_path / "list.pt")


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvilOpen:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("evil", [_Evil, _EvilOpen])
def test_pickled_code_is_refused_and_never_runs(tmp_path, evil):
    marker = tmp_path / "pwned"
    ckpt = _ckpt().to_dict()
    ckpt["meta"] = {"payload": evil(str(marker))}
    torch.save(ckpt, tmp_path / "evil.pt")
    assert not marker.exists()
    with pytest.raises(CheckpointError, match=r"evil\.pt: refused: .*pickled Python code"):
        load_model_file(tmp_path / "evil.pt")
    assert not marker.exists()


def test_truncated_file(tmp_path):
    save_checkpoint(_ckpt(), tmp_path / "full.pt")
    data = (tmp_path / "full.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pt: file is truncated"):
        load_model_file(tmp_path / "cut.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=r"junk\.pt"):
        load_model_file(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_model_file(tmp_path / "missing.pt")


def test_wrong_architecture(tmp_path):
    save_checkpoint(_ckpt(), tmp_path / "u.pt")
    with pytest.raises(CheckpointError, match=r"u\.pt: wrong architecture: the checkpoint holds 'unet'.*'segnet'"):
        load_model_file(tmp_path / "u.pt", arch="segnet")
    torch.save(build_model("unet-light", 11).state_dict(), tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match=r"bare\.pt: wrong architecture: .*'segnet'.*look like 'unet-light'"):
        load_model_file(tmp_path / "bare.pt", arch="segnet", num_classes=11)
    lying = _ckpt()
    lying.arch, lying.arch_options = "segnet", {"width_mult": 0.0625}
    save_checkpoint(lying, tmp_path / "lying.pt")
    with pytest.raises(CheckpointError, match=r"lying\.pt: wrong architecture: .*'segnet'.*look like 'unet'"):
        load_model_file(tmp_path / "lying.pt")


def test_class_count_mismatch(tmp_path):
    save_checkpoint(_ckpt(), tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=r"c\.pt: class-count mismatch: .*11.*'voc' defines 21"):
        load_model_file(tmp_path / "c.pt", labels=preset("voc"))
    with pytest.raises(CheckpointError, match=r"c\.pt: class-count mismatch: .*11 classes.*requested 5"):
        load_model_file(tmp_path / "c.pt", num_classes=5)
    torch.save(build_model("unet", 4, **SMALL_UNET).state_dict(), tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match=r"b\.pt: class-count mismatch: the model has 4 .*'camvid' defines 11"):
        load_model_file(tmp_path / "b.pt", labels=preset("camvid"))
    bad = _ckpt(labels=preset("camvid"))
    bad.labels = preset("voc")  # weights for 11 classes, label set of 21
    save_checkpoint(bad, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"bad\.pt: class-count mismatch: its weights output 11 .*21"):
        load_model_file(tmp_path / "bad.pt")


def test_labels_may_rename_classes(tmp_path):
    save_checkpoint(_ckpt(labels=generic_labels(2)), tmp_path / "two.pt")
    loaded = load_model_file(tmp_path / "two.pt", labels=preset("binary"))
    assert loaded.labels.names == ["background", "foreground"]
    assert load_checkpoint(tmp_path / "two.pt").labels.names == ["class_0", "class_1"]


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_torchscript_only_when_explicit(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1)).eval()
    traced = torch.jit.trace(model, torch.rand(1, 3, 16, 16))
    traced.save(str(tmp_path / "m.ts"))
    loaded = load_model_file(tmp_path / "m.ts")
    assert loaded.kind == "torchscript" and loaded.num_classes == 4
    traced.save(str(tmp_path / "disguised.pt"))
    with pytest.raises(CheckpointError, match=r"disguised\.pt: refused: this is a TorchScript archive"):
        load_model_file(tmp_path / "disguised.pt")
    assert load_model_file(tmp_path / "disguised.pt", allow_torchscript=True).num_classes == 4


def test_onnx_file_is_self_describing(tmp_path):
    from segstudio.models.onnx_engine import export_onnx

    model = build_model("unet", 11, **SMALL_UNET).eval()
    export_onnx(model, tmp_path / "m.onnx", preset("camvid"), mean=(0.4, 0.4, 0.4), std=(0.2, 0.2, 0.2),
                arch="unet", arch_options=SMALL_UNET)
    loaded = load_model_file(tmp_path / "m.onnx")
    assert loaded.kind == "onnx" and loaded.arch == "unet" and loaded.arch_options == SMALL_UNET
    assert loaded.labels == preset("camvid") and loaded.mean == (0.4, 0.4, 0.4)
    with pytest.raises(CheckpointError, match="class-count mismatch"):
        load_model_file(tmp_path / "m.onnx", labels=preset("voc"))
