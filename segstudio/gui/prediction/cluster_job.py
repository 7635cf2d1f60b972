"""The Batch panel's "Run on cluster": the project's images predicted by the Ray runner.

:class:`ClusterOptions` is what the panel hands to ``BatchRunner.start`` (cluster address, Predictor
actors, GPUs per actor). :func:`run_on_cluster` runs on the batch worker thread: it ships the
model *file* (a :class:`PredictorSpec`, so every Ray worker builds its own Predictor) and the image
paths to ``models.runners.ray_runner``, which writes masks into a staging folder inside the
project store, then files each one as ``predictions/<key>.png`` through ``Project.write_prediction``
(``masks/`` is never touched; unlabelled images become "predicted"). The project folder and the
model file must be on a filesystem the cluster's nodes share (docs/cluster.md). Cancel stops the
Ray pipeline; Pause is not available on a cluster.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from segstudio.core.class_mapping import apply_mapping
from segstudio.core.errors import SegStudioError
from segstudio.core.masks import read_mask
from segstudio.core.project import Project

STAGING = ".cluster-staging"


@dataclass(frozen=True)
class ClusterOptions:
    address: str                    # "auto", "ray://HOST:PORT" or "local" (a private Ray on this machine)
    workers: int = 2
    gpus_per_worker: float = 0.0

    @property
    def ray_address(self) -> str | None:
        return None if self.address.strip().lower() in ("", "local") else self.address.strip()


def run_on_cluster(options: ClusterOptions, model: Any, project: Project, keys: list[str], mapping: list[int] | None,
                   crf_params: Any, cancel: Callable[[], bool], progress: Callable[[Any], None],
                   filed: Callable[[str], None]) -> tuple[list[str], list[tuple[str, str]], bool]:
    """(written keys, failed (key, reason), cancelled); ``filed(key)`` after each prediction is stored."""
    from segstudio.models.runners.ray_runner import run
    from segstudio.models.runners.spec import PredictorSpec

    spec = model.spec
    if not isinstance(spec.source, (str, Path)):
        raise SegStudioError("Run on cluster needs a model file (the cluster's workers load it from disk)")
    predictor_spec = PredictorSpec(str(Path(spec.source).resolve()),
                                   {"device": spec.device or "auto", "engine": spec.engine or "auto",
                                    "tta": spec.tta or "none"})
    key_of = {project.images[k]: k for k in keys}
    staging = project.store / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    labels = project.labels
    try:
        result = run(predictor_spec, list(key_of), staging, progress=progress, cancel=cancel, crf=crf_params,
                     address=options.ray_address, workers=options.workers, gpus_per_worker=options.gpus_per_worker)
        written: list[str] = []
        failed = [(key_of.get(Path(p), str(p)), why) for p, why in result.failed]
        for src in result.written:
            key = key_of[Path(src)]
            try:
                mask = read_mask(staging / f"{Path(src).stem}.png")
                if mapping is not None:
                    mask, _ = apply_mapping(mask, None, mapping, labels)
                project.write_prediction(key, mask.astype(labels.dtype))
                written.append(key)
                filed(key)
            except Exception as exc:  # noqa: BLE001 - one bad image never stops the batch
                failed.append((key, str(exc)))
        return written, failed, result.cancelled
    finally:
        shutil.rmtree(staging, ignore_errors=True)
