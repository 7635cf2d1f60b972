"""benchmarks/annotation_effort.py on two tiny synthetic images: the JSON schema and results
computed by hand; plus the simulated annotator's building blocks."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.core import masks
from segstudio.core.labels import preset
from segstudio.core.tools import annotator

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import annotation_effort  # noqa: E402

VOID = 255  # the "binary" preset


def make_pair(tmp_path):
    """Image a: GT 0 | 1 halves, prediction wrong on column 2 (10 px). Image b: GT all 0 with a
    void last row; prediction wrong on row 3, columns 0-5 (6 px) and row 6, columns 0-2 (3 px)."""
    labels = preset("binary")
    ga = np.zeros((10, 10), np.uint8)
    ga[:, 5:] = 1
    pa = ga.copy()
    pa[:, 2] = 1
    gb = np.zeros((10, 10), np.uint8)
    gb[9] = VOID
    pb = np.zeros((10, 10), np.uint8)
    pb[3, :6] = 1
    pb[6, :3] = 1
    for d in ("images", "gt", "pred"):
        (tmp_path / d).mkdir()
    for name, g, p in (("a", ga, pa), ("b", gb, pb)):
        rgb = np.where(g[..., None] == 1, 200, 40).astype(np.uint8).repeat(3, axis=2)
        Image.fromarray(rgb).save(tmp_path / "images" / f"{name}.png")
        masks.write_mask(tmp_path / "gt" / f"{name}.png", g, labels)
        masks.write_mask(tmp_path / "pred" / f"{name}.png", p, labels)
    return tmp_path


def expected_curves():
    # k=0: GT0 140 px, 121 right; GT1 50 px, all right; 19 GT0 pixels predicted 1
    m0 = (121 / 140 + 50 / 69) / 2
    # k=1: a's column and b's row 3 fixed; b's 3-px run left
    m1 = (137 / 140 + 50 / 53) / 2
    return [m0, m1, 1.0, 1.0], [171 / 190, 187 / 190, 1.0, 1.0]


def test_benchmark_json_schema_and_hand_computed_results(tmp_path, capsys):
    d = make_pair(tmp_path)
    out = d / "effort.json"
    rc = annotation_effort.main(["--images", str(d / "images"), "--gt", str(d / "gt"), "--labels", "binary",
                                 "--pred", str(d / "pred"), "--max-interactions", "3", "--json", str(out)])
    assert rc == 0
    result = json.loads(out.read_text())
    assert set(result) == {"tools", "images", "max_interactions"}
    assert result["images"] == 2 and result["max_interactions"] == 3
    assert set(result["tools"]) == set(annotation_effort.DEFAULT_TOOLS)
    for name, e in result["tools"].items():
        assert {"miou", "pixel_accuracy", "effort_ratio"} <= set(e), name
        assert len(e["miou"]) == len(e["pixel_accuracy"]) == 4
        assert all(0 <= v <= 1 for v in e["miou"] + e["pixel_accuracy"])
        assert e["miou"] == sorted(e["miou"]), name        # undo-if-worse: never decreases
        assert e["effort_ratio"] is None or 0 <= e["effort_ratio"] <= 1
    miou, acc = expected_curves()
    for name in ("brush", "fill", "oracle"):
        e = result["tools"][name]
        assert e["miou"] == pytest.approx(miou, abs=1e-12), name
        assert e["pixel_accuracy"] == pytest.approx(acc, abs=1e-12), name
        assert e["effort_ratio"] == pytest.approx(2 / 3), name   # reaches brush's 1.0 at k = 2 of 3
    assert (d / "effort.png").stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "effort ratio" in printed and "brush" in printed


def test_unknown_tool_and_missing_prediction_are_clear_errors(tmp_path, capsys):
    d = make_pair(tmp_path)
    base = ["--images", str(d / "images"), "--gt", str(d / "gt"), "--labels", "binary", "--json", str(d / "x.json")]
    assert annotation_effort.main(base + ["--pred", str(d / "pred"), "--tools", "lasso"]) == 1
    assert "unknown tool(s) lasso" in capsys.readouterr().err
    (d / "pred" / "b.png").unlink()
    assert annotation_effort.main(base + ["--pred", str(d / "pred")]) == 1
    assert "b.png: no predicted mask" in capsys.readouterr().err


def test_largest_wrong_region_groups_by_ground_truth_class_and_ignores_void():
    gt = np.zeros((6, 8), np.uint8)
    gt[:, 4:] = 1
    gt[5] = VOID
    mask = np.full((6, 8), 2, np.uint8)       # everything wrong
    t = annotator.largest_wrong_region(mask, gt, VOID, 3)
    assert t.cls in (0, 1) and int(t.region.sum()) == 20 and t.bbox[1] == 0 and t.bbox[3] == 5
    assert annotator.largest_wrong_region(gt, gt, VOID, 3) is None


def test_a_worse_action_is_undone_and_the_next_one_is_a_brush_stroke():
    gt = np.zeros((8, 8), np.uint8)
    gt[2:6, 2:6] = 1
    start = np.zeros((8, 8), np.uint8)        # the 4×4 object missed; fill would flood everything
    rgb = np.zeros((8, 8, 3), np.uint8)
    tables = annotator.simulate_image(annotator.ImageInputs(rgb, gt, start), "fill", 2, VOID, 2)
    miou, _ = annotator.curves([tables], 2)
    assert miou[1] == miou[0]                 # the flood over the whole image was undone
    assert miou[2] > miou[0]                  # then a brush stroke in the object


def test_effort_ratio():
    assert annotator.effort_ratio([0.5, 0.6, 0.7], [0.5, 0.55, 0.6]) == 0.5
    assert annotator.effort_ratio([0.5, 0.5, 0.5], [0.5, 0.55, 0.6]) is None
