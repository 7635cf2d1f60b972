"""The Batch panel's "Run on cluster": the address reaches the batch job as ClusterOptions, and the
cluster job files the runner's masks as predictions (no Ray here: the runner is swapped for the
local one, which has the same contract)."""

import numpy as np

from predhelpers import tiny_checkpoint
from segstudio.core.images import read_image
from segstudio.core.masks import read_mask
from segstudio.core.project import Project, Status
from segstudio.gui.prediction import cluster_job


def test_cluster_address_reaches_the_job(make_window, demo_folder, tmp_path, qtbot, monkeypatch):
    seen = {}

    def fake_cluster(options, model, project, keys, mapping, crf, cancel, progress, filed):
        seen.update(options=options, keys=list(keys), model=model.spec.source)
        for key in keys:
            project.write_prediction(key, np.zeros((60, 80), np.uint8))
            filed(key)
        return list(keys), [], False

    monkeypatch.setattr(cluster_job, "run_on_cluster", fake_cluster)
    win = make_window(demo_folder)
    ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    win.model_panel.select_file(ckpt)
    panel = win.batch_panel
    panel.cluster_edit.setText("  ray://head:10001 ")
    assert panel.start("all")
    qtbot.waitUntil(lambda: panel.summary is not None, timeout=30000)
    assert seen["options"] == cluster_job.ClusterOptions("ray://head:10001")
    assert seen["options"].ray_address == "ray://head:10001" and str(seen["model"]) == str(ckpt)
    assert sorted(seen["keys"]) == sorted(Project(demo_folder).keys())
    assert "3 of 3 images predicted" in panel.status.text()
    panel.cluster_edit.setText("")
    assert panel.cluster_options() is None                       # empty: runs on this machine


def test_cluster_job_files_runner_masks_as_predictions(demo_folder, tmp_path, monkeypatch):
    from segstudio.gui.prediction.engine import ModelSpec, load_predictor
    from segstudio.models.runners import local, ray_runner

    monkeypatch.setattr(ray_runner, "run", lambda spec, images, out, address=None, workers=2, gpus_per_worker=0.0,
                        **kw: local.run(spec, images, out, **kw))
    proj = Project(demo_folder)
    first, *rest = proj.keys()
    proj.write_mask(first, np.full((60, 80), 2, np.uint8))
    mask_bytes = proj.mask_path(first).read_bytes()
    model = load_predictor(ModelSpec(tiny_checkpoint(tmp_path / "tiny.pt"), device="cpu"))
    filed = []
    written, failed, cancelled = cluster_job.run_on_cluster(
        cluster_job.ClusterOptions("local"), model, proj, proj.keys(), None, None, lambda: False,
        lambda info: None, filed.append)
    assert sorted(written) == sorted(filed) == sorted(proj.keys()) and not failed and not cancelled
    rgb = read_image(proj.images[rest[0]]).rgb
    expected = model.predictor.predict(rgb, want_probs=False).labels
    assert np.array_equal(read_mask(proj.prediction_path(rest[0])), expected)
    assert proj.mask_path(first).read_bytes() == mask_bytes         # the user's mask untouched
    assert proj.status(first) == Status.EDITED and all(proj.status(k) == Status.PREDICTED for k in rest)
    assert not (proj.store / cluster_job.STAGING).exists()
