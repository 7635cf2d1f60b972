"""``eval`` on bad ground truth (cases 3, 4) and bad model files (cases 5, 12)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from faulthelpers import error_line, write_images

from segstudio.core.labels import preset
from segstudio.core.masks import ids_to_rgb, write_mask


def _pair(tmp_path, gt: np.ndarray, pred: np.ndarray, name: str = "a"):
    (tmp_path / "gt").mkdir(exist_ok=True)
    (tmp_path / "pred").mkdir(exist_ok=True)
    Image.fromarray(gt).save(tmp_path / "gt" / f"{name}.png")
    Image.fromarray(pred).save(tmp_path / "pred" / f"{name}.png")


def test_eval_refuses_ground_truth_ids_outside_the_label_set(cli, tmp_path):
    mask = np.zeros((8, 8), np.uint8)
    gt = mask.copy()
    gt[0, :3] = [40, 41, 11]                        # 40, 41: no such CamVid class; 11: its void
    _pair(tmp_path, gt, mask)
    _pair(tmp_path, mask, mask, "b")
    rc, out, err = cli("eval", "--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--labels", "camvid")
    assert rc == 1 and "mIoU" not in out
    assert f"{tmp_path / 'gt' / 'a.png'}: ids 40, 41 are outside label set 'camvid'" in err
    assert "b.png" not in err


def test_eval_refuses_prediction_ids_outside_the_label_set(cli, tmp_path):
    mask = np.zeros((8, 8), np.uint8)
    pred = mask.copy()
    pred[3, 3] = 17
    _pair(tmp_path, mask, pred)
    rc, out, err = cli("eval", "--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--labels", "camvid")
    assert rc == 1
    assert f"{tmp_path / 'pred' / 'a.png'}: ids 17 are outside label set 'camvid'" in err


def test_eval_maps_rgb_ground_truth_through_the_given_labels(cli, tmp_path):
    labels = preset("camvid")
    ids = np.arange(64, dtype=np.uint8).reshape(8, 8) % labels.num_classes
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    Image.fromarray(ids_to_rgb(ids, labels)).save(tmp_path / "gt" / "a.png")   # colour ground truth
    write_mask(tmp_path / "pred" / "a.png", ids, labels)
    rc, out, err = cli("eval", "--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--labels", "camvid")
    assert rc == 0, err
    assert "mIoU          100.00%   over 1 images" in out


def test_eval_never_opens_a_fifo(cli, tmp_path):
    mask = np.zeros((8, 8), np.uint8)
    _pair(tmp_path, mask, mask)
    os.mkfifo(tmp_path / "gt" / "pipe.png")       # opening it would block forever
    rc, out, err = cli("eval", "--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--labels", "camvid")
    assert rc == 0, err
    assert f"segstudio eval: warning: {tmp_path / 'gt' / 'pipe.png'}: is a FIFO" in err


# -- model files ----------------------------------------------------------------------------------------

def _batch(cli, tmp_path, model):
    write_images(tmp_path / "in", 1)
    return cli("batch", tmp_path / "in", "--out", tmp_path / "out", "--model", model, "--labels", "camvid",
               "--quiet", "--workers", "1")


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _random_bytes() -> bytes:
    data = np.random.default_rng(3).bytes(4096)
    assert data[:1] != b"\x80" and not data.startswith(b"PK")
    return data


@pytest.mark.parametrize("case, expect", [
    ("random", "not a checkpoint: neither a PyTorch zip archive nor a legacy PyTorch file"),
    ("truncated", "file is truncated: a zip archive without its end (central directory)"),
    ("code", "refused: it contains pickled Python code (a reference to posix.system)"),
    ("empty", "empty file (0 bytes), not a checkpoint"),
])
def test_bad_checkpoints_say_what_the_file_is(cli, tmp_path, case, expect):
    path = tmp_path / "model.pt"
    marker = tmp_path / "pwned"
    if case == "random":
        path.write_bytes(_random_bytes())
    elif case == "truncated":
        torch.save({"w": torch.zeros(64, 64)}, path)
        path.write_bytes(path.read_bytes()[:5000])
    elif case == "code":
        torch.save({"meta": _Payload(str(marker)), "w": torch.zeros(2)}, path)
    else:
        path.write_bytes(b"")
    rc, out, err = _batch(cli, tmp_path, path)
    assert rc == 1
    line = error_line(err, "batch")
    assert line.startswith(f"segstudio batch: error: {path}: {expect}")
    assert "weights_only=False" not in err and "weights_only` set to `False" not in err
    assert not marker.exists()              # nothing in the file ran
    assert not (tmp_path / "out").exists()  # stopped before any image


def test_torchscript_failing_on_a_new_size_shows_the_cause(cli, tmp_path):
    class FixedSize(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 11, 1)

        def forward(self, x):
            return self.conv(x) + torch.zeros(1, 11, 64, 64)   # traced: only runs at 64×64

    model = tmp_path / "fixed.ts"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(FixedSize().eval(), torch.zeros(1, 3, 64, 64)).save(str(model))
    rc, out, err = _batch(cli, tmp_path, model)
    assert rc == 1
    line = next(ln for ln in out.splitlines() if ln.startswith("  FAILED"))
    assert line.startswith(f"  FAILED {tmp_path / 'in' / 'img0.png'}: TorchScript: RuntimeError: The size of tensor a")
    assert "must match the size of tensor b (64)" in line and "traced at" in line
    assert "The following operation failed" not in line
