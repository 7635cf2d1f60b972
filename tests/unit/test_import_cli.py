"""``segstudio import``: the verb adds unknown classes and reports them; problems exit 1, all listed."""

from __future__ import annotations

import json

import numpy as np

from importhelpers import make_images
from segstudio.cli import main
from segstudio.core.labels import preset
from segstudio.core.project import Project


def _labelme(path, image, label):
    path.write_text(json.dumps({"shapes": [{"label": label, "points": [[0, 0], [9, 9]], "shape_type": "rectangle"}],
                                "imagePath": image, "imageHeight": 24, "imageWidth": 32}))


def test_import_verb(tmp_path, capsys):
    folder = tmp_path / "proj"
    make_images(folder, 2, jpeg_every=0)
    Project(folder).set_labels(preset("voc"))
    src = tmp_path / "lm"
    src.mkdir()
    _labelme(src / "img00.json", "img00.png", "Dog")
    _labelme(src / "img01.json", "img01.png", "unicorn")
    (tmp_path / "map.json").write_text(json.dumps({"unicorn": "horse"}))
    assert main(["import", str(folder), "--format", "labelme", "--source", str(src), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("imported 2 mask(s)") and "added 1 class(es): unicorn" in out
    assert Project(folder).labels.names[-1] == "unicorn"

    assert main(["import", str(folder), "--format", "labelme", "--source", str(src)]) == 1
    err = capsys.readouterr().err
    assert "already have a mask of yours: img00, img01" in err and "Traceback" not in err

    assert main(["import", str(folder), "--format", "labelme", "--source", str(src), "--overwrite",
                 "--map", str(tmp_path / "map.json")]) == 0
    out = capsys.readouterr().out
    assert "unicorn -> horse (--map): 100 px" in out and "pixels written per class:" in out
    project = Project(folder)
    assert (project.read_mask("img01")[:10, :10] == preset("voc").by_name("horse").id).all()
    assert np.count_nonzero(project.read_mask("img00") == preset("voc").by_name("dog").id) == 100


def test_import_verb_reports_every_problem(tmp_path, capsys):
    folder = tmp_path / "proj"
    make_images(folder, 1, jpeg_every=0)
    src = tmp_path / "lm"
    src.mkdir()
    _labelme(src / "nope.json", "nope.png", "cat")
    (src / "bad.json").write_text("[]")
    assert main(["import", str(folder), "--format", "labelme", "--source", str(src)]) == 1
    err = capsys.readouterr().err
    assert "2 problem(s)" in err and "nope.json" in err and "bad.json" in err
    assert not (folder / "segstudio" / "masks").exists()
