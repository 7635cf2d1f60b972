"""``PredictorSpec``: a picklable recipe for a ``Predictor``, built where the work runs.

The local runner builds it once in this process; the Ray runner ships the spec to each worker,
which builds its own Predictor (on its GPU when it has one). The model file must therefore be
at a path every worker can read (a shared filesystem on a cluster). ``simulated_delay`` adds a
sleep after every prediction — a benchmark/test-only mode that imitates a model step that
dominates the run; it changes timings only, never outputs. ``threads`` sets torch's CPU threads
in the worker: a CPU forward pass can differ in the last bits with the thread count (now and then
one pixel's argmax flips on a near tie), so workers that must write the local runner's exact bytes
use the local run's thread count (``cli.runner_options`` passes the driver's).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class PredictorSpec:
    source: str                                     # model file path (checkpoint, .ts, .onnx)
    options: dict[str, Any] = field(default_factory=dict)   # Predictor keyword arguments
    simulated_delay: float = 0.0                    # seconds slept per image (benchmarks/tests only)
    threads: int | None = None                      # torch CPU threads in the worker (None: leave as is)

    def build(self) -> Any:
        from segstudio.models.predictor import Predictor

        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        predictor = Predictor(self.source, **self.options)
        return _Delayed(predictor, self.simulated_delay) if self.simulated_delay > 0 else predictor

    def labels(self):
        """The model's label set, read from the file (no Predictor, no device)."""
        if self.options.get("labels") is not None:
            return self.options["labels"]
        from segstudio.models.loading import load_model_file

        opts = self.options
        path = Path(self.source)
        return load_model_file(path, opts.get("arch"), opts.get("num_classes"), None,
                               allow_torchscript=bool(opts.get("allow_torchscript"))).labels


class _Delayed:
    """A Predictor whose every ``predict`` also sleeps ``delay`` seconds (simulated model time)."""

    def __init__(self, inner: Any, delay: float) -> None:
        self.inner, self.delay = inner, delay
        self.labels = inner.labels

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def predict(self, rgb, want_probs: bool = True):
        out = self.inner.predict(rgb, want_probs)
        time.sleep(self.delay)
        return out
