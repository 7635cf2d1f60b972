"""Retraining decisions (held-out split, plateau, old-vs-new, loop trigger, what to re-predict) and the
small-data path end to end: grey 16-bit input, automatic validation split, fine-tune judged against its base."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.core import labels as L, masks
from segstudio.core.learning import (Plateau, RetrainTrigger, compare_models, keys_to_repredict,
                                     split_holdout)

torch.set_num_threads(1)


def test_holdout_is_stable_as_the_set_grows():
    stems = [f"img{i:03d}" for i in range(40)]
    train, held = split_holdout(stems)
    assert len(held) == 6 and not set(train) & set(held) and sorted(train + held) == stems
    _, held_more = split_holdout(stems + [f"new{i}" for i in range(40)])
    assert len(held_more) == 12
    assert split_holdout(stems[:4]) == (stems[:4], [])               # too few to spare one
    assert len(split_holdout(stems[:5])[1]) == 1
    assert split_holdout(stems, seed=1)[1] != held                    # the seed picks another split


def test_plateau_waits_for_the_late_schedule():
    p = Plateau(patience=3, min_delta=0.01, min_progress=0.6)
    assert not p.update(0.5, 0.1)
    for prog in (0.2, 0.3, 0.4, 0.5):
        assert not p.update(0.5, prog)          # flat early on: not a plateau yet
    assert p.update(0.5, 0.7)                   # flat for ≥ 3 evaluations past 60 %
    q = Plateau(patience=2, min_progress=0.0)
    assert not q.update(0.5, 0.9) and not q.update(0.6, 0.9) and not q.update(0.6, 0.9) and q.update(0.6, 0.9)


def test_old_vs_new_comparison_refuses_a_worse_model():
    worse = compare_models(0.71, 0.64, 12)
    assert not worse.better and "not better" in worse.message and "kept" in worse.message
    equal = compare_models(0.71, 0.71, 12)
    assert not equal.better
    better = compare_models(0.64, 0.71, 12)
    assert better.better and "12 held-out" in better.message
    assert not compare_models(0.5, 0.9, 0).better                       # no evidence, no swap
    assert compare_models(None, 0.5, 3).better                          # nothing to compare with
    assert not compare_models(0.70, 0.705, 5, margin=0.01).better



def test_a_small_difference_on_few_held_out_images_is_flagged_as_possibly_chance():
    thin = compare_models(0.672, 0.677, 1)
    assert thin.better and "only 1 held-out image(s)" in thin.message and "chance" in thin.message
    assert "chance" not in compare_models(0.672, 0.677, 5).message       # enough images
    assert "chance" not in compare_models(0.50, 0.60, 2).message         # a large difference
    assert not thin.firm                                                  # a background loop must not take it
    assert compare_models(0.672, 0.677, 5).firm and compare_models(0.50, 0.60, 2).firm
    assert compare_models(0.60, 0.50, 2).firm and not compare_models(0.60, 0.59, 4).firm

def test_retrain_trigger_counts_new_user_work_only():
    t = RetrainTrigger(every=3)
    assert not t.note("a", "predicted") and not t.note("a", "edited") and not t.note("a", "reviewed")
    assert not t.note("b", "edited")
    assert t.note("c", "reviewed")
    covered = t.started()
    assert covered == {"a", "b", "c"} and not t.due()
    assert not t.note("a", "reviewed")        # already trained on: does not count again
    assert RetrainTrigger(every=0).note("x", "edited") is False


def test_only_unreviewed_images_are_repredicted():
    statuses = {"a": "unlabelled", "b": "predicted", "c": "edited", "d": "reviewed"}
    assert keys_to_repredict(statuses) == ["a", "b"]

    class S:                                    # Status enum members work as well as strings
        def __init__(self, v):
            self.value = v
    assert keys_to_repredict({k: S(v) for k, v in statuses.items()}) == ["a", "b"]


def _grey16_set(folder, n=6, size=(48, 48)):
    img_dir, mask_dir = folder / "img", folder / "mask"
    img_dir.mkdir()
    mask_dir.mkdir()
    rng = np.random.default_rng(1)
    ls = L.preset("binary")
    for i in range(n):
        m = np.zeros(size, np.uint8)
        y, x = rng.integers(4, size[0] - 20, 2)
        m[y:y + 16, x:x + 16] = 1
        grey = np.where(m == 1, 30000, 8000) + rng.integers(0, 3000, size)
        Image.fromarray(grey.astype(np.uint16)).save(img_dir / f"g{i}.png")
        masks.write_mask(mask_dir / f"g{i}.png", m, ls)
    return img_dir, mask_dir


TINY = ["--arch", "unet", "--arch-options", '{"width": 8, "depth": 2, "dropout": 0.0}', "--batch-size", "2",
        "--crop", "32,32", "--threads", "1", "--json-progress"]


def test_grey16_end_to_end_with_automatic_validation_split(tmp_path, capsys):
    from segstudio.cli import main
    from segstudio.core.images import read_image
    from segstudio.models.checkpoint import IMAGENET_MEAN, load_checkpoint
    from segstudio.models.predictor import Predictor

    img_dir, mask_dir = _grey16_set(tmp_path)
    out = tmp_path / "m.pt"
    assert main(["train", "--images", str(img_dir), "--masks", str(mask_dir), "--labels", "binary",
                 "--steps", "60", "--lr", "0.05", *TINY, "--out", str(out)]) == 0
    recs = [json.loads(s) for s in capsys.readouterr().out.splitlines() if s.startswith("{")]
    said = {r["topic"]: r["message"] for r in recs if r["event"] == "decision"}
    assert "1 of the 6 images held out" in said["validation"]
    assert "grey" in said["normalisation"]
    plan = next(r for r in recs if r["event"] == "plan")
    assert plan["steps"] == 60 and plan["budget_from"] == "steps" and plan["epochs"] == pytest.approx(24.0)
    done = recs[-1]
    assert done["event"] == "done" and done["steps_run"] == 60
    ckpt = load_checkpoint(out)
    assert ckpt.meta["input"]["channels"] == 1 and ckpt.meta["input"]["bit_depth"] == 16
    assert len(ckpt.meta["val_stems"]) == 1 and ckpt.meta["train_images"] == 5
    assert ckpt.mean != IMAGENET_MEAN and len(set(ckpt.mean)) == 1    # measured, one value for grey
    held = ckpt.meta["val_stems"][0]
    pred = Predictor(out, device="cpu", engine="torch")
    labels = pred.predict(read_image(img_dir / f"{held}.png").rgb).labels
    gt = masks.read_mask(mask_dir / f"{held}.png")
    assert (labels == gt).mean() > 0.9                                  # the held-out grey image is segmented


def test_finetune_is_judged_against_its_base_on_the_same_images(tmp_path, capsys):
    from segstudio.cli import main

    img_dir, mask_dir = _grey16_set(tmp_path)
    common = ["--images", str(img_dir), "--masks", str(mask_dir), "--labels", "binary", *TINY]
    base = tmp_path / "base.pt"
    assert main(["train", *common, "--steps", "60", "--lr", "0.05", "--out", str(base)]) == 0
    capsys.readouterr()
    ruined = tmp_path / "ruined.pt"       # a learning rate that wrecks the weights: must not be called better
    assert main(["train", *common, "--from", str(base), "--steps", "6", "--lr", "500", "--no-early-stop",
                 "--out", str(ruined)]) == 0
    recs = [json.loads(s) for s in capsys.readouterr().out.splitlines() if s.startswith("{")]
    baseline = next(r for r in recs if r["event"] == "baseline")
    done = recs[-1]
    assert baseline["val_images"] == 1 and baseline["val_miou"] > 0.8
    assert done["improved"] is False and "not better" in done["verdict"]
    assert done["best"] < baseline["val_miou"]


def test_start_is_said_and_from_default_is_the_shipped_model(tmp_path, capsys, monkeypatch):
    import shutil

    from segstudio.cli import main

    img_dir, mask_dir = _grey16_set(tmp_path, n=3)
    common = ["--images", str(img_dir), "--masks", str(mask_dir), "--labels", "binary", *TINY, "--steps", "2"]

    def said() -> dict[str, str]:
        recs = [json.loads(s) for s in capsys.readouterr().out.splitlines() if s.startswith("{")]
        return {r["topic"]: r["message"] for r in recs if r["event"] == "decision"}

    base = tmp_path / "base.pt"
    assert main(["train", *common, "--out", str(base)]) == 0
    assert said()["start"] == "from scratch (random initial weights)"
    shipped = tmp_path / "res" / "models" / "camvid_default.pt"
    shipped.parent.mkdir(parents=True)
    shutil.copy(base, shipped)
    monkeypatch.setenv("SEGSTUDIO_RESOURCES", str(tmp_path / "res"))
    assert main(["train", *common, "--from", "default", "--out", str(tmp_path / "ft.pt")]) == 0
    assert said()["start"] == f"fine-tuning {shipped}"
    shipped.unlink()
    assert main(["train", *common, "--from", "default", "--out", str(tmp_path / "ft2.pt")]) == 1
    err = capsys.readouterr().err
    assert f"{shipped}: the shipped model is not in this installation (--from default)" in err
    assert not (tmp_path / "ft2.pt").exists()


def test_project_training_from_scratch_points_at_from(tmp_path, capsys):
    from segstudio.cli import main
    from segstudio.core.project import Project

    img_dir, mask_dir = _grey16_set(tmp_path, n=3)
    proj = Project(img_dir)
    proj.set_labels(L.preset("binary"))
    for key in proj.keys():
        proj.write_mask(key, masks.read_mask(mask_dir / f"{key}.png"))
    assert main(["train", "--project", str(img_dir), *TINY, "--steps", "1", "--out", str(tmp_path / "p.pt")]) == 0
    recs = [json.loads(s) for s in capsys.readouterr().out.splitlines() if s.startswith("{")]
    start = next(r["message"] for r in recs if r.get("topic") == "start")
    assert start.startswith("from scratch (random initial weights): 3 masks teach a new model little")
    assert "--from default" in start
