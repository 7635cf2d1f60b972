"""``segstudio eval``: table + JSON, clear failures, and CamVid agreement with an independent computation."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from segstudio.cli import main
from segstudio.core import labels as L, masks


def _write(folder, name, arr):
    folder.mkdir(exist_ok=True)
    masks.write_mask(folder / name, arr, L.preset("camvid"))


def test_eval_prints_table_and_json(tmp_path, capsys):
    gt = np.array([[0, 0, 1, 11]], np.uint8)
    pred = np.array([[0, 1, 1, 0]], np.uint8)
    _write(tmp_path / "gt", "a.png", gt)
    _write(tmp_path / "pred", "a.png", pred)
    rc = main(["eval", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--labels", "camvid",
               "--json", str(tmp_path / "r.json")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "Sky" in out and "mIoU" in out
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["miou"] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert data["per_class"]["Sky"] == pytest.approx(0.5) and data["per_class"]["Road"] is None
    assert data["confusion"][0][:2] == [1, 1] and len(data["confusion"]) == 11


def test_eval_reports_every_problem(tmp_path, capsys):
    _write(tmp_path / "gt", "a.png", np.zeros((4, 4), np.uint8))
    _write(tmp_path / "gt", "b.png", np.zeros((4, 4), np.uint8))
    _write(tmp_path / "gt", "c.png", np.zeros((4, 4), np.uint8))
    _write(tmp_path / "pred", "a.png", np.zeros((4, 5), np.uint8))
    (tmp_path / "pred" / "c.png").write_bytes(b"not a png")
    _write(tmp_path / "pred", "z.png", np.zeros((4, 4), np.uint8))
    rc = main(["eval", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--labels", "camvid"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "1 ground-truth mask(s) have no prediction" in err and "b" in err
    assert "no ground truth" in err and "z" in err
    assert "a.png: size 5×4 differs" in err
    assert "c.png: unreadable mask" in err


def test_camvid_eval_matches_independent_numpy(camvid_dir, tmp_path):
    """Relabel random blocks of real CamVid val annotations; eval must equal a plain numpy computation."""
    rng = np.random.default_rng(7)
    files = sorted((camvid_dir / "valannot").glob("*.png"))[:12]
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    inter = np.zeros(11)
    union = np.zeros(11)
    for f in files:
        shutil.copy(f, gt_dir / f.name)
        gt = np.array(Image.open(f))
        pred = gt.copy()
        for _ in range(8):
            y, x = rng.integers(0, gt.shape[0] - 60), rng.integers(0, gt.shape[1] - 80)
            pred[y:y + 60, x:x + 80] = rng.integers(0, 11)
        Image.fromarray(pred).save(pred_dir / f.name)
        valid = gt != 11
        for c in range(11):
            g, p = (gt == c) & valid, (pred == c) & valid
            inter[c] += (g & p).sum()
            union[c] += (g | p).sum()
    present = union > 0
    expected = (inter[present] / union[present]).mean()
    out = tmp_path / "r.json"
    assert main(["eval", "--pred", str(pred_dir), "--gt", str(gt_dir), "--labels", "camvid", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["miou"] == pytest.approx(expected, abs=1e-12)
