"""Export -> import gives back identical class-index arrays, for every export format."""

from __future__ import annotations

import numpy as np
import pytest

from importhelpers import empty_copy, make_project
from segstudio.core.export import export_project
from segstudio.core.importers import import_labels
from segstudio.core.labels import LabelSet, preset
from segstudio.core.project import Project, Status

pytest.importorskip("pycocotools.mask")
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

CASES = [("voc", "voc", ""), ("coco", "coco", ""), ("cityscapes", "cityscapes", ""), ("camvid", "ids", ""),
         ("png", "ids", ""), ("png", "rgb", "color"), ("voc", "cvat", "VOCdevkit/VOC2012")]


def _check_same(dst, masks, labels: LabelSet):
    project = Project(dst)
    assert project.labels == labels
    for key, mask in masks.items():
        got = project.read_mask(key)
        assert got is not None and got.dtype == mask.dtype and np.array_equal(got, mask), key
        assert project.status(key) == Status.EDITED


@pytest.mark.parametrize("export_fmt,import_fmt,sub", CASES)
@pytest.mark.parametrize("preset_name", ["camvid", "voc"])
def test_round_trip_into_a_project_with_the_same_labels(tmp_path, export_fmt, import_fmt, sub, preset_name):
    labels = preset(preset_name)
    folder, masks = make_project(tmp_path, n=4, labels=labels)
    out = tmp_path / "out"
    export_project(folder, export_fmt, out, split="train=0.5,val=0.5", seed=3)
    dst = empty_copy(tmp_path, folder)
    Project(dst).set_labels(labels)
    report = import_labels(dst, import_fmt, out / sub if sub else out)
    assert sorted(report.written) == sorted(masks) and not report.classes_added
    _check_same(dst, masks, labels)


@pytest.mark.parametrize("export_fmt,import_fmt,sub", CASES)
def test_round_trip_into_a_fresh_folder_adopts_the_label_set(tmp_path, export_fmt, import_fmt, sub):
    labels = preset("camvid")
    folder, masks = make_project(tmp_path, n=3, labels=labels)
    out = tmp_path / "out"
    export_project(folder, export_fmt, out)
    dst = empty_copy(tmp_path, folder)
    import_labels(dst, import_fmt, out / sub if sub else out)
    project = Project(dst)
    assert project.labels.names == labels.names
    for key, mask in masks.items():
        expect = mask.copy()
        expect[mask == labels.void_value] = project.labels.void_value
        assert np.array_equal(project.read_mask(key), expect), key


@pytest.mark.parametrize("specks", [0, 3])
def test_yolo_round_trip_loses_exactly_what_the_export_reported(tmp_path, specks):
    labels = preset("camvid")
    folder, masks = make_project(tmp_path, n=3, labels=labels, specks=specks, size=(36, 48))
    out = tmp_path / "y"
    report = export_project(folder, "yolo-seg", out)
    dst = empty_copy(tmp_path, folder)
    Project(dst).set_labels(labels)
    import_labels(dst, "yolo-seg", out)
    project = Project(dst)
    wrong = sum(int((project.read_mask(k) != m).sum()) for k, m in masks.items())
    if specks == 0:   # blocks only: every component is a polygon, the round trip is exact
        assert not report.warnings and wrong == 0
    else:             # single pixels have no polygon: the import misses exactly the pixels the export counted
        warning = next(w for w in report.warnings if w.startswith("yolo-seg"))
        assert wrong == int(warning.split(" in ")[1].split()[0]) > 0
