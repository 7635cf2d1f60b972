"""Test-time augmentation: flip / multi-scale probability averaging in the Predictor, with tiling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from segstudio.core.errors import SegStudioError
from segstudio.models import tta
from segstudio.models.predictor import Predictor


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def image(h: int, w: int, seed: int = 0) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (9, 9), 3)


def net(classes: int = 4) -> torch.nn.Module:
    """Deliberately not mirror-symmetric (a 1×3 kernel with random weights), so flipping matters."""
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 6, (1, 3), padding=(0, 1)), torch.nn.ReLU(),
                            torch.nn.Conv2d(6, classes, 3, padding=1))
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(4.0)
    return m.eval()


def plain_probs(p: Predictor, rgb: np.ndarray) -> np.ndarray:
    return Predictor(p.loaded, device="cpu", tile=0).predict(rgb).probs


def test_flip_averages_the_mirrored_prediction():
    m, img = net(), image(30, 41)
    p = Predictor(m, device="cpu", tile=0, tta="flip")
    got = p.predict(img)
    a = plain_probs(p, img)
    b = plain_probs(p, np.ascontiguousarray(img[:, ::-1]))[:, :, ::-1]
    assert not np.allclose(a, b, atol=1e-3)                 # the mirror really differs
    assert np.allclose(got.probs, (a + b) / 2, atol=1e-5)
    assert np.array_equal(got.labels, got.probs.argmax(0))


def test_multiscale_uses_three_scales_with_flips():
    m, img = net(), image(32, 48)
    calls: list[tuple[int, ...]] = []
    p = Predictor(m, device="cpu", tile=0, tta="ms")
    real = p._runner.logits
    p._runner.logits = lambda batch: (calls.append(batch.shape), real(batch))[1]
    got = p.predict(img)
    assert sorted(c[1:3] for c in calls) == [(24, 36), (32, 48), (40, 60)] and all(c[0] == 2 for c in calls)
    assert tta.passes("ms") == 6
    assert np.allclose(got.probs.sum(0), 1, atol=1e-5)
    # the scale-1 term is the flip average; the rescaled ones are bilinearly resampled to 32×48
    ref = torch.zeros(4, 32, 48)
    for s in tta.MS_SCALES:
        small = img if s == 1 else tta._resize_batch(img[None], s)[0]
        both = np.stack([small, np.ascontiguousarray(small[:, ::-1])])
        logits = F.interpolate(real(both).float(), size=(32, 48), mode="bilinear", align_corners=False)
        pr = torch.softmax(logits, 1)
        ref += pr[0] + pr[1].flip(-1)
    assert np.allclose(got.probs, (ref / 6).numpy(), atol=1e-5)


@pytest.mark.parametrize("mode", ["flip", "ms"])
def test_tta_is_compatible_with_tiling(mode):
    m, img = net(), image(150, 203, 3)
    whole = Predictor(m, device="cpu", tile=0, tta=mode).predict(img)
    tiled = Predictor(m, device="cpu", tile=64, tile_overlap=16, tta=mode).predict(img)
    assert (whole.labels == tiled.labels).mean() >= 0.99
    assert np.abs(whole.probs - tiled.probs).mean() < 5e-3


def test_predict_batch_with_tta_matches_predict():
    p = Predictor(net(), device="cpu", tile=0, tta="flip", batch_size=3)
    images = [image(20, 28, s) for s in range(3)]
    for one, got in zip((p.predict(im) for im in images), p.predict_batch(images)):
        assert np.array_equal(one.labels, got.labels) and np.allclose(one.probs, got.probs, atol=1e-6)


def test_unknown_mode_is_refused_and_described():
    with pytest.raises(SegStudioError, match="test-time augmentation"):
        Predictor(net(), device="cpu", tta="rotate")
    assert Predictor(net(), device="cpu", tta="FLIP").describe()["tta"] == "flip"


def test_batch_verb_accepts_tta(tmp_path):
    import cv2

    from segstudio.cli import main
    from segstudio.core.labels import preset
    from segstudio.models.checkpoint import Checkpoint, save_checkpoint
    from segstudio.models.registry import build_model

    model = build_model("unet", 11, width=4, depth=2)
    save_checkpoint(Checkpoint("unet", preset("camvid"), model.state_dict(), {"width": 4, "depth": 2}),
                    tmp_path / "m.pt")
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "a.png"), image(24, 40))
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--model", str(tmp_path / "m.pt"),
                 "--tta", "flip", "--quiet", "--device", "cpu"]) == 0
    assert (tmp_path / "out" / "a.png").exists()
