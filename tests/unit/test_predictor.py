"""Predictor: normalisation, labels/probs, batches, tiling, long-side limit, ONNX engine, devices,
and the doctor/models/export-onnx verbs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from segstudio.cli import main
from segstudio.core.labels import preset
from segstudio.models import tiling
from segstudio.models.checkpoint import Checkpoint, save_checkpoint
from segstudio.models.devices import DeviceError, doctor_report, select_device
from segstudio.models.loading import generic_labels
from segstudio.models.predictor import Predictor, PredictorError
from segstudio.models.registry import build_model

SMALL_UNET = {"width": 8, "depth": 3}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A blurred random RGB image (structure at several scales, like a photo)."""
    import cv2

    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (9, 9), 3)


def tiny_net(classes: int = 5, gain: float = 10.0) -> torch.nn.Module:
    """Small receptive field, confident outputs: tiles and whole image should agree."""
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, classes, 3, padding=1))
    with torch.no_grad():
        net[2].weight.mul_(gain)
    return net.eval()


class Identity3(torch.nn.Module):
    def forward(self, x):
        return x.clone()


def test_normalisation_uses_mean_std():
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 0.125)
    p = Predictor(Identity3(), device="cpu", labels=generic_labels(3), mean=mean, std=std, tile=0)
    rgb = smooth_image(20, 30)
    pred = p.predict(rgb)
    x = (torch.from_numpy(rgb).permute(2, 0, 1).float() / 255 - torch.tensor(mean).view(3, 1, 1)) \
        / torch.tensor(std).view(3, 1, 1)
    assert np.allclose(pred.probs, torch.softmax(x, 0).numpy(), atol=1e-6)
    assert np.array_equal(pred.labels, x.argmax(0).numpy().astype(np.uint8))


def test_predict_from_checkpoint_path_and_describe(tmp_path):
    model = build_model("unet", 11, **SMALL_UNET)
    ckpt = Checkpoint("unet", preset("camvid"), model.state_dict(), SMALL_UNET, mean=(0.3, 0.3, 0.3),
                      std=(0.2, 0.2, 0.2))
    save_checkpoint(ckpt, tmp_path / "m.pt")
    for source in (tmp_path / "m.pt", str(tmp_path / "m.pt"), ckpt):
        p = Predictor(source, device="auto", engine="auto")
        d = p.describe()
        assert d["arch"] == "unet" and d["classes"] == preset("camvid").names
        assert d["mean"] == [0.3, 0.3, 0.3] and d["device"] == "cpu" and d["engine"] == "torch"
        assert p.labels == preset("camvid")
    pred = p.predict(smooth_image(37, 53))
    assert pred.labels.shape == (37, 53) and pred.labels.dtype == np.uint8
    assert pred.probs.shape == (11, 37, 53) and pred.probs.dtype == np.float32
    assert pred.probs.flags.c_contiguous
    assert np.allclose(pred.probs.sum(0), 1, atol=1e-5)
    assert np.array_equal(pred.labels, pred.probs.argmax(0))
    assert p.predict(smooth_image(37, 53), want_probs=False).probs is None


def test_inputs_grey_rgba_and_bad():
    p = Predictor(tiny_net(), device="cpu", tile=0)
    rgb = smooth_image(16, 20)
    grey = rgb[..., 0]
    assert np.array_equal(p.predict(grey).labels, p.predict(np.repeat(grey[..., None], 3, 2)).labels)
    rgba = np.concatenate([rgb, np.full((16, 20, 1), 7, np.uint8)], axis=2)
    assert np.array_equal(p.predict(rgba).labels, p.predict(rgb).labels)
    with pytest.raises(PredictorError, match="uint8"):
        p.predict(rgb.astype(np.float32))
    with pytest.raises(PredictorError, match="H×W×3"):
        p.predict(np.zeros((4, 4, 2), np.uint8))


def test_predict_batch_matches_predict():
    p = Predictor(tiny_net(), device="cpu", tile=0, batch_size=3)
    images = [smooth_image(24, 32, s) for s in range(4)] + [smooth_image(20, 28, 9)]
    batch = p.predict_batch(images)
    for img, got in zip(images, batch):
        one = p.predict(img)
        assert np.array_equal(one.labels, got.labels)
        assert np.allclose(one.probs, got.probs, atol=1e-6)


def test_many_classes_give_uint16_labels():
    p = Predictor(tiny_net(300, gain=1.0), device="cpu", tile=0)
    assert p.predict(smooth_image(8, 8)).labels.dtype == np.uint16


