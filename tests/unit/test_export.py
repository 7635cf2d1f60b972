"""Export: round trips per format, validator, determinism, atomicity, cancel, CLI."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.core import masks as masks_mod
from segstudio.core.export import ExportCancelled, ExportError, FORMATS, export_project
from segstudio.core.export.polygons import rasterise
from segstudio.core.labels import LabelSet, preset
from segstudio.core.project import Project, Status

pycocotools_mask = pytest.importorskip("pycocotools.mask")
# pycocotools (numpy 2) warns about its own __array__ use on decode; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


# -- tiny synthetic projects (random blocky masks with void) ---------------------------------

def blocky_mask(rng: np.random.Generator, h: int, w: int, labels: LabelSet, void_share: float = 0.1) -> np.ndarray:
    """Random class blobs (a coarse grid upscaled), some void blobs and a few single pixels."""
    gh, gw = max(2, h // 6), max(2, w // 6)
    coarse = rng.integers(0, labels.num_classes, (gh, gw))
    coarse[rng.random((gh, gw)) < void_share] = labels.void_value
    ys = np.arange(h) * gh // h
    xs = np.arange(w) * gw // w
    mask = coarse[ys][:, xs].astype(labels.dtype)
    for _ in range(3):
        mask[rng.integers(0, h), rng.integers(0, w)] = rng.integers(0, labels.num_classes)
    return mask


def make_project(root: Path, n: int = 6, labels: LabelSet | None = None, size: tuple[int, int] = (24, 32),
                 statuses: list[Status] | None = None, seed: int = 0, jpeg_every: int = 3) -> tuple[Path, dict]:
    """Project folder with ``n`` images (PNG, every ``jpeg_every``-th a JPEG) and masks; returns (folder, masks)."""
    labels = labels or preset("camvid")
    rng = np.random.default_rng(seed)
    folder = root / "proj"
    folder.mkdir(parents=True)
    h, w = size
    for i in range(n):
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        ext = ".jpg" if jpeg_every and i % jpeg_every == jpeg_every - 1 else ".png"
        Image.fromarray(rgb).save(folder / f"img{i:02d}{ext}")
    project = Project(folder, default_labels=labels)
    project.set_labels(labels)
    out = {}
    for i, key in enumerate(project.keys()):
        status = statuses[i] if statuses else Status.EDITED
        if status in (Status.EDITED, Status.REVIEWED):
            mask = blocky_mask(rng, h, w, labels)
            project.write_mask(key, mask, status)
            out[key] = mask
        elif status == Status.PREDICTED:
            project.write_prediction(key, blocky_mask(rng, h, w, labels))
    return folder, out


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def tree_digest(root: Path) -> dict[str, str]:
    return {k: hashlib.sha256(v).hexdigest() for k, v in tree_bytes(root).items()}


@pytest.fixture
def proj(tmp_path):
    return make_project(tmp_path, n=6)


def test_voc_round_trip(proj, tmp_path):
    folder, masks = proj
    labels = preset("camvid")
    out = tmp_path / "voc"
    report = export_project(folder, "voc", out, split="train=0.5,val=0.5", seed=1)
    assert report.images == 6 and set(report.splits) == {"train", "val"}
    root = out / "VOCdevkit" / "VOC2012"
    project = Project(folder)
    for key, mask in masks.items():
        src = project.images[key]
        jpg = root / "JPEGImages" / f"{key}.jpg"
        if src.suffix == ".jpg":
            assert jpg.read_bytes() == src.read_bytes()                            # JPEG: copied, not re-encoded
            assert not (root / "SegStudioOriginals" / src.name).exists()
        else:
            assert (root / "SegStudioOriginals" / src.name).read_bytes() == src.read_bytes()
            with Image.open(jpg) as im:                                              # others: a good JPEG
                assert im.format == "JPEG" and im.size == (mask.shape[1], mask.shape[0])
                err = np.abs(np.asarray(im.convert("RGB"), float) - np.asarray(Image.open(src).convert("RGB"), float))
                assert err.mean() < 12
        png = root / "SegmentationClass" / f"{key}.png"
        voc = mask.copy()
        voc[mask == labels.void_value] = 255                                         # VOC void
        with Image.open(png) as im:
            assert im.mode == "P"
            pal = im.getpalette()
            assert pal[: 3 * labels.num_classes] == labels.pil_palette()[: 3 * labels.num_classes]
            assert pal[3 * 255: 3 * 256] == [224, 224, 192]
            assert np.array_equal(np.array(im), voc)
    assert any("not JPEG" in w for w in report.warnings)
    sets = root / "ImageSets" / "Segmentation"
    train = (sets / "train.txt").read_text().split()
    val = (sets / "val.txt").read_text().split()
    assert len(train) == len(val) == 3 and not set(train) & set(val)
    assert sorted((sets / "trainval.txt").read_text().split()) == sorted(masks)
    lines = (root / "labelmap.txt").read_text().splitlines()
    assert lines[0] == "# label:color_rgb:parts:actions"
    # CamVid: no class is black -> classes in id order, then the void with VOC's void colour (its mask colour)
    assert lines[1:-1] == [f"{c.name}:{c.color[0]},{c.color[1]},{c.color[2]}::" for c in labels.classes]
    assert lines[-1] == "Unlabelled:224,224,192::"
    assert json.loads((out / "labels.json").read_text()) == labels.to_dict()


def test_voc_labelmap_background_first_void_last():
    from segstudio.core.export.voc import labelmap_text

    text = labelmap_text(preset("voc")).splitlines()
    assert text[1] == "background:0,0,0::"
    assert text[2] == "aeroplane:128,0,0::"
    assert text[-1] == "void:224,224,192::"
    assert len(text) == 1 + 21 + 1


def test_coco_round_trip_with_pycocotools(proj, tmp_path):
    folder, masks = proj
    labels = preset("camvid")
    out = tmp_path / "coco"
    export_project(folder, "coco", out)
    doc = json.loads((out / "annotations.json").read_text())
    assert [c["id"] for c in doc["categories"]] == list(range(1, labels.num_classes + 1))
    assert doc["segstudio"]["category_to_class"] == {str(i + 1): i for i in range(labels.num_classes)}
    by_name = {im["file_name"]: im for im in doc["images"]}
    project = Project(folder)
    for key, mask in masks.items():
        im = by_name[project.images[key].name]
        assert (out / "images" / im["file_name"]).read_bytes() == project.images[key].read_bytes()
        rebuilt = np.full(mask.shape, labels.void_value, mask.dtype)
        anns = [a for a in doc["annotations"] if a["image_id"] == im["id"]]
        assert sorted(a["category_id"] - 1 for a in anns) == sorted(set(np.unique(mask)) - {labels.void_value})
        for a in anns:
            assert a["iscrowd"] == 0
            binary = pycocotools_mask.decode(a["segmentation"]).astype(bool)
            assert not rebuilt[binary].any() or (rebuilt[binary] == labels.void_value).all()  # no overlap
            rebuilt[binary] = a["category_id"] - 1
            ref = pycocotools_mask.encode(np.asfortranarray((mask == a["category_id"] - 1).astype(np.uint8)))
            assert a["segmentation"]["counts"] == ref["counts"].decode()
            assert a["area"] == float(pycocotools_mask.area(ref))
            assert a["bbox"] == [float(v) for v in pycocotools_mask.toBbox(ref)]
        assert np.array_equal(rebuilt, mask)  # void pixels are in no annotation


def test_coco_split_files(proj, tmp_path):
    folder, _ = proj
    out = tmp_path / "coco"
    report = export_project(folder, "coco", out, split="train=0.6,val=0.4")
    whole = json.loads((out / "annotations.json").read_text())
    for name in ("train", "val"):
        part = json.loads((out / f"annotations_{name}.json").read_text())
        assert sorted(im["segstudio_key"] for im in part["images"]) == sorted(report.splits[name])
        ids = {im["id"] for im in part["images"]}
        assert all(a["image_id"] in ids for a in part["annotations"])
        assert part["categories"] == whole["categories"]


def test_cityscapes_camvid_png_round_trips(tmp_path):
    folder, masks = make_project(tmp_path, n=4)
    labels = preset("camvid")
    split = "train=0.5,val=0.5"
    rep = export_project(folder, "cityscapes", tmp_path / "cs", split=split)
    export_project(folder, "camvid", tmp_path / "cv", split=split)
    export_project(folder, "png", tmp_path / "png", split=split)
    project = Project(folder)
    for name, keys in rep.splits.items():
        for key in keys:
            mask, src = masks[key], project.images[key]
            gt = tmp_path / "cs" / "gtFine" / name / "proj"
            ids = np.array(Image.open(gt / f"{key}_gtFine_labelTrainIds.png"))
            expect = mask.copy()
            expect[mask == labels.void_value] = 255
            assert np.array_equal(ids, expect)
            assert np.array_equal(np.array(Image.open(gt / f"{key}_gtFine_labelIds.png")), expect)  # not Cityscapes' set
            colour = np.array(Image.open(gt / f"{key}_gtFine_color.png"))
            assert np.array_equal(colour, labels.color_lut()[mask])
            cs_img = tmp_path / "cs" / "leftImg8bit" / name / "proj" / f"{key}_leftImg8bit{src.suffix}"
            assert cs_img.read_bytes() == src.read_bytes()
            with Image.open(tmp_path / "cv" / f"{name}annot" / f"{key}.png") as im:
                assert im.mode == "L" and np.array_equal(np.array(im), mask)  # CamVid void stays 11
            assert (tmp_path / "cv" / name / src.name).read_bytes() == src.read_bytes()
            assert np.array_equal(masks_mod.read_mask(tmp_path / "png" / "masks" / f"{key}.png", labels), mask)
            assert np.array_equal(np.array(Image.open(tmp_path / "png" / "color" / f"{key}.png")),
                                  labels.color_lut()[mask])
        assert (tmp_path / "png" / "splits" / f"{name}.txt").read_text().split() == keys
    assert json.loads((tmp_path / "cv" / "classes.json").read_text())["ignore_index"] == 11


def _read_yolo(path, shape):
    h, w = shape
    per_class: dict[int, list[np.ndarray]] = {}
    for line in path.read_text().splitlines():
        vals = line.split()
        cid, xy = int(vals[0]), np.array(vals[1:], float).reshape(-1, 2)
        assert len(xy) >= 3 and (xy >= 0).all() and (xy <= 1).all()
        per_class.setdefault(cid, []).append(np.rint(xy * [w, h]).astype(np.int32))
    return per_class


def test_yolo_seg_polygons_cover_masks(proj, tmp_path):
    folder, masks = proj
    out = tmp_path / "yolo"
    report = export_project(folder, "yolo-seg", out, split="train=0.5,val=0.5")
    yaml = (out / "data.yaml").read_text()
    assert "train: images/train" in yaml and "val: images/val" in yaml and "nc: 11" in yaml
    assert '  0: "Sky"' in yaml and "path:" not in yaml.split("#")[0]
    for name, keys in report.splits.items():
        for key in keys:
            mask = masks[key]
            polys = _read_yolo(out / "labels" / name / f"{key}.txt", mask.shape)
            wrong = 0
            for cid in range(11):
                got = rasterise(polys.get(cid, []), mask.shape)
                wrong += int((got != (mask == cid)).sum())
            assert wrong <= 3, (key, wrong)  # only the 3 sprinkled single pixels may be lost
    assert any("yolo-seg" in w for w in report.warnings)  # the random masks have single pixels


def test_yolo_hole_is_bridged_and_tiny_component_dropped(tmp_path):
    folder, _ = make_project(tmp_path, n=1, labels=preset("binary"), size=(40, 40))
    mask = np.zeros((40, 40), np.uint8)
    mask[5:35, 5:35] = 1
    mask[12:25, 12:28] = 0      # hole
    mask[38, 38] = 1            # single pixel: no polygon
    Project(folder).write_mask("img00", mask)
    report = export_project(folder, "yolo-seg", tmp_path / "y")
    polys = _read_yolo(tmp_path / "y" / "labels" / "train" / "img00.txt", mask.shape)
    assert len(polys[1]) == 1                                # one polygon for the ring
    got = rasterise(polys[1], mask.shape)
    assert not got[13:24, 13:27].any()                       # the hole stays empty
    assert (got != (mask == 1)).sum() == 1                   # only the dropped pixel differs
    warning = next(w for w in report.warnings if w.startswith("yolo-seg"))
    # holes: the ring's one, plus two in the background class (around the ring and the single pixel)
    assert "1 component(s)" in warning and "3 hole(s)" in warning


def test_validator_reports_all_problems_and_writes_nothing(tmp_path):
    folder, _ = make_project(tmp_path, n=5)
    project = Project(folder)
    keys = project.keys()
    project.write_mask(keys[0], np.zeros((10, 10), np.uint8))             # wrong size
    Image.fromarray(np.full((24, 32), 200, np.uint8)).save(project.mask_path(keys[1]))  # id 200 not in CamVid
    project.mask_path(keys[2]).unlink()                                    # status edited, no mask
    out = tmp_path / "out"
    out.mkdir()
    (out / "something.txt").write_text("x")                                # non-empty, not an export
    before = tree_digest(folder)
    with pytest.raises(ExportError) as info:
        export_project(folder, "voc", out, split="train=0.5,val=0.6")
    problems = info.value.problems
    text = str(info.value)
    assert len(problems) == 5, problems
    assert "10×10" in text and "24" in text                  # size mismatch names both sizes
    assert "200" in text                                       # bad id
    assert "no mask" in text                                   # missing mask
    assert "not empty" in text                                 # output folder
    assert "add up to" in text                                 # split
    assert tree_digest(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "proj"]
    assert [p.name for p in out.iterdir()] == ["something.txt"]


def test_only_and_allow_missing(tmp_path):
    st = [Status.EDITED, Status.REVIEWED, Status.UNLABELLED, Status.PREDICTED, Status.REVIEWED]
    folder, masks = make_project(tmp_path, n=5, statuses=st)
    assert export_project(folder, "png", tmp_path / "e").images == 3
    assert export_project(folder, "png", tmp_path / "r", only="reviewed").splits["train"] == ["img01", "img04"]
    with pytest.raises(ExportError) as info:
        export_project(folder, "png", tmp_path / "a", only="all")
    assert len(info.value.problems) == 2 and not (tmp_path / "a").exists()
    report = export_project(folder, "png", tmp_path / "a", only="all", allow_missing=True)
    assert report.skipped == ["img02", "img03"] and report.images == 3


def test_nothing_selected_is_an_error(tmp_path):
    folder, _ = make_project(tmp_path, n=2, statuses=[Status.UNLABELLED, Status.PREDICTED])
    with pytest.raises(ExportError, match="nothing to export"):
        export_project(folder, "voc", tmp_path / "o")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_deterministic_and_project_untouched(proj, tmp_path, fmt):
    folder, _ = proj
    before = tree_digest(folder)
    a = export_project(folder, fmt, tmp_path / "a", split="train=0.7,val=0.3", seed=3)
    b = export_project(folder, fmt, tmp_path / "b", split="train=0.7,val=0.3", seed=3)
    assert a.splits == b.splits
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert tree_digest(folder) == before
    assert (tmp_path / "a" / "segstudio-export.json").is_file()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


@pytest.mark.parametrize("after", [2, 8])  # cancel while checking, and while writing
def test_cancel_leaves_nothing(proj, tmp_path, after):
    folder, _ = proj
    cancel = threading.Event()
    calls = []

    def progress(done, total, message):
        calls.append((done, total, message))
        if len(calls) >= after:
            cancel.set()

    with pytest.raises(ExportCancelled):
        export_project(folder, "coco", tmp_path / "sub" / "out", progress=progress, cancel=cancel)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]   # not even the parent folder made
    assert calls[0][1] == 13 and calls[-1][0] < 13


def test_progress_reaches_total(proj, tmp_path):
    folder, _ = proj
    seen = []
    export_project(folder, "png", tmp_path / "o", progress=lambda d, t, m: seen.append((d, t, m)))
    assert seen[-1] == (13, 13, "done")
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)


def test_overwrite_rules(proj, tmp_path):
    folder, _ = proj
    out = tmp_path / "o"
    export_project(folder, "png", out)
    with pytest.raises(ExportError, match="not empty"):
        export_project(folder, "voc", out)
    export_project(folder, "voc", out, overwrite=True)
    assert (out / "VOCdevkit" / "VOC2012" / "labelmap.txt").exists() and not (out / "masks").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "proj"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not a SegStudio export"):
        export_project(folder, "voc", other, overwrite=True)
    with pytest.raises(ExportError, match="contains the project"):
        export_project(folder, "voc", folder, overwrite=True)
    with pytest.raises(ExportError, match="inside the project store"):
        export_project(folder, "voc", folder / "segstudio" / "exp")
    (tmp_path / "empty").mkdir()
    export_project(folder, "png", tmp_path / "empty")
    assert (tmp_path / "empty" / "masks").is_dir()


def test_colliding_names(tmp_path):
    folder, _ = make_project(tmp_path, n=2, jpeg_every=0)
    project = Project(folder)
    rgb = np.zeros((24, 32, 3), np.uint8)
    Image.fromarray(rgb).save(folder / "img00.jpg")           # same stem as img00.png -> keys img00.jpg/.png
    Image.fromarray(rgb).save(folder / "IMG01.png")           # differs from img01.png only in case
    project = Project(folder)
    for key in project.keys():
        if not project.has_mask(key):
            project.write_mask(key, np.zeros((24, 32), np.uint8))
    with pytest.raises(ExportError) as info:
        export_project(folder, "voc", tmp_path / "o")
    assert len(info.value.problems) == 1 and "IMG01.png, img01.png" in info.value.problems[0]
    (folder / "IMG01.png").unlink()
    project = Project(folder)
    export_project(folder, "voc", tmp_path / "o")
    root = tmp_path / "o" / "VOCdevkit" / "VOC2012"
    names = sorted(p.name for p in (root / "JPEGImages").iterdir())
    assert names == ["img00_jpg.jpg", "img00_png.jpg", "img01.jpg"]
    assert sorted(p.name for p in (root / "SegmentationClass").iterdir()) == [
        "img00_jpg.png", "img00_png.png", "img01.png"]


def test_exif_rotated_image_uses_displayed_size(tmp_path):
    folder, _ = make_project(tmp_path, n=1)
    exif = Image.Exif()
    exif[0x0112] = 6                                            # rotate 90°: displayed 24 wide, 32 high
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(folder / "rot.jpg", exif=exif)
    project = Project(folder)
    project.write_mask("rot", np.zeros((32, 24), np.uint8))
    report = export_project(folder, "voc", tmp_path / "o")
    assert report.images == 2 and any("EXIF orientation" in w for w in report.warnings)


def test_uint16_label_set_rejected_by_voc_but_png_works(tmp_path):
    from segstudio.core.labels import LabelClass, LabelSet

    big = LabelSet(tuple(LabelClass(i, f"c{i}", (i % 256, i // 256, 0)) for i in range(300)), 65535)
    folder, masks = make_project(tmp_path, n=2, labels=big)
    with pytest.raises(ExportError, match="0..254 with 255 as void"):
        export_project(folder, "voc", tmp_path / "v")
    with pytest.raises(ExportError, match="255 as void"):
        export_project(folder, "cityscapes", tmp_path / "c")
    export_project(folder, "png", tmp_path / "p")
    for key, mask in masks.items():
        assert np.array_equal(masks_mod.read_mask(tmp_path / "p" / "masks" / f"{key}.png", big), mask)


def test_voc_rejects_colon_in_class_name(tmp_path):
    from segstudio.core.labels import LabelClass, LabelSet

    labels = LabelSet((LabelClass(0, "bg", (0, 0, 0)), LabelClass(1, "a:b", (255, 0, 0))), 255)
    folder, _ = make_project(tmp_path, n=1, labels=labels)
    with pytest.raises(ExportError, match="labelmap.txt cannot hold"):
        export_project(folder, "voc", tmp_path / "o")


def test_not_a_project(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(ExportError, match="not a SegStudio project"):
        export_project(tmp_path / "plain", "voc", tmp_path / "o")
    with pytest.raises(ExportError, match="unknown export format"):
        export_project(tmp_path / "plain", "kitti", tmp_path / "o")


def test_cli(proj, tmp_path, capsys):
    from segstudio.cli import main

    folder, _ = proj
    assert main(["export", str(folder), "--format", "coco", "--out", str(tmp_path / "c"),
                 "--split", "train=0.5,val=0.5", "--seed", "2"]) == 0
    out = capsys.readouterr()
    assert "exported 6 image(s) (train 3, val 3) as coco" in out.out
    assert main(["export", str(folder), "--format", "coco", "--out", str(tmp_path / "c")]) == 1
    assert "not empty" in capsys.readouterr().err


def test_a_killed_exports_partial_folder_is_removed_by_the_next_export(proj, tmp_path):
    """kill -9 in the middle of writing leaves DIR.partial-HOST-PID-*; the next export removes it (the
    process is gone), says so, and leaves a running export's folder and foreign folders alone."""
    import os
    import subprocess
    import sys

    folder, _ = proj
    out = tmp_path / "exp"
    code = ("import os, sys\n"
            "from segstudio.core.export import export_project\n"
            "calls = []\n"
            "def tick(done, total, what):\n"
            "    calls.append(what)\n"
            "    if sum(c.startswith('writing') for c in calls) == 3:   # two images written\n"
            "        os.kill(os.getpid(), 9)\n"
            f"export_project({str(folder)!r}, 'voc', {str(out)!r}, progress=tick)\n")
    killed = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert killed.returncode == -9, killed.stderr.decode()
    left = [p for p in tmp_path.iterdir() if p.name.startswith("exp.partial-")]
    assert len(left) == 1 and any(left[0].rglob("*.png")) and not out.exists()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        running = tmp_path / left[0].name.replace(left[0].name.split("-")[-2], str(sleeper.pid), 1)
        running.mkdir()
        foreign = tmp_path / "exp.partial-otherhost-1-abcd"
        foreign.mkdir()
        report = export_project(folder, "voc", out)
        assert not left[0].exists() and running.is_dir() and foreign.is_dir()
        assert any("removed 1 unfinished export folder" in w for w in report.warnings)
        assert (out / "segstudio-export.json").is_file()
    finally:
        sleeper.kill()
        sleeper.wait()
