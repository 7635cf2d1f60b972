"""Export of a project built from real CamVid annotations (../shared/data/camvid), checked pixel by pixel."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from segstudio.core import masks as masks_mod
from segstudio.core.export import export_project
from segstudio.core.labels import preset
from segstudio.core.project import Project, Status

pycocotools_mask = pytest.importorskip("pycocotools.mask")
# pycocotools (numpy 2) warns about its own __array__ use on decode; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
N = 5


@pytest.fixture
def camvid_project(tmp_path, camvid_dir):
    names = sorted(p.name for p in (camvid_dir / "valannot").glob("*.png"))[:N]
    folder = tmp_path / "proj"
    folder.mkdir()
    for name in names:
        shutil.copyfile(camvid_dir / "val" / name, folder / name)
    labels = preset("camvid")
    project = Project(folder, default_labels=labels)
    truth = {}
    for name in names:
        mask = masks_mod.read_mask(camvid_dir / "valannot" / name, labels)
        key = name[:-4]
        project.write_mask(key, mask, Status.EDITED)
        truth[key] = mask
    return folder, truth


@pytest.mark.camvid
def test_camvid_voc_and_coco_pixel_exact(camvid_project, tmp_path):
    folder, truth = camvid_project
    labels = preset("camvid")
    report = export_project(folder, "voc", tmp_path / "voc", split="train=0.6,val=0.4", seed=0)
    assert report.images == N
    root = tmp_path / "voc" / "VOCdevkit" / "VOC2012"
    for key, mask in truth.items():
        voc = np.where(mask == labels.void_value, 255, mask)     # VOC writes void as 255
        with Image.open(root / "SegmentationClass" / f"{key}.png") as im:
            assert im.mode == "P" and np.array_equal(np.array(im), voc)
        assert (root / "SegStudioOriginals" / f"{key}.png").read_bytes() == (folder / f"{key}.png").read_bytes()
        assert (root / "JPEGImages" / f"{key}.jpg").is_file()

    export_project(folder, "coco", tmp_path / "coco")
    doc = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    assert len(doc["images"]) == N
    for im in doc["images"]:
        mask = truth[im["segstudio_key"]]
        assert (im["height"], im["width"]) == mask.shape
        rebuilt = np.full(mask.shape, labels.void_value, np.uint8)
        for a in (a for a in doc["annotations"] if a["image_id"] == im["id"]):
            rebuilt[pycocotools_mask.decode(a["segmentation"]).astype(bool)] = a["category_id"] - 1
        assert np.array_equal(rebuilt, mask)
