"""Training: losses vs hand-computed values, class weights, overfitting a tiny set, resume, fine-tune mapping."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from segstudio.core import labels as L, masks
from segstudio.models.checkpoint import load_checkpoint
from segstudio.models.train.data import AugmentConfig, SegDataset, pair_files
from segstudio.models.train.finetune import transfer_weights
from segstudio.models.train.loop import TrainConfig, lr_at, train
from segstudio.models.train.losses import SegLoss, class_weights, focal_loss

torch.set_num_threads(1)


def test_cross_entropy_and_ignore_by_hand():
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 1.0]]]])  # N=1, C=2, H=1, W=2
    target = torch.tensor([[[0, 255]]])
    loss = SegLoss("ce", ignore_index=255)(logits, target)
    assert float(loss) == pytest.approx(-math.log(math.exp(2) / (math.exp(2) + 1)), rel=1e-6)


def test_weighted_ce_by_hand():
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 1.0]]]])
    target = torch.tensor([[[0, 1]]])
    w = torch.tensor([0.25, 0.75])
    l0 = -math.log(math.exp(2) / (math.exp(2) + 1))
    l1 = -math.log(math.exp(1) / (math.exp(1) + 1))
    expected = (0.25 * l0 + 0.75 * l1) / (0.25 + 0.75)
    assert float(SegLoss("wce", w)(logits, target)) == pytest.approx(expected, rel=1e-6)


def test_focal_by_hand():
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 1.0]]]])
    target = torch.tensor([[[0, 1]]])
    p0 = math.exp(2) / (math.exp(2) + 1)
    p1 = math.exp(1) / (math.exp(1) + 1)
    expected = (-(1 - p0) ** 2 * math.log(p0) - (1 - p1) ** 2 * math.log(p1)) / 2
    assert float(focal_loss(logits, target, 2.0)) == pytest.approx(expected, rel=1e-6)
    # gamma 0 is plain cross-entropy
    assert float(focal_loss(logits, target, 0.0)) == pytest.approx(
        float(SegLoss("ce")(logits, target)), rel=1e-6)


def test_class_weights_from_known_histogram():
    hist = np.array([60, 30, 10, 0])
    assert class_weights(hist, "inverse").tolist() == pytest.approx([0.4, 0.7, 0.9, 0.0])
    # frequencies .6 .3 .1, median .3 -> .5 1 3
    assert class_weights(hist, "median").tolist() == pytest.approx([0.5, 1.0, 3.0, 0.0])
    assert class_weights(hist, "median", 0.5).tolist() == pytest.approx([0.5 ** 0.5, 1.0, 3 ** 0.5, 0.0])


def test_lr_schedule_warmup_then_cosine():
    assert lr_at(0.0, 0.1, 0.1) == pytest.approx(0.002)
    assert lr_at(0.1, 0.1, 0.1) == pytest.approx(0.1)
    assert lr_at(1.0, 0.1, 0.1) == pytest.approx(0.001)
    assert lr_at(0.3, 0.1, 0.1) > lr_at(0.6, 0.1, 0.1)


def _tiny_dataset(tmp_path, n=2, size=(32, 48)):
    from PIL import Image
    ls = L.preset("binary")
    img_dir, mask_dir = tmp_path / "img", tmp_path / "mask"
    img_dir.mkdir()
    mask_dir.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        m = np.zeros(size, np.uint8)
        y, x = rng.integers(4, size[0] - 16), rng.integers(4, size[1] - 20)
        m[y:y + 12, x:x + 16] = 1
        m[0, :] = 255  # some void
        rgb = np.where(m[..., None] == 1, np.array([220, 40, 40]), np.array([30, 90, 200])).astype(np.uint8)
        rgb = np.clip(rgb + rng.integers(-20, 20, rgb.shape), 0, 255).astype(np.uint8)
        Image.fromarray(rgb).save(img_dir / f"im{i}.png")
        masks.write_mask(mask_dir / f"im{i}.png", m, ls)
    return ls, img_dir, mask_dir


def _config(**kw):
    base = dict(arch="unet", arch_options={"width": 8, "depth": 2, "dropout": 0.0}, epochs=30, batch_size=2,
                lr=0.05, warmup_epochs=1, crop=None, half_checkpoint=False)
    base.update(kw)
    return TrainConfig(**base)


def test_tiny_model_overfits_two_images(tmp_path):
    ls, img_dir, mask_dir = _tiny_dataset(tmp_path)
    pairs = pair_files(img_dir, mask_dir)
    cfg = _config()
    tr = SegDataset(pairs, ls, (0.5,) * 3, (0.25,) * 3, AugmentConfig(crop=None, scale=(1, 1), hflip=True, jitter=0))
    va = SegDataset(pairs, ls, (0.5,) * 3, (0.25,) * 3, None)
    summary = train(cfg, ls, tr, va, tmp_path / "m.pt")
    assert summary["best"] >= 0.95
    ckpt = load_checkpoint(tmp_path / "m.pt")
    assert ckpt.arch == "unet" and ckpt.labels.names == ls.names and ckpt.meta["val_miou"] >= 0.95
    assert ckpt.mean == (0.5, 0.5, 0.5) and ckpt.std == (0.25, 0.25, 0.25)
    # the saved checkpoint serves the Predictor: same labels as validation saw
    from segstudio.core.images import read_image
    from segstudio.core.metrics import evaluate
    from segstudio.models.predictor import Predictor
    pred = Predictor(tmp_path / "m.pt", device="cpu", engine="torch")
    for img_path, mask_path in pairs:
        out = pred.predict(read_image(img_path).rgb).labels
        assert evaluate(out, masks.read_mask(mask_path), 2, 255).miou >= 0.95
    log = [json.loads(s) for s in (tmp_path / "m.log.jsonl").read_text().splitlines()]
    assert len(log) == summary["epochs_run"] and all("val_miou" in r for r in log)


def test_resume_continues_from_saved_epoch(tmp_path):
    ls, img_dir, mask_dir = _tiny_dataset(tmp_path)
    pairs = pair_files(img_dir, mask_dir)
    mk = lambda: SegDataset(pairs, ls, (0.5,) * 3, (0.25,) * 3, AugmentConfig(crop=None, scale=(1, 1)))  # noqa: E731
    train(_config(epochs=2), ls, mk(), None, tmp_path / "m.pt")
    assert (tmp_path / "m.pt").exists(), "without validation the lowest-loss epoch is saved as --out"
    events = []
    summary = train(_config(epochs=4), ls, mk(), None, tmp_path / "m.pt", resume=True, progress=events.append)
    assert events[0] == {"event": "resume", "epoch": 2}
    epochs = [e["epoch"] for e in events if e.get("event") == "epoch"]
    assert epochs == [2, 3] and summary["epochs_run"] == 4
    log = [json.loads(s)["epoch"] for s in (tmp_path / "m.log.jsonl").read_text().splitlines()]
    assert log == [0, 1, 2, 3]


def test_finetune_maps_classes_by_name():
    from segstudio.models.registry import build_model
    src_labels = L.LabelSet((L.LabelClass(0, "road", (1, 1, 1)), L.LabelClass(1, "car", (2, 2, 2)),
                             L.LabelClass(2, "sky", (3, 3, 3))), 255)
    dst_labels = L.LabelSet((L.LabelClass(0, "Sky", (3, 3, 3)), L.LabelClass(1, "tree", (4, 4, 4)),
                             L.LabelClass(2, "road", (1, 1, 1)), L.LabelClass(3, "car", (2, 2, 2))), 255)
    torch.manual_seed(0)
    src = build_model("unet", 3, width=4, depth=1)
    dst = build_model("unet", 4, width=4, depth=1)
    fresh_tree_row = dst.head.weight[1].clone()
    report = transfer_weights(dst, src.state_dict(), src_labels, dst_labels)
    assert report["matched_classes"] == ["Sky", "road", "car"]
    assert torch.equal(dst.head.weight[0], src.head.weight[2])
    assert torch.equal(dst.head.weight[2], src.head.weight[0])
    assert torch.equal(dst.head.weight[3], src.head.weight[1])
    assert torch.equal(dst.head.weight[1], fresh_tree_row)
    assert torch.equal(dst.stem[0][0].weight, src.stem[0][0].weight)


def test_train_cli_on_project(tmp_path):
    from segstudio.cli import main
    from segstudio.core.project import Project, Status
    ls, img_dir, mask_dir = _tiny_dataset(tmp_path, n=3)
    project = Project(img_dir, default_labels=ls)
    project.write_mask("im0", masks.read_mask(mask_dir / "im0.png"), Status.EDITED)
    project.write_mask("im1", masks.read_mask(mask_dir / "im1.png"), Status.REVIEWED)
    out = tmp_path / "ft.pt"
    rc = main(["train", "--project", str(img_dir), "--arch", "unet", "--arch-options", '{"width": 4, "depth": 1}',
               "--epochs", "1", "--batch-size", "2", "--crop", "16,16", "--out", str(out), "--json-progress"])
    assert rc == 0 and load_checkpoint(out).meta["train_images"] == 2


def test_finetune_cli_takes_architecture_from_base_checkpoint(tmp_path):
    from segstudio.cli import main
    ls, img_dir, mask_dir = _tiny_dataset(tmp_path, n=2)
    base = tmp_path / "base.pt"
    common = ["--images", str(img_dir), "--masks", str(mask_dir), "--labels", "binary", "--epochs", "1",
              "--batch-size", "2", "--crop", "16,16", "--json-progress"]
    assert main(["train", *common, "--arch", "unet", "--arch-options", '{"width": 4, "depth": 1}',
                 "--out", str(base)]) == 0
    out = tmp_path / "ft.pt"
    assert main(["train", *common, "--from", str(base), "--out", str(out)]) == 0
    ckpt = load_checkpoint(out)
    assert ckpt.arch == "unet" and ckpt.arch_options == {"width": 4, "depth": 1}


def test_resume_removes_the_temp_files_a_killed_run_left(tmp_path, capsys):
    """A kill -9 during a checkpoint write leaves ``.m.pt.XXXXXXXX.tmp``; ``train --resume`` removes the
    temps of its own files only, says so, and continues."""
    from segstudio.cli import main

    _, img_dir, mask_dir = _tiny_dataset(tmp_path)
    out = tmp_path / "run" / "m.pt"
    common = ["train", "--images", str(img_dir), "--masks", str(mask_dir), "--labels", "binary", "--arch", "unet",
              "--arch-options", '{"width": 4, "depth": 1}', "--crop", "32,32", "--batch-size", "2", "--threads", "1",
              "--out", str(out)]
    assert main([*common, "--epochs", "1"]) == 0
    stale = out.parent / ".m.last.pt.ab12CD34.tmp"
    other = out.parent / ".notes.txt.ab12CD34.tmp"          # another file's temp: not ours to remove
    stale.write_bytes(b"half a checkpoint")
    other.write_bytes(b"x")
    capsys.readouterr()
    assert main([*common, "--epochs", "2", "--resume"]) == 0
    assert not stale.exists() and other.exists()
    assert str(stale) in capsys.readouterr().err
