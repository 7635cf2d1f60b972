"""The Ray runner on a 2-node ``ray.cluster_utils.Cluster``, reached through ``segstudio batch
--runner ray --address``: both nodes predict, outputs equal the local runner's.

Each node declares 2 logical CPUs and each Predictor actor asks for 1.5, so the two actors cannot
share a node (as GPU actors on GPU nodes cannot): the work really crosses nodes."""

from __future__ import annotations

import pytest

from segstudio.cli import main
from test_ray_runner import make_folder, outputs


def test_two_node_cluster_same_bytes(tmp_path, capsys):
    ray = pytest.importorskip("ray", reason="Ray is the optional extra [cluster]")
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    src, model = make_folder(tmp_path, n=6)
    common = ["--model", str(model), "--device", "cpu", "--engine", "torch", "--tile", "0", "--quiet"]
    assert main(["batch", str(src), "--out", str(tmp_path / "local"), *common]) == 1
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=2)
        cluster.wait_for_nodes()
        capsys.readouterr()
        code = main(["batch", str(src), "--out", str(tmp_path / "ray"), "--runner", "ray", "--address",
                     cluster.address, "--workers", "2", "--cpus-per-worker", "1.5", *common])
        out = capsys.readouterr()
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
    assert code == 1 and "6 written, 0 skipped, 1 failed" in out.out
    assert "predicted on 2 node(s)" in out.err
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")