# --- tiling -----------------------------------------------------------------------------------

def test_tile_starts_cover_and_overlap():
    for length in (1, 50, 64, 65, 200, 1000, 1023):
        for tile, ov in ((64, 16), (100, 0), (256, 128)):
            starts = tiling.tile_starts(length, tile, ov)
            t = min(tile, length)
            assert starts[0] == 0 and starts[-1] + t >= length and starts[-1] <= max(0, length - t)
            for a, b in zip(starts, starts[1:]):
                assert a + t - b >= ov  # neighbours overlap by at least ``ov``
    with pytest.raises(ValueError):
        tiling.tile_starts(100, 10, 10)


def test_tiled_agrees_with_whole_image():
    img = smooth_image(150, 203)
    p = Predictor(tiny_net(), device="cpu", tile=0)
    whole = p.predict(img)
    p.tile, p.tile_overlap = 64, 16
    tiled = p.predict(img)
    assert (whole.labels == tiled.labels).mean() >= 0.995
    diff = np.abs(whole.probs - tiled.probs)
    assert diff.mean() < 1e-3 and diff.max() < 0.1
    assert np.allclose(tiled.probs.sum(0), 1, atol=1e-5)


def test_tiled_memory_budget_drops_full_probs_but_keeps_labels():
    img = smooth_image(90, 120)
    p = Predictor(tiny_net(), device="cpu", tile=0)
    labels, probs = tiling.predict_tiled(img, p.tile_probs, 5, 40, 10, want_probs=True, budget=1000)
    assert probs is None
    ref, ref_probs = tiling.predict_tiled(img, p.tile_probs, 5, 40, 10, want_probs=True)
    assert np.array_equal(labels, ref) and ref_probs.shape == (5, 90, 120)


def test_upsample_probs_equals_interpolate():
    small = np.random.default_rng(0).random((4, 13, 17), dtype=np.float32)
    labels, probs = tiling.upsample_probs(small, 40, 61, want_probs=True)
    ref = F.interpolate(torch.from_numpy(small)[None], size=(40, 61), mode="bilinear", align_corners=False)[0]
    assert np.allclose(probs, ref.numpy(), atol=1e-5)
    assert np.array_equal(labels, ref.argmax(0).numpy())


def test_max_side_predicts_at_reduced_size():
    img = smooth_image(120, 160)
    net = tiny_net()
    p = Predictor(net, device="cpu", tile=0, max_side=80)
    pred = p.predict(img)
    assert pred.labels.shape == (120, 160) and pred.probs.shape == (5, 120, 160)
    small = Predictor(net, device="cpu", tile=0).predict(tiling.resize_rgb(img, 0.5))
    assert small.probs.shape == (5, 60, 80)
    ref = F.interpolate(torch.from_numpy(small.probs)[None], size=(120, 160), mode="bilinear", align_corners=False)[0]
    assert np.allclose(pred.probs, ref.numpy(), atol=1e-5)
    p.tile = 32  # tiled at reduced size, then upsampled
    assert p.predict(img, want_probs=False).labels.shape == (120, 160)


# --- ONNX ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from segstudio.models.onnx_engine import export_onnx, file_sha256

    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("onnx")
    model = build_model("unet", 11, **SMALL_UNET).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 2)
    ckpt = Checkpoint("unet", preset("camvid"), model.state_dict(), SMALL_UNET)
    save_checkpoint(ckpt, folder / "m.pt")
    export_onnx(model, folder / "m.onnx", preset("camvid"), arch="unet", arch_options=SMALL_UNET,
                source_sha256=file_sha256(folder / "m.pt"), benchmark_size=None)
    _set_speedup(folder / "m.onnx", "2.000")  # deterministic stand-in for the export-time timing
    return folder, model


def _set_speedup(path, value: str) -> None:
    import onnx

    proto = onnx.load(str(path))
    for p in proto.metadata_props:
        if p.key == "segstudio.cpu_speedup_vs_torch":
            p.value = value
    onnx.save(proto, str(path))


def test_onnx_logits_agree_with_torch(exported):
    from segstudio.models.onnx_engine import OnnxModel

    folder, model = exported
    onnx_model = OnnxModel(folder / "m.onnx")
    for shape in ((1, 3, 64, 96), (2, 3, 45, 77)):  # dynamic batch / height / width, odd sizes padded
        x = torch.randn(*shape)
        with torch.inference_mode():
            ref = model(x).numpy()
        assert np.abs(onnx_model.logits(x.numpy()) - ref).max() < 1e-4


