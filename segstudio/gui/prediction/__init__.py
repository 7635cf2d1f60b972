"""Model prediction inside the app: background model loading, predict current / prefetch next,
a memory-bounded probability cache, CRF re-runs, uncertainty and accepting a prediction.

* :mod:`.cache`       — LRU cache of float16 probabilities, bounded in bytes (no Qt);
* :mod:`.engine`      — functions run on worker threads (torch imported there, lazily);
* :mod:`.layers`      — canvas layers: hatched prediction, uncertainty heat, FP/FN errors;
* :mod:`.controller`  — :class:`PredictionController`, one per main window (``window.prediction``);
* :mod:`.menu`        — the Model menu's actions (Run, Cancel, Accept, Show, CRF);
* :mod:`.mapping_dialog` — model class -> project class mapping dialog;
* :mod:`.batch_job`   — batch prediction of many images on a worker thread (pause/cancel).
"""

from __future__ import annotations


def controller_for(window):
    """The window's :class:`~.controller.PredictionController`, created on first use."""
    ctl = getattr(window, "prediction", None)
    if ctl is None:
        from segstudio.gui.prediction.controller import PredictionController

        ctl = PredictionController(window)
        window.prediction = ctl
    return ctl
