"""Exports read by the loaders people train with: torchvision's VOCSegmentation and Cityscapes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from importhelpers import make_project
from segstudio.core.export import export_project
from segstudio.core.export.cityscapes import TRAIN_TO_LABEL_ID
from segstudio.core.labels import preset
from segstudio.core.project import Project

datasets = pytest.importorskip("torchvision.datasets")


@pytest.mark.parametrize("preset_name", ["camvid", "voc"])
def test_voc_segmentation_loads_every_pair(tmp_path, preset_name):
    labels = preset(preset_name)
    folder, masks = make_project(tmp_path, n=5, labels=labels)
    out = tmp_path / "voc"
    report = export_project(folder, "voc", out, split="train=0.6,val=0.4", seed=0)
    project = Project(folder)
    for image_set, keys in (("train", report.splits["train"]), ("val", report.splits["val"]),
                            ("trainval", [k for k in project.keys() if k in masks])):
        ds = datasets.VOCSegmentation(str(out), year="2012", image_set=image_set, download=False)
        assert len(ds) == len(keys) > 0
        for i, key in enumerate(keys):
            img, target = ds[i]
            mask = masks[key]
            assert img.size == target.size == (mask.shape[1], mask.shape[0])
            expect = np.where(mask == labels.void_value, 255, mask)   # VOC: void 255, ids kept
            assert target.mode == "P" and np.array_equal(np.array(target), expect), (image_set, key)
            assert target.getpalette()[3 * 255: 3 * 256] == [224, 224, 192]


@pytest.mark.parametrize("preset_name", ["cityscapes", "camvid"])
def test_cityscapes_semantic_targets(tmp_path, preset_name):
    labels = preset(preset_name)
    folder, masks = make_project(tmp_path, n=4, labels=labels)
    out = tmp_path / "cs"
    report = export_project(folder, "cityscapes", out, split="train=0.5,val=0.5", seed=1)
    if preset_name == "cityscapes":     # official label ids: train id -> label id, void -> 0 (unlabeled)
        lut = np.zeros(256, np.uint8)
        lut[: len(TRAIN_TO_LABEL_ID)] = TRAIN_TO_LABEL_ID
    else:                               # another label set: labelIds hold the train ids, void 255
        lut = np.arange(256, dtype=np.uint8)
        lut[labels.void_value] = 255
    for split, keys in report.splits.items():
        ds = datasets.Cityscapes(str(out), split=split, mode="fine", target_type="semantic")
        assert len(ds) == len(keys) > 0
        by_stem = {}
        for i, path in enumerate(ds.images):
            by_stem[path.rsplit("/", 1)[1].split("_leftImg8bit")[0]] = i
        for key in keys:
            img, target = ds[by_stem[key]]
            assert img.size == target.size
            assert np.array_equal(np.array(target), lut[masks[key]]), (split, key)
        train_ids = datasets.Cityscapes(str(out), split=split, target_type="semantic")
        assert len(train_ids) == len(keys)


def test_cityscapes_image_named_like_cityscapes_pairs_up(tmp_path):
    labels = preset("cityscapes")
    folder, masks = make_project(tmp_path, n=1, labels=labels, jpeg_every=0)
    src = folder / "img00.png"
    dst = folder / "aachen_000000_000019_leftImg8bit.png"
    src.rename(dst)
    (folder / "segstudio" / "masks" / "img00.png").rename(folder / "segstudio" / "masks" /
                                                          "aachen_000000_000019_leftImg8bit.png")
    export_project(folder, "cityscapes", tmp_path / "cs", only="all")
    ds = datasets.Cityscapes(str(tmp_path / "cs"), split="train", target_type="semantic")
    assert len(ds) == 1 and ds.targets[0][0].endswith("aachen_000000_000019_gtFine_labelIds.png")
    _, target = ds[0]
    assert np.array(target).shape == masks["img00"].shape
    assert Image.open(ds.images[0]).size == (32, 24)
