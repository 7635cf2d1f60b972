"""Batch labelling reaches export: ``segstudio predict`` → ``segstudio accept`` → ``segstudio export``.

A tiny random-init checkpoint built here; a project folder with one image the user labelled
(its mask must survive every step byte for byte)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.cli import main
from segstudio.cli.predict_cmd import chunks
from segstudio.core import accept, attention
from segstudio.core.labels import preset
from segstudio.core.project import Project, Status

LABELS = preset("camvid")


def tiny_checkpoint(path):
    from segstudio.models.checkpoint import Checkpoint, save_checkpoint
    from segstudio.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("unet", LABELS.num_classes, width=4, depth=1)
    save_checkpoint(Checkpoint("unet", LABELS, model.state_dict(), {"width": 4, "depth": 1}), path)
    return path


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt")


def make_folder(root, names=("a.png", "b.jpg", "c.png", "d.png")):
    root.mkdir()
    rng = np.random.default_rng(1)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(root / name)
    user = np.full((24, 32), 3, np.uint8)
    user[:5] = LABELS.void_value
    Project(root).write_mask("d", user)           # the user's work: status edited
    return root, user


def predict(folder, ckpt, *extra):
    return main(["predict", str(folder), "--model", str(ckpt), "--device", "cpu", "--quiet", *extra])


def test_predict_writes_predictions_never_masks(tmp_path, ckpt):
    folder, user = make_folder(tmp_path / "p")
    assert predict(folder, ckpt) == 0
    proj = Project(folder)
    st = proj.statuses()
    assert st == {"a": Status.PREDICTED, "b": Status.PREDICTED, "c": Status.PREDICTED, "d": Status.EDITED}
    for k in "abc":
        pred = proj.read_prediction(k)
        assert pred.shape == (24, 32) and pred.max() < LABELS.num_classes
        assert not proj.has_mask(k)
        assert not accept.probs_path(proj, k).exists()   # probabilities only with --save-probs
    assert proj.read_prediction("d") is None             # --only unlabelled (default)
    assert np.array_equal(proj.read_mask("d"), user)
    scores = attention.read_scores(proj)
    assert set(scores) == {"a", "b", "c"} and all(0.0 < v <= 1.0 for v in scores.values())
    assert not (proj.store / "predict-staging").exists() and not (proj.store / ".predict-staging").exists()


def test_predict_all_keeps_user_mask_and_names_colliding_stems(tmp_path, ckpt):
    folder, user = make_folder(tmp_path / "p", names=("x.png", "x.jpg", "d.png"))
    assert predict(folder, ckpt, "--only", "all", "--save-probs") == 0
    proj = Project(folder)
    assert sorted(p.name for p in (proj.store / "predictions").iterdir()) == [
        "d.npy", "d.png", "x.jpg.npy", "x.jpg.png", "x.png.npy", "x.png.png"]
    assert proj.status("d") == Status.EDITED and np.array_equal(proj.read_mask("d"), user)
    probs = np.load(accept.probs_path(proj, "x.jpg"))
    assert probs.shape == (LABELS.num_classes, 24, 32)
    assert np.array_equal(probs.astype(np.float32).argmax(0), proj.read_prediction("x.jpg"))


def test_chunks_never_hold_one_stem_twice():
    jobs = [(f"k{i}", __import__("pathlib").Path(name)) for i, name in
            enumerate(["a.png", "a.jpg", "b.png", "c.png", "A.tif"])]
    out = chunks(jobs, size=2)
    assert [k for ch in out for k, _ in ch] == [k for k, _ in jobs]
    for ch in out:
        stems = [p.stem.lower() for _, p in ch]
        assert len(stems) == len(set(stems)) and len(ch) <= 2


def test_predict_accept_export_voc(tmp_path, ckpt):
    folder, user = make_folder(tmp_path / "p")
    assert predict(folder, ckpt) == 0
    assert main(["accept", str(folder), "--quiet"]) == 0
    proj = Project(folder)
    assert proj.statuses() == {k: Status.EDITED for k in "abcd"}
    for k in "abc":
        assert np.array_equal(proj.read_mask(k), proj.read_prediction(k))
    assert np.array_equal(proj.read_mask("d"), user)
    out = tmp_path / "voc"
    assert main(["export", str(folder), "--format", "voc", "--out", str(out), "--quiet"]) == 0
    found = {p.stem: p for p in out.rglob("SegmentationClass/*.png")}   # VOC root or VOCdevkit/VOC2012
    assert sorted(found) == ["a", "b", "c", "d"]
    for key, want in (("d", user), ("a", proj.read_prediction("a"))):
        raw = np.asarray(Image.open(found[key]))       # class ids as written; void may become VOC's 255
        labelled = want != LABELS.void_value
        assert np.array_equal(raw[labelled], want[labelled])
        assert (raw[~labelled] >= LABELS.num_classes).all()


def test_accept_never_over_user_work(tmp_path, ckpt):
    folder, user = make_folder(tmp_path / "p")
    assert predict(folder, ckpt, "--only", "all") == 0
    proj = Project(folder)
    proj.set_status("a", Status.REVIEWED)               # reviewed without a mask file: still the user's
    plan = accept.plan_accept(proj)
    assert plan.keys == ["b", "c"]
    assert dict(plan.skipped) == {"a": "status reviewed: the user's mask is kept",
                                  "d": "status edited: the user's mask is kept"}
    # a mask saved between planning and writing is kept too
    late = np.zeros((24, 32), np.uint8)
    proj.write_mask("c", late)
    res = accept.accept_predictions(proj, plan.keys)
    assert res.accepted == ["b"] and [k for k, _ in res.skipped] == ["c"]
    assert np.array_equal(proj.read_mask("c"), late) and np.array_equal(proj.read_mask("d"), user)


def test_accept_crf_needs_stored_probabilities(tmp_path, ckpt, capsys):
    pytest.importorskip("pydensecrf")
    folder, _ = make_folder(tmp_path / "p")
    assert predict(folder, ckpt) == 0
    capsys.readouterr()
    assert main(["accept", str(folder), "--crf", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "a.npy" in err and "--save-probs" in err and "Traceback" not in err
    proj = Project(folder)
    assert not any(proj.has_mask(k) for k in "abc")     # refused before writing anything

    assert predict(folder, ckpt, "--only", "all", "--save-probs") == 0
    assert main(["accept", str(folder), "--crf", "--quiet"]) == 0
    from segstudio.core.crf import CRFParams, refine_labels

    proj = Project(folder)
    probs = np.load(accept.probs_path(proj, "b")).astype(np.float32)
    want = refine_labels(proj.read_image("b").rgb, probs, CRFParams.shipped())
    assert np.array_equal(proj.read_mask("b"), want)


def test_accept_undo_restores_previous_state_but_keeps_later_edits(tmp_path, ckpt):
    folder, user = make_folder(tmp_path / "p")
    assert predict(folder, ckpt) == 0
    assert main(["accept", str(folder), "--quiet"]) == 0
    proj = Project(folder)
    record = json.loads(accept.last_record(proj).read_text())
    assert record["previous"] == {"a": "predicted", "b": "predicted", "c": "predicted"}
    edited = proj.read_mask("b")
    edited[0, 0] = (edited[0, 0] + 1) % LABELS.num_classes
    proj.write_mask("b", edited)                        # the user corrects b after accepting
    assert main(["accept", str(folder), "--undo"]) == 0
    proj = Project(folder)
    assert not proj.has_mask("a") and not proj.has_mask("c")
    assert proj.status("a") == Status.PREDICTED and proj.read_prediction("a") is not None
    assert np.array_equal(proj.read_mask("b"), edited) and proj.status("b") == Status.EDITED
    assert np.array_equal(proj.read_mask("d"), user)
    assert accept.last_record(proj) is None
    assert main(["accept", str(folder), "--undo"]) == 1    # nothing left to undo: one clear line


def test_accept_progress_and_cancel_keep_what_was_written(tmp_path, ckpt):
    folder, _ = make_folder(tmp_path / "p")
    assert predict(folder, ckpt) == 0
    proj = Project(folder)
    seen = []
    res = accept.accept_predictions(proj, ["a", "b", "c"], progress=lambda d, t, k: seen.append((d, t, k)),
                                    cancel=lambda: len(seen) >= 1)
    assert res.cancelled and res.accepted == ["a"]
    assert seen[0] == (0, 3, "a") and seen[-1] == (3, 3, "")
    assert proj.status("a") == Status.EDITED and proj.status("b") == Status.PREDICTED
    assert json.loads(res.record.read_text())["accepted"].keys() == {"a"}


def test_attention_ranking_and_next():
    keys = ["a", "b", "c", "d"]
    scores = {"a": 0.2, "b": 0.9, "d": 0.2}
    assert attention.ranked(keys, scores) == ["b", "a", "d"]
    assert attention.next_key(keys, scores, None) == "b"
    assert attention.next_key(keys, scores, "c") == "b"
    assert attention.next_key(keys, scores, "b") == "a"
    assert attention.next_key(keys, scores, "a") == "d"
    assert attention.next_key(keys, scores, "d") is None
    uniform = np.full((4, 3, 3), 0.25, np.float32)
    onehot = np.zeros((4, 3, 3), np.float32)
    onehot[1] = 1
    assert attention.image_uncertainty(uniform) == pytest.approx(1.0)
    assert attention.image_uncertainty(onehot) == pytest.approx(0.0, abs=1e-6)


def test_attention_error_scores_against_ground_truth(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir()
    from segstudio.core.masks import write_mask

    for k in "ab":
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / f"{k}.png")
        write_mask(gt_dir / f"{k}.png", np.zeros((4, 4), np.uint8), LABELS)
    proj = Project(folder)
    proj.set_ground_truth(gt_dir)
    proj.write_mask("a", np.zeros((4, 4), np.uint8))            # perfect
    half = np.zeros((4, 4), np.uint8)
    half[:2] = 1
    proj.write_prediction("b", half)                              # IoU 0.5 on class 0, 0 on class 1
    errs = attention.error_scores(proj)
    assert errs["a"] == pytest.approx(0.0) and errs["b"] == pytest.approx(0.75)
    assert attention.next_key(proj.keys(), errs, None) == "b"
