"""Importers on files built in the test: labelme, COCO, CVAT, colour masks, Cityscapes label ids."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from importhelpers import make_images
from segstudio.core.importers import ImportFailed, import_labels, plan_import, run_import
from segstudio.core.labels import preset
from segstudio.core.project import Project, Status

H, W = 24, 32
# pycocotools (numpy 2) warns about its own __array__ use on decode; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def camvid_project(tmp_path, n=2):
    folder = tmp_path / "proj"
    keys = make_images(folder, n, (H, W), jpeg_every=0)
    Project(folder).set_labels(preset("camvid"))
    return folder, keys


def labelme_file(path, image, shapes, size=(H, W)):
    path.write_text(json.dumps({"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": image,
                                "imageData": None, "imageHeight": size[0], "imageWidth": size[1]}))


def shape(label, points, kind="polygon", **extra):
    return {"label": label, "points": points, "group_id": None, "shape_type": kind, "flags": {}, **extra}


def b64_png(arr):
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8) * 255).convert("1").save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_labelme_shapes_overlap_in_file_order_and_unknown_names_are_added(tmp_path):
    folder, keys = camvid_project(tmp_path)
    project = Project(folder)
    project.write_prediction(keys[1], np.full((H, W), 11, np.uint8))     # void 11 in a stored prediction
    src = tmp_path / "lm"
    src.mkdir()
    speck = np.zeros((3, 4), bool)
    speck[1, 1:3] = True
    labelme_file(src / "img00.json", "../images/img00.png", [
        shape("road", [[0, 0], [20, 0], [20, 10], [0, 10]]),              # polygon x 0..20, y 0..10
        shape("car", [[5, 5], [12, 12]], "rectangle"),                    # later: over the road
        shape("Traffic-Cone", [[25, 5], [25, 8]], "circle"),              # a new class
        shape("car", [[0, 20], [30, 20]], "line"),
        shape("car", [[1, 1]], "point"),
        shape("tree", [[26, 18], [29, 20]], "mask", mask=b64_png(speck)),
    ])
    report = import_labels(folder, "labelme", src)
    project = Project(folder)
    labels = project.labels
    assert report.classes_added == ["Traffic-Cone"] and labels.names[-1] == "Traffic-Cone"
    assert labels.ignore_index == 255                                    # void moved: 11 is now Traffic-Cone
    assert np.array_equal(project.read_prediction(keys[1]), np.full((H, W), 255, np.uint8))
    mask = project.read_mask("img00")
    road, car, tree, cone = (labels.by_name(n).id for n in ("Road", "Car", "Tree", "Traffic-Cone"))
    expect = np.full((H, W), 255, np.uint8)
    expect[0:11, 0:21] = road
    expect[5:13, 5:13] = car
    expect[19, 27:29] = tree
    yy, xx = np.mgrid[:H, :W]
    disk = mask == cone                                # PIL's ellipse (as labelme draws circles), radius 3
    assert disk[(xx - 25) ** 2 + (yy - 5) ** 2 <= 4].all() and not disk[(xx - 25) ** 2 + (yy - 5) ** 2 > 16].any()
    expect[disk] = cone
    assert np.array_equal(mask, expect)
    assert project.status("img00") == Status.EDITED and not project.has_mask(keys[1])
    text = "\n".join(report.lines())
    assert "line shape (no area), shapes left out: 1" in text and "point shape (no area)" in text
    assert f"Car: {int((expect == car).sum())}" in text
    assert any("overlap rule" in w for w in report.warnings)


def test_labelme_size_mismatch_and_missing_image_reported_together(tmp_path):
    folder, _ = camvid_project(tmp_path)
    src = tmp_path / "lm"
    src.mkdir()
    labelme_file(src / "img00.json", "img00.png", [shape("car", [[1, 1], [5, 5]], "rectangle")], size=(10, 10))
    labelme_file(src / "other.json", "other.jpg", [shape("car", [[1, 1], [5, 5]], "rectangle")])
    (src / "broken.json").write_text("{not json")
    with pytest.raises(ImportFailed) as info:
        import_labels(folder, "labelme", src)
    problems = info.value.problems
    assert len(problems) == 3
    assert any("declares 10×10" in p for p in problems)
    assert any("other.json" in p and "--skip-missing" in p for p in problems)
    assert any("broken.json" in p for p in problems)
    assert not (folder / "segstudio" / "masks").exists()                  # nothing written


def test_coco_rle_and_polygons_overlap_rule(tmp_path):
    mask_api = pytest.importorskip("pycocotools.mask")
    folder, _ = camvid_project(tmp_path)
    big = np.zeros((H, W), np.uint8)
    big[:, :20] = 1
    small = np.zeros((H, W), np.uint8)
    small[4:10, 4:10] = 1
    crowd = np.zeros((H, W), np.uint8)
    crowd[15:, 10:30] = 1
    rle = mask_api.encode(np.asfortranarray(small))
    anns = [
        {"id": 1, "image_id": 7, "category_id": 3, "iscrowd": 0,                 # small car, listed first
         "segmentation": {"size": [H, W], "counts": rle["counts"].decode()}},
        {"id": 2, "image_id": 7, "category_id": 1, "iscrowd": 0,                 # big road polygon
         "segmentation": [[0, 0, 19.5, 0, 19.5, 23.5, 0, 23.5]]},
        {"id": 3, "image_id": 7, "category_id": 2, "iscrowd": 1,                 # crowd, uncompressed RLE
         "segmentation": {"size": [H, W], "counts": _uncompressed(crowd)}},
        {"id": 4, "image_id": 7, "category_id": 99, "iscrowd": 0, "segmentation": [[0, 0, 1, 0, 1, 1]]},
    ]
    doc = {"images": [{"id": 7, "file_name": "train2017/img00.png", "height": H, "width": W}],
           "annotations": anns,
           "categories": [{"id": 1, "name": "road"}, {"id": 2, "name": "Pedestrian"}, {"id": 3, "name": "car"}]}
    (tmp_path / "ann.json").write_text(json.dumps(doc))
    report = import_labels(folder, "coco", tmp_path / "ann.json")
    labels = preset("camvid")
    road, ped, car = (labels.by_name(n).id for n in ("Road", "Pedestrian", "Car"))
    poly = mask_api.decode(mask_api.merge(mask_api.frPyObjects(anns[1]["segmentation"], H, W))).astype(bool)
    expect = np.full((H, W), labels.void_value, np.uint8)
    expect[crowd.astype(bool)] = ped          # crowd first
    expect[poly] = road                       # then largest first
    expect[small.astype(bool)] = car          # the small car on top, although listed first
    assert np.array_equal(Project(folder).read_mask("img00"), expect)
    assert report.skipped["annotation of an unknown category, shapes left out"] == [
        "%s image 'train2017/img00.png' (id 7): 1" % (tmp_path / "ann.json")]
    assert not report.classes_added


def _uncompressed(binary):
    flat = binary.ravel(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], change, [flat.size]))).tolist()
    return ([0] + runs) if flat[0] else runs


def _cvat_tree(root, rgb_masks):
    (root / "SegmentationClass").mkdir(parents=True)
    (root / "labelmap.txt").write_text("# label:color_rgb:parts:actions\nbackground:0,0,0::\ncar:64,0,128::\n"
                                       "person:220,20,60::\n")
    for name, rgb in rgb_masks.items():
        Image.fromarray(rgb).save(root / "SegmentationClass" / f"{name}.png")


def test_cvat_mask_export_folder_and_zip_with_map(tmp_path):
    folder, _ = camvid_project(tmp_path)
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[2:8, 2:12] = (64, 0, 128)
    rgb[10:20, 20:30] = (220, 20, 60)
    _cvat_tree(tmp_path / "cvat", {"img00": rgb, "img01": np.zeros((H, W, 3), np.uint8)})
    with zipfile.ZipFile(tmp_path / "task.zip", "w") as z:
        for p in sorted((tmp_path / "cvat").rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(tmp_path / "cvat").as_posix())
    (tmp_path / "map.json").write_text(json.dumps({"Person": "Pedestrian"}))
    labels = preset("camvid")
    expect = np.full((H, W), labels.void_value, np.uint8)                # background -> void (CamVid has none)
    expect[2:8, 2:12] = labels.by_name("Car").id
    expect[10:20, 20:30] = labels.by_name("Pedestrian").id
    for n, source in enumerate((tmp_path / "cvat", tmp_path / "task.zip")):
        report = import_labels(folder, "cvat", source, map_file=tmp_path / "map.json",
                               existing="overwrite" if n else "error")
        project = Project(folder)
        assert project.labels == labels and not report.classes_added
        assert np.array_equal(project.read_mask("img00"), expect)
        assert (project.read_mask("img01") == labels.void_value).all()
        assert any(line.startswith("person -> Pedestrian (--map)") for line in report.class_lines)
        assert any(line.startswith("background -> void") for line in report.class_lines)


def test_cvat_unknown_colour_lists_colours_and_files(tmp_path):
    folder, _ = camvid_project(tmp_path)
    bad = np.zeros((H, W, 3), np.uint8)
    bad[0, 0] = (1, 2, 3)
    bad[1, :] = (9, 9, 9)
    _cvat_tree(tmp_path / "cvat", {"img00": bad, "img01": bad})
    with pytest.raises(ImportFailed) as info:
        import_labels(folder, "cvat", tmp_path / "cvat")
    assert len(info.value.problems) == 2
    for name, p in zip(("img00", "img01"), info.value.problems):
        assert f"{name}.png" in p and "(1, 2, 3) 1 px" in p and f"(9, 9, 9) {W} px" in p


def test_rgb_unknown_colour_is_an_error_naming_colours_and_files(tmp_path):
    folder, _ = camvid_project(tmp_path)
    labels = preset("camvid")
    src = tmp_path / "colours"
    src.mkdir()
    good = labels.color_lut()[np.zeros((H, W), np.uint8)]
    Image.fromarray(good).save(src / "img00.png")
    bad = good.copy()
    bad[3:5, 3:5] = (255, 0, 255)
    Image.fromarray(bad).save(src / "img01.png")
    with pytest.raises(ImportFailed) as info:
        import_labels(folder, "rgb", src)
    (problem,) = info.value.problems
    assert "img01.png" in problem and "(255, 0, 255) 4 px" in problem and "camvid" in problem
    (src / "img01.png").unlink()
    import_labels(folder, "rgb", src)
    assert (Project(folder).read_mask("img00") == 0).all()


def test_cityscapes_label_ids_map_to_train_ids(tmp_path):
    folder = tmp_path / "proj"
    make_images(folder, 1, (H, W), jpeg_every=0)
    (folder / "img00.png").rename(folder / "aachen_000000_000019_leftImg8bit.png")
    gt = tmp_path / "gtFine" / "train" / "aachen"
    gt.mkdir(parents=True)
    ids = np.zeros((H, W), np.uint8)       # 0 unlabeled
    ids[:, 0:8] = 7                        # road -> 0
    ids[:, 8:16] = 26                      # car -> 13
    ids[:, 16:24] = 9                      # parking: not a train class -> void
    Image.fromarray(ids, mode="L").save(gt / "aachen_000000_000019_gtFine_labelIds.png")
    report = import_labels(folder, "cityscapes", tmp_path)                 # fresh project: adopts Cityscapes
    project = Project(folder)
    assert project.labels.names == preset("cityscapes").names
    expect = np.full((H, W), 255, np.uint8)
    expect[:, 0:8], expect[:, 8:16] = 0, 13
    assert np.array_equal(project.read_mask("aachen_000000_000019_leftImg8bit"), expect)
    assert report.written == ["aachen_000000_000019_leftImg8bit"]


def test_existing_masks_need_a_choice_and_decisions_settle_unknown_names(tmp_path):
    folder, keys = camvid_project(tmp_path)
    project = Project(folder)
    mine = np.zeros((H, W), np.uint8)
    project.write_mask("img00", mine)
    (project.store / ".journal").mkdir()
    (project.store / ".journal" / "img01.journal").write_bytes(b"")    # unsaved edits count as yours
    src = tmp_path / "lm"
    src.mkdir()
    for key in keys:
        labelme_file(src / f"{key}.json", f"{key}.png", [shape("dog", [[0, 0], [9, 9]], "rectangle")])
    with pytest.raises(ImportFailed, match="2 image\\(s\\) already have a mask of yours: img00, img01"):
        plan_import(folder, "labelme", src)
    plan = plan_import(folder, "labelme", src, existing="skip")
    assert plan.items == [] and plan.existing_skipped == ["img00", "img01"]
    assert run_import(plan).skipped["you already have a mask (kept)"] == ["img00", "img01"]
    assert np.array_equal(Project(folder).read_mask("img00"), mine)
    plan = plan_import(folder, "labelme", src, existing="overwrite")
    assert plan.unknown == ["dog"]
    report = run_import(plan, decisions={"dog": "Car"})
    project = Project(folder)
    assert project.labels == preset("camvid") and not report.classes_added
    assert (project.read_mask("img00")[:10, :10] == project.labels.by_name("Car").id).all()
    assert not (project.store / ".journal" / "img01.journal").exists()


def test_map_file_errors_and_ids_values_outside_the_set(tmp_path):
    folder, _ = camvid_project(tmp_path)
    src = tmp_path / "ids"
    src.mkdir()
    arr = np.zeros((H, W), np.uint8)
    arr[0, 0] = 40
    Image.fromarray(arr, mode="L").save(src / "img00.png")
    (tmp_path / "map.json").write_text('["not", "an object"]')
    with pytest.raises(ImportFailed) as info:
        import_labels(folder, "ids", src, map_file=tmp_path / "map.json")
    assert len(info.value.problems) == 2
    assert any("values 40 are not ids" in p and "img00.png" in p for p in info.value.problems)
    assert any("map.json" in p and "JSON object" in p for p in info.value.problems)