def test_engine_auto_uses_valid_onnx_sibling(exported, tmp_path):
    folder, _ = exported
    auto = Predictor(folder / "m.pt", device="cpu")
    torch_p = Predictor(folder / "m.pt", device="cpu", engine="torch")
    assert auto.engine == "onnxruntime" and torch_p.engine == "torch"
    assert auto.labels == torch_p.labels == preset("camvid")
    img = smooth_image(50, 70)
    a, b = auto.predict(img), torch_p.predict(img)
    assert np.allclose(a.probs, b.probs, atol=1e-4)
    assert (a.labels == b.labels).mean() > 0.999
    # a sibling exported from another file is ignored
    other = tmp_path / "m.pt"
    save_checkpoint(Checkpoint("unet", preset("camvid"), build_model("unet", 11, **SMALL_UNET).state_dict(),
                               SMALL_UNET), other)
    (tmp_path / "m.onnx").write_bytes((folder / "m.onnx").read_bytes())
    assert Predictor(other, device="cpu").engine == "torch"
    onnx_direct = Predictor(folder / "m.onnx", device="cpu")
    assert onnx_direct.engine == "onnxruntime" and onnx_direct.describe()["arch"] == "unet"
    with pytest.raises(PredictorError, match="onnxruntime engine, not torch"):
        Predictor(folder / "m.onnx", engine="torch")


def test_engine_auto_keeps_torch_where_onnx_measured_slower(exported, tmp_path):
    folder, _ = exported
    for name in ("m.pt", "m.onnx"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    _set_speedup(tmp_path / "m.onnx", "0.800")
    assert Predictor(tmp_path / "m.pt", device="cpu").engine == "torch"
    assert Predictor(tmp_path / "m.pt", device="cpu", engine="onnxruntime").engine == "onnxruntime"


def test_explicit_onnxruntime_exports_into_cache(tmp_path, monkeypatch):
    from segstudio.models import onnx_engine

    monkeypatch.setenv("SEGSTUDIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(onnx_engine, "cpu_speed_ratio", lambda *a, **k: 1.5)
    save_checkpoint(Checkpoint("unet", generic_labels(3), build_model("unet", 3, **SMALL_UNET).state_dict(),
                               SMALL_UNET), tmp_path / "l.pt")
    p = Predictor(tmp_path / "l.pt", device="cpu", engine="onnxruntime")
    assert p.engine == "onnxruntime" and list((tmp_path / "cache" / "onnx").glob("*.onnx"))
    assert Predictor(tmp_path / "l.pt", device="cpu").engine == "onnxruntime"  # auto finds the cache
    with pytest.raises(PredictorError, match="unknown engine"):
        Predictor(tmp_path / "l.pt", engine="tensorrt")


def test_export_onnx_verb(exported, tmp_path, capsys):
    folder, _ = exported
    assert main(["export-onnx", str(folder / "m.pt"), "--out", str(tmp_path / "x.onnx")]) == 0
    assert "wrote" in capsys.readouterr().out
    from segstudio.models.onnx_engine import read_metadata

    meta = read_metadata(tmp_path / "x.onnx")
    assert meta["format"] == "segstudio-onnx" and meta["arch"] == "unet"
    assert float(meta["cpu_speedup_vs_torch"]) > 0  # measured at export on this CPU
    assert json.loads(meta["labels"])["name"] == "camvid" and len(json.loads(meta["mean"])) == 3


# --- devices / doctor / models ------------------------------------------------------------------

def test_device_selection():
    assert select_device("cpu").type == "cpu"
    auto = select_device("auto")
    assert auto.type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        assert auto.type in ("mps", "cpu")
        with pytest.raises(DeviceError, match="CUDA is not usable"):
            select_device("cuda")
    with pytest.raises(DeviceError, match="unknown device"):
        select_device("tpu")


def test_doctor_report_and_verbs(capsys):
    rep = doctor_report()
    for key in ("torch", "torch_cuda_build", "cuda_available", "cuda_devices", "mps_available", "why",
                "onnxruntime_providers", "pydensecrf", "qt_importable"):
        assert key in rep
    assert main(["doctor", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["auto_device"] == rep["auto_device"]
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for arch in ("unet-light", "fcn8s", "segnet", "deeplabv3plus", "pspnet", "lraspp"):
        assert arch in out
