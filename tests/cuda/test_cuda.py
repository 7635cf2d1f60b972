"""The GPU path on a real CUDA device (skipped with a reason on CPU-only machines, i.e. in CI).

Run on a lent GPU machine by ``scripts/gpu_check.sh`` (``pytest -m cuda tests/cuda``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from segstudio.paths import default_model_path

pytestmark = pytest.mark.cuda


def _street_image(seed: int = 0, h: int = 360, w: int = 480) -> np.ndarray:
    """A CamVid val image when the data is here, else a smooth synthetic scene."""
    camvid = Path(os.environ.get("SEGSTUDIO_CAMVID", Path(__file__).resolve().parents[2].parent / "shared/data/camvid"))
    files = sorted((camvid / "val").glob("*.png")) if (camvid / "val").is_dir() else []
    if files:
        from segstudio.core.images import read_image

        return read_image(files[seed % len(files)]).rgb
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (h // 24, w // 24, 3)).astype(np.uint8)
    import cv2

    return cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)


def test_auto_selects_cuda():
    from segstudio.models.devices import doctor_report, select_device

    assert select_device("auto").type == "cuda"
    rep = doctor_report()
    assert rep["auto_device"].startswith("cuda") and rep["cuda_devices"] and rep["why"].startswith("GPU used")


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_autocast_agrees_with_fp32(precision):
    from segstudio.models.predictor import Predictor

    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    ref = Predictor(default_model_path(), device="cuda", engine="torch", precision="fp32")
    low = Predictor(default_model_path(), device="cuda", engine="torch", precision=precision)
    agree = []
    for seed in range(3):
        image = _street_image(seed)
        agree.append((ref.predict(image, want_probs=False).labels == low.predict(image, want_probs=False).labels).mean())
    assert min(agree) >= 0.995, agree


def test_torch_crf_on_cuda_agrees_with_pydensecrf():
    pytest.importorskip("pydensecrf.densecrf", reason="pydensecrf2 is not installed (carry its wheel)")
    from segstudio.core.crf import refine_labels
    from segstudio.core.crf_params import CRFParams
    from segstudio.models.crf_torch import refine_labels_torch
    from segstudio.models.predictor import Predictor

    image = _street_image(1)
    probs = Predictor(default_model_path(), device="cuda").predict(image).probs
    params = CRFParams.shipped()
    cpu = refine_labels(image, probs, params)
    gpu = refine_labels_torch(image, probs, params, device="cuda")
    assert (cpu == gpu).mean() >= 0.995


def test_amp_training_steps_lower_the_loss():
    from segstudio.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("unet-light", 3).cuda().to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    from segstudio.models.train.accel import Precision

    precision = Precision(torch.device("cuda"))          # what `segstudio train` uses: bf16, else fp16 + scaler
    assert precision.dtype is not None
    x = torch.randn(4, 3, 128, 128, device="cuda").to(memory_format=torch.channels_last)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 1).long()
    losses = []
    for _ in range(30):
        with precision.autocast():
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        precision.backward_step(loss, opt)
        losses.append(float(loss))
    assert np.isfinite(losses).all() and losses[-1] < 0.7 * losses[0], losses


def test_train_verb_runs_on_cuda(tmp_path):
    from segstudio.cli import main
    from segstudio.core.masks import write_mask
    from segstudio.core.labels import preset
    from segstudio.models.checkpoint import load_checkpoint
    from PIL import Image

    labels = preset("binary")
    (tmp_path / "img").mkdir()
    (tmp_path / "msk").mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        rgb = rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)
        Image.fromarray(rgb).save(tmp_path / "img" / f"{i}.png")
        write_mask(tmp_path / "msk" / f"{i}.png", (rgb[..., 0] > 127).astype(np.uint8), labels)
    out = tmp_path / "m.pt"
    rc = main(["train", "--images", str(tmp_path / "img"), "--masks", str(tmp_path / "msk"), "--labels", "binary",
               "--arch", "unet-light", "--epochs", "3", "--batch-size", "2", "--crop", "64,64", "--device", "cuda",
               "--out", str(out)])
    assert rc == 0 and out.exists()
    assert load_checkpoint(out).arch == "unet-light"


def test_gui_engine_predicts_on_cuda():
    pytest.importorskip("PySide6", reason="PySide6 is not installed on this GPU machine")
    from segstudio.core.labels import preset
    from segstudio.gui.prediction.engine import ModelSpec, load_predictor, predict

    model = load_predictor(ModelSpec(str(default_model_path()), device="cuda"))
    assert model.info["device"].startswith("cuda")
    labels, probs = predict(model, _street_image(2), None, preset("camvid"))
    assert labels.shape == (360, 480) and probs is not None and probs.shape[0] == 11


def test_out_of_memory_falls_back_to_tiles():
    from segstudio.models.predictor import Predictor

    pred = Predictor(default_model_path(), device="cuda", engine="torch", tile=0)
    free, total = torch.cuda.mem_get_info()
    torch.cuda.set_per_process_memory_fraction(min(1.0, (torch.cuda.memory_allocated() + (1 << 30)) / total))
    try:
        image = np.zeros((8192, 8192, 3), np.uint8)     # whole-image activations need tens of GB
        got = pred.predict(image, want_probs=False)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()
    assert got.labels.shape == (8192, 8192)
    assert pred.notices and "did not fit" in pred.notices[0]
