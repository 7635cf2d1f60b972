"""Bad project files and export's own faults (cases 9, 10, 11): a bad ``state.json`` or
``labels.json`` is reported and kept aside while the project opens; a pending crash journal
is never silently ignored; the published export folder follows the umask."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from faulthelpers import error_line

from segstudio.core import journal
from segstudio.core.masks import read_mask
from segstudio.core.project import Project, Status


@pytest.mark.parametrize("content, why", [
    ("[]", "holds a JSON list where an object is expected"),
    ('{"images": {"img0": {"status": "approved"}}}', "1 bad entry dropped (image 'img0': unknown status 'approved')"),
    ('{"images": {"img0": {"status": "edited"}', "not valid JSON"),
])
def test_bad_state_json_is_kept_aside_and_the_project_opens(cli, tmp_path, project_maker, content, why):
    project_maker(tmp_path / "p", 2)
    state = tmp_path / "p" / "segstudio" / "state.json"
    state.write_text(content)
    project = Project(tmp_path / "p")
    assert len(project.warnings) == 1 and why in project.warnings[0]
    assert project.warnings[0].startswith(f"{state}: ") and project.warnings[0].endswith("kept as state.json.bad")
    assert (state.parent / "state.json.bad").read_text() == content           # nothing lost
    assert set(project.statuses().values()) == {Status.EDITED}                   # rebuilt from the masks
    rc, out, err = cli("export", tmp_path / "p", "--format", "png", "--out", tmp_path / "out", "--quiet")
    assert rc == 0, err
    assert "exported 2 image(s)" in out


def test_gui_file_list_statuses_survive_a_bad_state(tmp_path, project_maker):
    pytest.importorskip("PySide6")
    from segstudio.gui.panels.file_list import bulk_statuses

    project_maker(tmp_path / "p", 2)
    (tmp_path / "p" / "segstudio" / "state.json").write_text('{"images": {"img1": {"status": 7}}}')
    project = Project(tmp_path / "p")
    assert bulk_statuses(project, project.keys()) == [Status.EDITED, Status.EDITED]


def test_bad_labels_json_is_kept_aside(tmp_path, project_maker):
    project_maker(tmp_path / "p", 1)
    labels = tmp_path / "p" / "segstudio" / "labels.json"
    labels.write_text('{"classes": [3]}')
    project = Project(tmp_path / "p")
    assert project.labels.name == "camvid"
    assert project.warnings[0].startswith(f"{labels}: malformed label set")
    assert (labels.parent / "labels.json.bad").read_text() == '{"classes": [3]}' and not labels.exists()


def _journal_edit(project: Project, key: str) -> np.ndarray:
    """Leave a crash journal for ``key`` as a killed session does: an edit not yet autosaved."""
    mask = project.read_mask(key)
    edited = mask.copy()
    edited[2:6, 2:9] = 7
    j = journal.Journal(journal.journal_path(project.store, key), mask.shape, mask.dtype)
    j.append([(2, 2, edited[2:6, 2:9])])
    j.close()
    return edited


def test_export_refuses_a_pending_journal_then_recovers_it(cli, tmp_path, project_maker):
    project = project_maker(tmp_path / "p", 2)
    edited = _journal_edit(project, "img1")
    jpath = journal.journal_path(project.store, "img1")
    saved = project.mask_path("img1").read_bytes()
    rc, _, err = cli("export", tmp_path / "p", "--format", "png", "--out", tmp_path / "out", "--quiet")
    assert rc == 1
    assert f"1 image(s) have unsaved edits in a crash journal ({jpath})" in err and "--recover" in err
    assert error_line(err, "export").startswith("segstudio export: error: cannot export")
    assert not (tmp_path / "out").exists() and project.mask_path("img1").read_bytes() == saved
    rc, out, err = cli("export", tmp_path / "p", "--format", "png", "--out", tmp_path / "out", "--quiet", "--recover")
    assert rc == 0, err
    assert "recovered unsaved edits of 1 image(s)" in err
    exported = read_mask(next((tmp_path / "out").rglob("img1*.png")))
    assert np.array_equal(exported, edited) and not jpath.exists()


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_published_export_folder_follows_the_umask(cli, tmp_path, project_maker, mask):
    project_maker(tmp_path / "p", 1)
    old = os.umask(mask)
    try:
        rc, _, err = cli("export", tmp_path / "p", "--format", "png", "--out", tmp_path / "out", "--quiet")
    finally:
        os.umask(old)
    assert rc == 0, err
    out = tmp_path / "out"
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask for p in files)
    assert json.loads((out / "segstudio-export.json").read_text())["format"] == "png"
