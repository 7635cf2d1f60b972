"""Full and read-only disks (cases 6, 7, 8): one message naming the file, exit 3, the job stops
early, no temp file is left, nothing saved changes, and a later run completes."""

from __future__ import annotations

import re

import numpy as np
import pytest

from faulthelpers import error_line, temp_files, tree, write_images

from segstudio.core.errors import DiskError

NOSPACE = "disk full (No space left on device)"
READONLY = "read-only file system (Read-only file system)"


def _batch(cli, src, out, model, *extra):
    return cli("batch", src, "--out", out, "--model", model, "--labels", "camvid", "--quiet", "--workers", "1", *extra)


def test_batch_save_probs_on_a_full_disk_stops_at_the_first_fault_then_resume_completes(
        cli, tmp_path, full_disk, tiny_model):
    src = tmp_path / "in"
    write_images(src, 10)
    out = full_disk.path / "out"
    rc, _, err = _batch(cli, src, out, tiny_model, "--save-probs")
    assert rc == 3
    line = error_line(err, "batch")
    found = re.match(rf"segstudio batch: error: {re.escape(str(out))}/(img\d)\.(png|npy): cannot write: "
                     rf"{re.escape(NOSPACE)}; batch stopped after (\d+) of 10 image\(s\)", line)
    assert found, line
    stem, _, written = found.groups()
    assert int(written) < 4                                  # stopped early, not after trying all ten
    assert not (out / f"{stem}.{found.group(2)}").exists()   # the named file is not there, not half there
    assert not temp_files(out)
    done = sorted(p.name for p in out.glob("*.png"))
    assert len(done) >= int(written)
    full_disk.remount("size=4m")
    (out / ".img9.png.abcd1234.tmp").write_bytes(b"stale")   # as a killed run leaves
    rc, stdout, err = _batch(cli, src, out, tiny_model, "--save-probs", "--resume")
    assert rc == 0, err
    assert sorted(p.stem for p in out.glob("*.png")) == sorted(p.stem for p in out.glob("*.npy")) == \
        sorted(f"img{i}" for i in range(10))
    assert not temp_files(out)
    assert f"{written} skipped" in stdout   # the images whose mask and probabilities were both written


def test_batch_into_a_read_only_folder(cli, tmp_path, ro_disk, tiny_model):
    write_images(tmp_path / "in", 2)
    out = ro_disk.path / "new"
    rc, _, err = _batch(cli, tmp_path / "in", out, tiny_model)
    assert rc == 3
    assert error_line(err, "batch") == f"segstudio batch: error: {out}: cannot create the output folder: {READONLY}"


def test_export_on_a_full_disk_publishes_nothing_then_completes(cli, tmp_path, full_disk, project_maker):
    project_maker(tmp_path / "p", 6, size=(64, 64))         # ~12 KB per image: more than the 64 KB disk
    before = tree(tmp_path / "p")
    out = full_disk.path / "voc"
    rc, _, err = cli("export", tmp_path / "p", "--format", "voc", "--out", out, "--quiet")
    assert rc == 3
    line = error_line(err, "export")
    found = re.match(rf"segstudio export: error: {re.escape(str(out))}/(\S+): cannot write: {re.escape(NOSPACE)}; "
                     rf"export stopped; nothing was published to {re.escape(str(out))}$", line)
    assert found, line
    assert list(full_disk.path.iterdir()) == []               # no partial folder, no temp file
    assert tree(tmp_path / "p") == before
    full_disk.remount("size=4m")
    rc, stdout, err = cli("export", tmp_path / "p", "--format", "voc", "--out", out, "--quiet")
    assert rc == 0, err
    assert "exported 6 image(s)" in stdout
    assert found.group(1) in tree(out)    # the file named is one the complete export has


def test_export_into_a_read_only_folder(cli, tmp_path, ro_disk, project_maker):
    project_maker(tmp_path / "p", 2)
    out = ro_disk.path / "exp"
    rc, _, err = cli("export", tmp_path / "p", "--format", "png", "--out", out, "--quiet")
    assert rc == 3
    assert error_line(err, "export") == f"segstudio export: error: {out}: cannot create the export folder: {READONLY}"


def test_eval_json_onto_a_read_only_disk(cli, tmp_path, ro_disk):
    from PIL import Image

    for side in ("gt", "pred"):
        (tmp_path / side).mkdir()
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / side / "a.png")
    target = ro_disk.path / "scores.json"
    rc, out, err = cli("eval", "--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--labels", "camvid",
                       "--json", target)
    assert rc == 3
    assert error_line(err, "eval") == f"segstudio eval: error: {target}: cannot write: {READONLY}"
    assert "mIoU" in out   # the scores were still printed


def test_checkpoint_save_on_a_full_disk_leaves_no_temp_file(full_disk):
    """``train`` saves through save_checkpoint: a full disk is one DiskError naming the file."""
    import torch

    from segstudio.core.labels import preset
    from segstudio.models.checkpoint import Checkpoint, save_checkpoint

    ckpt = Checkpoint("unet-light", preset("camvid"), {"w": torch.zeros(64, 1024)})   # 256 KB of weights
    target = full_disk.path / "best.pt"
    with pytest.raises(DiskError) as info:
        save_checkpoint(ckpt, target)
    assert str(info.value) == f"{target}: cannot write: {NOSPACE}"
    assert info.value.exit_code == 3 and info.value.stops_job
    assert list(full_disk.path.iterdir()) == []


def test_autosave_onto_a_read_only_store_keeps_the_saved_mask(tmp_path, full_disk, project_maker):
    project = project_maker(full_disk.path / "p", 1, size=(8, 8))
    saved = project.mask_path("img0").read_bytes()
    full_disk.remount("ro")
    with pytest.raises(DiskError) as info:
        project.write_mask("img0", np.zeros((8, 8), np.uint8))
    assert str(info.value) == f"{project.mask_path('img0')}: cannot write: {READONLY}"
    assert project.mask_path("img0").read_bytes() == saved
