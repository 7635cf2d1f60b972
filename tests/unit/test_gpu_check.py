"""scripts/gpu_check.sh in CPU mode: the same table and JSON as on a GPU, tiny sizes (CI has no GPU)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_gpu_check_cpu_mode_writes_the_table_and_json(tmp_path):
    env = dict(os.environ, GPU_CHECK_DEVICE="cpu")
    run = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh"), str(tmp_path)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stdout + run.stderr
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert set(report) >= {"device", "predict", "folder", "tiled", "crf", "train"}
    fp32 = [r for r in report["predict"] if r["precision"] == "fp32"]
    assert len(fp32) == 2 and all(r["raw_ms"] > 0 and r["predict_ms"] > 0 for r in fp32)
    # reduced precision has no CPU autocast here: skipped with the reason, never silently
    assert all("CUDA device only" in r["skipped"] for r in report["predict"] if r["precision"] != "fp32")
    assert report["folder"]["failed"] == 0 and report["folder"]["ratio"] > 0
    assert 0.0 <= report["train"][0]["loader_wait_fraction"] <= 1.0
    if "label_agreement" in report["crf"]:
        assert report["crf"]["label_agreement"] > 0.95
    table = (tmp_path / "gpu_check.md").read_text()
    assert "predict / raw" in table and "dense CRF" in table and "loader wait" in table
    assert "auto_device" in (tmp_path / "doctor.txt").read_text()
