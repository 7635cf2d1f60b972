"""core.journal: append-only crash journal, replay, clearing after save, recovery of a project."""

import numpy as np
from PIL import Image

from segstudio.core import journal
from segstudio.core.project import Project, Status


def test_append_replay_roundtrip(tmp_path):
    p = tmp_path / "a.journal"
    j = journal.Journal(p, (20, 30), np.uint8)
    j.append([(2, 3, np.full((4, 5), 7, np.uint8))])
    j.append([(0, 0, np.full((2, 2), 1, np.uint8)), (25, 15, np.full((5, 5), 2, np.uint8))])
    j.close()
    out = journal.replay(p, None, 11)
    assert out.shape == (20, 30) and (out[3:7, 2:7] == 7).all() and out[0, 0] == 1 and out[19, 29] == 2
    assert out[10, 10] == 11
    base = np.zeros((20, 30), np.uint8)
    assert journal.replay(p, base, 11)[10, 10] == 0


def test_torn_tail_is_ignored(tmp_path):
    p = tmp_path / "a.journal"
    j = journal.Journal(p, (10, 10), np.uint8)
    j.append([(0, 0, np.full((3, 3), 4, np.uint8))])
    j.append([(5, 5, np.full((3, 3), 6, np.uint8))])
    j.close()
    data = p.read_bytes()
    p.write_bytes(data[:-3])  # killed mid-write
    out = journal.replay(p, None, 0)
    assert out[0, 0] == 4 and out[6, 6] == 0


def test_clear_upto_keeps_later_records(tmp_path):
    p = tmp_path / "a.journal"
    j = journal.Journal(p, (10, 10), np.uint16)
    j.append([(0, 0, np.full((2, 2), 300, np.uint16))])
    mark = j.offset
    j.append([(5, 5, np.full((2, 2), 400, np.uint16))])
    j.clear(mark)
    _, dtype, recs = journal.read_records(p)
    assert dtype == np.uint16 and len(recs) == 1 and recs[0][0] == 5
    j.append([(8, 8, np.full((1, 1), 5, np.uint16))])
    assert len(journal.read_records(p)[2]) == 2
    j.clear()
    assert not p.exists()


def test_clear_with_offset_taken_before_first_record(tmp_path):
    p = tmp_path / "a.journal"
    j = journal.Journal(p, (10, 10), np.uint8)
    mark = j.offset
    j.append([(1, 1, np.full((2, 2), 3, np.uint8))])
    j.clear(mark)
    assert len(journal.read_records(p)[2]) == 1


def test_recover_project(tmp_path):
    Image.new("RGB", (30, 20)).save(tmp_path / "img.png")
    proj = Project(tmp_path)
    saved = np.full((20, 30), 11, np.uint8)
    saved[0, 0] = 1
    proj.write_mask("img", saved, Status.EDITED)
    j = journal.Journal(journal.journal_path(proj.store, "img"), (20, 30), np.uint8)
    j.append([(10, 10, np.full((3, 3), 2, np.uint8))])
    j.close()
    assert journal.pending(proj.store) == ["img"]
    done, errors = journal.recover(Project(tmp_path))
    assert done == ["img"] and not errors and journal.pending(proj.store) == []
    m = Project(tmp_path).read_mask("img")
    assert m[0, 0] == 1 and (m[10:13, 10:13] == 2).all()


def test_recover_bad_journal_is_kept_aside(tmp_path):
    Image.new("RGB", (30, 20)).save(tmp_path / "img.png")
    proj = Project(tmp_path)
    proj.write_mask("img", np.zeros((20, 30), np.uint8))
    j = journal.Journal(journal.journal_path(proj.store, "img"), (5, 5), np.uint8)  # wrong size
    j.append([(0, 0, np.ones((2, 2), np.uint8))])
    j.close()
    done, errors = journal.recover(proj)
    assert not done and len(errors) == 1 and "img.journal" in errors[0]
    assert (journal.journal_dir(proj.store) / "img.journal.bad").exists()
