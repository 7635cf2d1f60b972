"""Batch prediction: masks per image, bad files skipped and reported, resume, probabilities,
cancel/interrupt without half-written files, CRF hook, and the ``segstudio batch`` verb."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.cli import main
from segstudio.core.labels import preset
from segstudio.core.masks import read_mask
from segstudio.models.batch import BatchProgress, TextProgress, run_batch
from segstudio.models.checkpoint import Checkpoint, save_checkpoint
from segstudio.models.predictor import Predictor
from segstudio.models.registry import build_model


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def tiny_net(classes: int = 11) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(6, classes, 1)).eval()


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        arr = rng.integers(0, 256, (24 + i, 32, 3), dtype=np.uint8)
        Image.fromarray(arr).save(src / f"img{i}.{'png' if i % 2 else 'jpg'}")
    good = (src / "img1.png").read_bytes()
    (src / "broken.png").write_bytes(good[: len(good) // 3])  # truncated
    return src


def predictor() -> Predictor:
    return Predictor(tiny_net(), device="cpu", labels=preset("camvid"), tile=0)


def leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_masks_written_and_bad_file_reported(folder, tmp_path):
    out = tmp_path / "out"
    seen: list[BatchProgress] = []
    images = sorted(folder.iterdir())
    res = run_batch(predictor(), images, out, progress=seen.append)
    assert sorted(p.name for p in res.written) == [f"img{i}.{'png' if i % 2 else 'jpg'}" for i in range(5)]
    assert [p.name for p, _ in res.failed] == ["broken.png"] and "truncated" in res.failed[0][1]
    for i in range(5):
        mask = read_mask(out / f"img{i}.png", preset("camvid"))
        assert mask.shape == (24 + i, 32) and mask.dtype == np.uint8
        assert Image.open(out / f"img{i}.png").mode == "P"
    assert not (out / "broken.png").exists() and not leftovers(out)
    assert seen[-1].done == seen[-1].total == 6 and seen[-1].failed == 1
    assert [s.done for s in seen] == sorted(s.done for s in seen)
    assert "1 failed" in res.summary() and "FAILED" in res.summary()


def test_same_result_as_predict(folder, tmp_path):
    from segstudio.core.images import read_image

    p = predictor()
    run_batch(p, [folder / "img3.png"], tmp_path / "o")
    expected = p.predict(read_image(folder / "img3.png").rgb, want_probs=False).labels
    assert np.array_equal(read_mask(tmp_path / "o" / "img3.png"), expected)


def test_resume_skips_existing(folder, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "img0.png").write_bytes(b"keep me")
    images = [folder / f"img{i}.{'png' if i % 2 else 'jpg'}" for i in range(5)]
    res = run_batch(predictor(), images, out, resume=True)
    assert [p.name for p in res.skipped] == ["img0.jpg"] and len(res.written) == 4
    assert (out / "img0.png").read_bytes() == b"keep me"


def test_save_probs(folder, tmp_path):
    from segstudio.core.images import read_image

    p = predictor()
    res = run_batch(p, [folder / "img2.jpg"], tmp_path / "o", save_probs=True)
    assert len(res.written) == 1
    probs = np.load(tmp_path / "o" / "img2.npy")
    assert probs.dtype == np.float16 and probs.shape == (11, 26, 32)
    assert np.allclose(probs.astype(np.float32).sum(0), 1, atol=1e-2)
    ref = p.predict(read_image(folder / "img2.jpg").rgb)
    assert np.allclose(probs, ref.probs, atol=1e-3)
    assert np.array_equal(read_mask(tmp_path / "o" / "img2.png"), ref.labels)


def test_name_collisions_are_failures(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "a.jpg"):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(src / name)
    res = run_batch(predictor(), [src / "a.png", src / "a.jpg"], tmp_path / "o")
    assert len(res.written) == 1 and "already comes from a.png" in res.failed[0][1]


def test_cancel_stops_cleanly(folder, tmp_path):
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2

    out = tmp_path / "o"
    res = run_batch(predictor(), sorted(folder.glob("img*")), out, cancel=cancel)
    assert res.cancelled and len(res.written) == 2 and not leftovers(out)


class _Interrupting:
    def __init__(self, inner: Predictor, after: int) -> None:
        self.inner, self.after, self.n = inner, after, 0
        self.labels = inner.labels

    def predict(self, rgb, want_probs=True):
        self.n += 1
        if self.n > self.after:
            raise KeyboardInterrupt
        return self.inner.predict(rgb, want_probs)


def test_ctrl_c_leaves_only_complete_files(folder, tmp_path):
    out = tmp_path / "o"
    with pytest.raises(KeyboardInterrupt):
        run_batch(_Interrupting(predictor(), 3), sorted(folder.glob("img*")), out)
    written = sorted(out.glob("*.png"))
    assert len(written) == 3 and not leftovers(out)
    for path in written:
        assert read_mask(path).shape[1] == 32  # complete, decodable PNGs


def test_crf_hook(folder, tmp_path):
    pytest.importorskip("pydensecrf.densecrf")
    crf = pytest.importorskip("segstudio.core.crf")
    out = tmp_path / "o"
    res = run_batch(predictor(), [folder / "img1.png"], out, crf=crf.CRFParams(iterations=2))
    assert len(res.written) == 1 and read_mask(out / "img1.png").shape == (25, 32)


def test_text_progress_plain_stream():
    import io

    buf = io.StringIO()
    bar = TextProgress(buf, every=0)
    bar(BatchProgress(3, 10, 3, 0, 0, 1.5, 2.0, 3.5, None))
    bar(BatchProgress(10, 10, 9, 0, 1, 5.0, 2.0, 0.0, None))
    text = buf.getvalue()
    assert "3/10" in text and "2.00 img/s" in text and "ETA 0:04" in text and "1 failed" in text


# --- the verb -----------------------------------------------------------------------------------

def test_batch_verb(folder, tmp_path, capsys):
    model = build_model("unet", 11, width=8, depth=2)
    save_checkpoint(Checkpoint("unet", preset("camvid"), model.state_dict(), {"width": 8, "depth": 2}),
                    tmp_path / "m.pt")
    out = tmp_path / "out"
    code = main(["batch", str(folder), "--out", str(out), "--model", str(tmp_path / "m.pt"), "--device", "cpu",
                 "--quiet"])
    captured = capsys.readouterr()
    assert code == 1  # broken.png failed
    assert "5 written" in captured.out and "broken.png" in captured.out
    assert len(list(out.glob("*.png"))) == 5
    code = main(["batch", str(folder), "--out", str(out), "--model", str(tmp_path / "m.pt"), "--resume",
                 "--engine", "torch", "--tile", "16", "--quiet"])
    assert code == 1 and "5 skipped" in capsys.readouterr().out


def test_batch_verb_without_default_model(folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEGSTUDIO_RESOURCES", str(tmp_path / "empty"))
    assert main(["batch", str(folder), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "the default model is not shipped in this build yet" in err and "pass --model CKPT" in err
