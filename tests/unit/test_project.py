"""Project store: zero set-up, layout on disk, statuses, atomic writes, stem collisions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from segstudio.core import masks
from segstudio.core.errors import ProjectError
from segstudio.core.project import Project, Status


def _folder(tmp_path, names=("b.png", "a.jpg", "a.png", "c10.png", "c9.png")):
    for n in names:
        Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(tmp_path / n)
    return tmp_path


def test_any_folder_is_a_project(tmp_path):
    p = Project(_folder(tmp_path))
    assert p.keys() == ["a.jpg", "a.png", "b", "c9", "c10"]  # colliding stems keep their suffix
    assert p.labels.name == "camvid"
    assert not (tmp_path / "segstudio").exists()  # nothing written until there is something to store
    assert p.status("b") == Status.UNLABELLED


def test_mask_and_prediction_layout_and_status(tmp_path):
    p = Project(_folder(tmp_path))
    m = np.full((6, 8), 3, np.uint8)
    p.write_prediction("b", m)
    assert p.status("b") == Status.PREDICTED
    p.write_mask("b", m)
    assert p.status("b") == Status.EDITED
    assert (tmp_path / "segstudio" / "masks" / "b.png").exists()
    assert (tmp_path / "segstudio" / "predictions" / "b.png").exists()
    assert (tmp_path / "segstudio" / "labels.json").exists()
    assert np.array_equal(masks.read_mask(tmp_path / "segstudio" / "masks" / "b.png"), m)
    p.set_status("b", Status.REVIEWED)
    again = Project(tmp_path)
    assert again.status("b") == Status.REVIEWED and again.keys_with_status(Status.REVIEWED) == ["b"]
    state = json.loads((tmp_path / "segstudio" / "state.json").read_text())
    assert state["images"]["b"]["status"] == "reviewed"
    # no temp files left behind
    assert not list((tmp_path / "segstudio").rglob("*.tmp"))


def test_ground_truth_lookup(tmp_path):
    p = Project(_folder(tmp_path))
    gt = tmp_path / "gt"
    gt.mkdir()
    masks.write_mask(gt / "b.png", np.zeros((6, 8), np.uint8))
    p.set_ground_truth(gt)
    assert Project(tmp_path).ground_truth_path("b") == gt / "b.png"
    assert p.ground_truth_path("c9") is None
    with pytest.raises(ProjectError, match="does not exist"):
        p.set_ground_truth(tmp_path / "nope")


def test_corrupt_state_is_reported(tmp_path):
    _folder(tmp_path)
    (tmp_path / "segstudio").mkdir()
    (tmp_path / "segstudio" / "state.json").write_text("{")
    project = Project(tmp_path)  # opens anyway; the bad file is reported and kept aside (issue 14)
    assert "state.json" in project.warnings[0] and (tmp_path / "segstudio" / "state.json.bad").read_text() == "{"


def test_atomic_write_survives_failure(tmp_path, monkeypatch):
    from segstudio.core import atomic
    target = tmp_path / "x.json"
    atomic.write_json(target, {"a": 1})
    import os
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        atomic.write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_save_user_mask_treats_an_all_void_mask_as_no_mask(tmp_path):
    import numpy as np
    from PIL import Image

    from segstudio.core.project import Project, Status

    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(tmp_path / "a.png")
    proj = Project(tmp_path)
    void = proj.labels.void_value
    assert proj.save_user_mask("a", np.full((4, 5), 2, np.uint8)) == Status.EDITED
    assert proj.mask_path("a").exists()
    proj.write_prediction("a", np.full((4, 5), 1, np.uint8))
    assert proj.save_user_mask("a", np.full((4, 5), void, np.uint8)) == Status.PREDICTED
    assert not proj.mask_path("a").exists() and proj.status("a") == Status.PREDICTED
