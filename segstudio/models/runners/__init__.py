"""Batch runners: the one contract behind ``segstudio batch --runner local|ray``.

A runner takes a :class:`~segstudio.models.runners.spec.PredictorSpec` (what to build, not a
built model, so that remote workers can build their own), a list of image paths and an output
folder, and returns a :class:`segstudio.models.batch.BatchResult` with the same meaning
everywhere: ``out_dir/<stem>.png`` (and ``<stem>.npy`` with ``save_probs``) written atomically
by ``models.batch.write_outputs``, ``resume`` skips finished images, a bad file is listed in
``failed`` and the run goes on, ``progress(BatchProgress)`` and ``cancel()`` are called from
the calling thread. ``local`` (``runners.local``) runs in this process and never imports Ray;
``ray`` (``runners.ray_runner``) runs a Ray Data pipeline on a local or remote Ray cluster.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

RUNNERS = ("local", "ray")


def get_runner(name: str) -> Callable[..., Any]:
    """``run(spec, images, out_dir, **options) -> BatchResult`` of the runner called ``name``."""
    from segstudio.core.errors import SegStudioError

    if name not in RUNNERS:
        raise SegStudioError(f"unknown runner {name!r}; choose one of {', '.join(RUNNERS)}")
    module = importlib.import_module(f"segstudio.models.runners.{'ray_runner' if name == 'ray' else name}")
    return module.run
