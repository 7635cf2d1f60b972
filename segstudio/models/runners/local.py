"""The local runner: the in-process batch (``models.batch.run_batch``) behind the runner contract.

It builds one Predictor from the spec in this process; it never imports Ray.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from segstudio.models.batch import BatchResult, run_batch
from segstudio.models.runners.spec import PredictorSpec


def run(spec: PredictorSpec, images: Iterable[str | Path], out_dir: str | Path, predictor: Any = None,
        workers: int = 2, **options: Any) -> BatchResult:
    """``run_batch`` with ``spec.build()`` (or an already built ``predictor``); ``workers`` reader/writer threads."""
    for cluster_only in ("address", "gpus_per_worker", "cpus_per_worker"):
        options.pop(cluster_only, None)
    return run_batch(predictor if predictor is not None else spec.build(), images, out_dir,
                     readers=workers, writers=workers, **options)
