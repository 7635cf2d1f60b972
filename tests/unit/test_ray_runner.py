"""The Ray batch runner against the local one: same bytes, failures listed, resume after a killed
run, a lost worker retried, and the local runner never importing Ray.

All tests of this module share one local Ray instance (``ray.init(num_cpus=2)``, started once);
the 2-node cluster test is in ``test_ray_cluster.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.cli import main
from segstudio.core.labels import preset
from segstudio.core.masks import read_mask
from segstudio.models.checkpoint import Checkpoint, save_checkpoint
from segstudio.models.registry import build_model
from segstudio.models.runners import get_runner
from segstudio.models.runners.ray_runner import fit_worker_cpus
from segstudio.models.runners.spec import PredictorSpec

REPO = Path(__file__).resolve().parents[2]


def make_folder(root: Path, n: int = 6, broken: bool = True) -> tuple[Path, Path]:
    """``root/in`` with ``n`` small random images (+ a truncated PNG) and ``root/m.pt`` (tiny random U-Net)."""
    src = root / "in"
    src.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (40 + i, 48, 3), dtype=np.uint8)).save(
            src / f"img{i}.{'jpg' if i % 3 == 0 else 'png'}")
    if broken:
        good = (src / "img1.png").read_bytes()
        (src / "broken.png").write_bytes(good[: len(good) // 3])
    torch.manual_seed(0)
    model = build_model("unet", 11, width=8, depth=2)
    save_checkpoint(Checkpoint("unet", preset("camvid"), model.state_dict(), {"width": 8, "depth": 2}),
                    root / "m.pt")
    return src, root / "m.pt"


def spec(model: Path, delay: float = 0.0) -> PredictorSpec:
    return PredictorSpec(str(model), {"device": "cpu", "engine": "torch", "tile": 0}, simulated_delay=delay)


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason="Ray is the optional extra [cluster]")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_fit_worker_cpus_leaves_room_for_io():
    assert fit_worker_cpus(64, 4, 1.0, 0.5, nodes=4) == 1.0          # a real cluster: untouched
    assert fit_worker_cpus(2, 2, 1.0, 0.5) == 0.75                   # this machine: 2 actors + 1 I/O task
    assert fit_worker_cpus(2, 2, 1.0, 0.5, nodes=2) == 0.5           # 2 nodes of 1 CPU
    with pytest.raises(Exception, match="too few"):
        fit_worker_cpus(0.5, 1, 1.0, 0.5)


def test_same_bytes_as_local_and_bad_file_listed(ray_local, tmp_path, capsys):
    src, model = make_folder(tmp_path)
    common = ["--model", str(model), "--device", "cpu", "--engine", "torch", "--tile", "0", "--save-probs", "--tta", "flip",
              "--quiet"]
    assert main(["batch", str(src), "--out", str(tmp_path / "local"), *common]) == 1
    capsys.readouterr()
    assert main(["batch", str(src), "--out", str(tmp_path / "ray"), "--runner", "ray", "--workers", "2",
                 *common]) == 1  # exit 1: broken.png failed
    out = capsys.readouterr()
    assert "6 written, 0 skipped, 1 failed" in out.out and "FAILED" in out.out and "broken.png" in out.out
    assert "runner: Ray" in out.err
    local, ray = outputs(tmp_path / "local"), outputs(tmp_path / "ray")
    assert sorted(local) == sorted(ray) and len(local) == 12          # 6 masks + 6 probability files
    assert all(local[name] == ray[name] for name in local)
    assert not [p for p in (tmp_path / "ray").iterdir() if p.name.endswith(".tmp")]


def test_resume_after_killed_run(ray_local, tmp_path):
    """A driver killed with SIGKILL mid-run leaves only complete files; --resume finishes the rest."""
    src, model = make_folder(tmp_path, n=8, broken=False)
    images = sorted(src.iterdir())
    get_runner("local")(spec(model), images, tmp_path / "local")
    out = tmp_path / "ray"
    address = ray_local.get_runtime_context().gcs_address
    code = ("import sys, pathlib; from segstudio.models.runners import ray_runner; "
            "from segstudio.models.runners.spec import PredictorSpec; "
            f"ray_runner.run(PredictorSpec({str(model)!r}, {{'device': 'cpu', 'engine': 'torch', 'tile': 0}}, "
            f"simulated_delay=0.5), sorted(pathlib.Path({str(src)!r}).iterdir()), {str(out)!r}, "
            f"address={address!r}, workers=1)")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob("*.png"))) < 2 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.poll() is None, "the run finished before it could be killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(30)
    done_before = {p.name for p in out.glob("*.png")}
    assert 2 <= len(done_before) < 8
    for name in done_before:                                          # what exists is complete
        assert read_mask(out / name).shape[1] == 48
    res = get_runner("ray")(spec(model), images, out, resume=True, workers=1)
    assert len(res.skipped) == len(done_before) and len(res.written) == 8 - len(done_before) and not res.failed
    local, ray = outputs(tmp_path / "local"), {k: v for k, v in outputs(out).items() if k.endswith(".png")}
    assert local == ray


def _pids_of(marker: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds Ray's actor process through /proc")
def test_lost_worker_is_restarted_and_its_images_retried(ray_local, tmp_path):
    src, model = make_folder(tmp_path, n=6, broken=False)
    images = sorted(src.iterdir())
    get_runner("local")(spec(model), images, tmp_path / "local")
    killed: list[int] = []

    def kill_the_actor(info) -> None:                     # on the first finished image
        if info.written == 1 and not killed:
            pids = _pids_of("PredictWorker")
            assert pids, "no Predictor actor process found"
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            killed.extend(pids)

    res = get_runner("ray")(spec(model, delay=0.3), images, tmp_path / "ray", workers=1, progress=kill_the_actor)
    assert killed and len(res.written) == 6 and not res.failed
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")


def test_local_runner_never_imports_ray(tmp_path):
    src, model = make_folder(tmp_path, n=2, broken=False)
    code = ("import sys; from segstudio.cli import main; "
            f"code = main(['batch', {str(src)!r}, '--out', {str(tmp_path / 'o')!r}, '--model', {str(model)!r}, "
            "'--device', 'cpu', '--quiet']); "
            "assert code == 0, code; assert not [m for m in sys.modules if m == 'ray' or m.startswith('ray.')]")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(list((tmp_path / "o").glob("*.png"))) == 2


def test_worker_that_cannot_build_its_predictor_is_a_clear_error(ray_local, tmp_path):
    from segstudio.core.errors import SegStudioError

    src, model = make_folder(tmp_path, n=1, broken=False)
    bad = PredictorSpec(str(model), {"device": "cpu", "engine": "no-such-engine"})
    with pytest.raises(SegStudioError, match="unknown engine 'no-such-engine'") as info:
        get_runner("ray")(bad, sorted(src.iterdir()), tmp_path / "o", workers=1)
    assert "Traceback" not in str(info.value)
