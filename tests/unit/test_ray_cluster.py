"""The Ray runner on a 2-node ``ray.cluster_utils.Cluster`` reached by address: both nodes predict,
outputs equal the local runner's, the bad file is listed.

Each node declares 2 logical CPUs and each Predictor actor asks for 1.5, so the two actors cannot
share a node (as GPU actors on GPU nodes cannot). A simulated 2 s model step (longer than a decode
task takes to deliver the next image, even on a loaded machine) makes the pool use both actors."""

from __future__ import annotations

import pytest

from segstudio.models.runners import get_runner
from test_ray_runner import make_folder, outputs, spec


def test_two_node_cluster_same_bytes(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is the optional extra [cluster]")
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    src, model = make_folder(tmp_path, n=4)
    images = sorted(src.iterdir())
    get_runner("local")(spec(model), images, tmp_path / "local")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=2)
        cluster.wait_for_nodes()
        res = get_runner("ray")(spec(model, delay=2.0), images, tmp_path / "ray", address=cluster.address,
                                workers=2, cpus_per_worker=1.5)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
    assert len(res.written) == 4 and [p.name for p, _ in res.failed] == ["broken.png"]
    assert len(res.per_node) == 2 and sum(res.per_node.values()) == 4, res.per_node
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")
