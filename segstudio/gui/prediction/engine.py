"""Work done off the GUI thread for prediction: load a model, predict, refine, measure.

Everything here is plain Python/numpy called on worker threads; torch (through
``segstudio.models``) is imported lazily inside the functions, so the main window appears
before torch is ever loaded. One :class:`threading.Lock` per loaded model serialises
inference (the predictor reuses input buffers and the CPU is better used by one forward at
a time); batch runs take it per image, so interactive requests interleave with a batch.
Inference itself cannot be interrupted mid-forward: cancelling discards the result; a tiled
image reports each batch of tiles to ``progress(done, total)`` (worker thread), which may raise
:class:`PredictionCancelled` to stop at the next tile boundary.
Also here: the accept rule (:func:`merge_accept`), the CRF constraints from painted pixels,
the CRF defaults (``resources/models/crf_params.json`` if present) and error wording.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from segstudio.core.class_mapping import apply_mapping
from segstudio.core.crf_params import CRFParams
from segstudio.core.errors import SegStudioError
from segstudio.core.labels import LabelSet

MODEL_SUFFIXES = (".pt", ".pth", ".ckpt", ".onnx", ".ts", ".torchscript")


class ModelLoadError(SegStudioError):
    pass


class PredictionCancelled(SegStudioError):
    """Raised by a progress callback: the request was cancelled between two tiles."""


@dataclass(frozen=True)
class ModelSpec:
    """What to load: a file path (or, for tests and scripts, a Checkpoint / nn.Module)."""
    source: Any
    device: str = "auto"
    engine: str = "auto"
    tile: int | None = None           # None: automatic, 0: never tile, N: tile sides above N
    labels: LabelSet | None = field(default=None, compare=False)   # for nn.Module sources only
    tta: str = "none"                 # test-time augmentation: none, flip (2 passes), ms (6 passes)

    def identity(self) -> str:
        src = self.source
        if isinstance(src, (str, os.PathLike)):
            p = Path(src)
            try:
                st = p.stat()
                stamp = f"{st.st_mtime_ns}:{st.st_size}"
            except OSError:
                stamp = "missing"
            where = f"{p.resolve()}@{stamp}"
        else:
            where = f"{type(src).__name__}#{id(src)}"
        return f"{where}|{self.device}|{self.engine}|{self.tile}|tta={self.tta}"

    @property
    def name(self) -> str:
        src = self.source
        return Path(src).name if isinstance(src, (str, os.PathLike)) else type(src).__name__


@dataclass
class LoadedPredictor:
    spec: ModelSpec
    predictor: Any                    # segstudio.models.predictor.Predictor
    info: dict[str, Any]
    identity: str
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def class_names(self) -> list[str]:
        return list(self.predictor.labels.names)


def load_predictor(spec: ModelSpec) -> LoadedPredictor:
    """Build a Predictor for ``spec`` (worker thread); user mistakes raise ModelLoadError."""
    src = spec.source
    device, engine = spec.device or "auto", spec.engine or "auto"
    kwargs: dict[str, Any] = {}
    if isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.is_file():
            raise ModelLoadError(f"{path}: model file not found")
        if (path.suffix.lower() == ".onnx" or engine == "onnxruntime") and device == "auto":
            device = "cpu"            # onnxruntime runs on the CPU here
    elif spec.labels is not None:
        kwargs["labels"] = spec.labels
    from segstudio.models.predictor import Predictor   # imports torch: worker thread only

    try:
        predictor = Predictor(src, device=device, engine=engine, tile=spec.tile, tta=spec.tta or "none", **kwargs)
    except SegStudioError:
        raise
    except Exception as exc:  # noqa: BLE001 - shown in the window, never a traceback
        raise ModelLoadError(f"{spec.name}: cannot load the model ({type(exc).__name__}: {exc})") from exc
    return LoadedPredictor(spec, predictor, predictor.describe(), spec.identity())


def device_report() -> dict[str, Any]:
    """The ``doctor`` report (which devices exist, and why CUDA is or is not used)."""
    from segstudio.models.devices import doctor_report

    return doctor_report()


Progress = Callable[[int, int], None]   # (tiles done, tiles) within one tiled image, worker thread


def predict(model: LoadedPredictor, rgb: np.ndarray, mapping: list[int] | None,
            labels: LabelSet, progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Project labels and float16 probabilities of one image (mapping applied if given).

    ``progress`` is the predictor's ``on_progress`` for this call only (set under the model's
    lock, so an interleaved batch image never reports to it)."""
    with model.lock:
        predictor = model.predictor
        predictor.on_progress = progress
        try:
            pred = predictor.predict(rgb, want_probs=True)
        finally:
            predictor.on_progress = None
    out_labels, probs = pred.labels, pred.probs
    if mapping is not None:
        out_labels, probs = apply_mapping(out_labels, probs, mapping, labels)
    elif out_labels.dtype != labels.dtype:
        out_labels = out_labels.astype(labels.dtype)
    return out_labels, (probs.astype(np.float16) if probs is not None else None)


def predict_file(model: LoadedPredictor, path: Path, mapping: list[int] | None,
                 labels: LabelSet, progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    from segstudio.core.images import read_image

    return predict(model, read_image(path).rgb, mapping, labels, progress)


def refine(rgb: np.ndarray, probs: np.ndarray, params: Any, fixed: np.ndarray | None,
           dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """Dense CRF on cached probabilities; returns (labels, float16 probabilities)."""
    from segstudio.core.crf import dense_crf

    out = dense_crf(rgb, probs, params, fixed)
    return out.argmax(axis=0).astype(dtype), out.astype(np.float16)


def fixed_constraints(mask: np.ndarray | None, fixed: np.ndarray | None, void_value: int) -> np.ndarray | None:
    """The user's painted pixels as CRF constraints: their class where painted, void elsewhere."""
    if mask is None or fixed is None or not fixed.any():
        return None
    return np.where(fixed, mask, np.asarray(void_value, mask.dtype)).astype(mask.dtype)


def merge_accept(prediction: np.ndarray, mask: np.ndarray, fixed: np.ndarray | None,
                 void_value: int, fill_void_only: bool = False) -> np.ndarray:
    """The mask after accepting ``prediction``: the prediction everywhere except pixels the
    user painted in this session (``fixed``), which keep the user's class; with
    ``fill_void_only`` every already-labelled pixel is kept too."""
    out = prediction.astype(mask.dtype, copy=True)
    if fixed is not None and fixed.shape == mask.shape:
        out[fixed] = mask[fixed]
    if fill_void_only:
        keep = mask != void_value
        out[keep] = mask[keep]
    return out


def default_crf_params() -> tuple[CRFParams, str]:
    """CRF defaults: the tuned ``resources/models/crf_params.json`` when present, else the built-ins."""
    from segstudio.core.crf_params import shipped_params_path

    path = shipped_params_path()
    try:
        params = CRFParams.shipped()
    except SegStudioError as exc:
        return CRFParams(), f"built-in defaults ({exc})"
    return params, (str(path) if path.exists() else "built-in defaults")


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, SegStudioError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory (try tiling, or a smaller image)"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
