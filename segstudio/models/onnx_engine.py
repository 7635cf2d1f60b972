"""ONNX export and the onnxruntime (CPU) engine.

Export (``export_onnx``): input ``input`` float32 ``N×3×H×W`` normalised as
``(rgb/255 - mean)/std``, output ``logits`` ``N×C×H×W``, batch/height/width dynamic. Models
that need sizes divisible by some number (U-Net) are wrapped so the graph pads (reflect) and
crops itself. The TorchScript-based exporter runs first (fast, exact for CNNs); if it fails or
the exported graph disagrees with torch on a second, odd-sized input, the ``torch.export``
exporter is tried. The file is self-describing through ``metadata_props``:
``segstudio.format``, ``.arch``, ``.arch_options``, ``.labels``, ``.mean``, ``.std``,
``.source_sha256`` (of the checkpoint file it came from), ``.size_multiple``.

Engine choice (used by ``Predictor(engine="auto")``, see ``find_onnx_for``): an ONNX file is
used for a checkpoint ``X.pt`` when ``X.onnx`` beside it, or ``<cache>/onnx/<sha16>.onnx``,
carries ``segstudio.source_sha256`` equal to the checkpoint's SHA-256 — i.e. it was exported
from exactly that file. Anything else is ignored (never guessed).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from segstudio.core import atomic
from segstudio.core.labels import LabelSet
from segstudio.models.checkpoint import IMAGENET_MEAN, IMAGENET_STD, CheckpointError

ONNX_FORMAT = "segstudio-onnx"
PREFIX = "segstudio."


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_dir() -> Path:
    """``$SEGSTUDIO_CACHE`` or ``$XDG_CACHE_HOME/segstudio`` (``~/.cache/segstudio``)."""
    override = os.environ.get("SEGSTUDIO_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "segstudio"


def cached_onnx_path(sha256: str) -> Path:
    return cache_dir() / "onnx" / f"{sha256[:16]}.onnx"


def size_multiple(model: nn.Module) -> int:
    """Input sizes the model handles without padding itself (U-Net: 2**depth × stem stride)."""
    depth, stem = getattr(model, "depth", None), getattr(model, "stem_stride", None)
    if isinstance(depth, int) and isinstance(stem, int):
        return 2 ** depth * stem
    return 1


class PadToMultiple(nn.Module):
    """Pads (reflect) to a multiple of ``m`` before the model and crops the logits after it."""

    def __init__(self, model: nn.Module, m: int) -> None:
        super().__init__()
        self.model, self.m = model, m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (self.m - h % self.m) % self.m, (self.m - w % self.m) % self.m
        y = self.model(F.pad(x, (0, pw, 0, ph), mode="reflect"))
        return y[:, :, :h, :w]


class _DictToTensor(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(x)
        return y["out"] if isinstance(y, dict) else y


def _export_legacy(model: nn.Module, x: torch.Tensor, opset: int) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, dynamo=False, opset_version=opset, input_names=["input"],
                          output_names=["logits"], do_constant_folding=True,
                          dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"},
                                        "logits": {0: "batch", 2: "height", 3: "width"}})
    return buf.getvalue()


def _export_dynamo(model: nn.Module, x: torch.Tensor, opset: int, multiple: int) -> bytes:
    dim = torch.export.Dim
    shapes = {"x": {0: dim("batch", min=1, max=1024), 2: dim("height", min=max(2, multiple), max=65536),
                    3: dim("width", min=max(2, multiple), max=65536)}}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (x,), None, dynamo=True, opset_version=max(opset, 18),
                                    input_names=["input"], output_names=["logits"], dynamic_shapes=shapes,
                                    external_data=False)
    import onnx

    return onnx.ModelProto.SerializeToString(program.model_proto)


def _session(data: bytes | str, threads: int | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])


def _agrees(onnx_bytes: bytes, model: nn.Module, sizes: list[tuple[int, int]], tol: float) -> str | None:
    """None when onnxruntime reproduces torch's logits on every size, else what went wrong."""
    try:
        sess = _session(onnx_bytes, threads=1)
    except Exception as exc:  # noqa: BLE001
        return f"onnxruntime cannot open the graph ({str(exc)[:200]})"
    g = torch.Generator().manual_seed(0)
    for h, w in sizes:
        x = torch.randn(1, 3, h, w, generator=g)
        with torch.inference_mode():
            ref = model(x).numpy()
        try:
            got = sess.run(None, {"input": x.numpy()})[0]
        except Exception as exc:  # noqa: BLE001
            return f"fails on a {h}×{w} input ({str(exc).splitlines()[0][:200]})"
        if got.shape != ref.shape:
            return f"output shape {got.shape} != torch {ref.shape} on a {h}×{w} input"
        err = float(np.max(np.abs(got - ref)))
        if err > tol * max(1.0, float(np.max(np.abs(ref)))):
            return f"max |onnx - torch| = {err:.2e} on a {h}×{w} input"
    return None


def export_onnx(model: nn.Module, out: str | os.PathLike, labels: LabelSet, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                arch: str | None = None, arch_options: dict | None = None, source_sha256: str | None = None,
                opset: int = 17, sample_size: tuple[int, int] = (96, 128), tol: float = 1e-4,
                benchmark_size: tuple[int, int] | None = (360, 480)) -> dict[str, Any]:
    """Export ``model`` (eval mode, CPU, float32) to ``out``; returns a report dict.

    With ``benchmark_size`` both engines are timed on this machine's CPU on one input of that
    size and the ratio torch time / onnxruntime time is stored as ``cpu_speedup_vs_torch``;
    the predictor's ``auto`` engine uses the ONNX file only when that ratio is above 1.05.
    """
    model = model.eval().float().cpu()
    m = size_multiple(model)
    net: nn.Module = _DictToTensor(model)
    if m > 1:
        net = PadToMultiple(net, m)
    net.eval()  # the exporters restore the wrapper's mode recursively afterwards
    h, w = (max(sample_size[0], m), max(sample_size[1], m))
    x = torch.randn(1, 3, h, w)
    check = [(h, w), (h + max(m // 2, 1) * 3 + 1, w + 13)]
    errors: list[str] = []
    data = None
    used = ""
    for name in ("torchscript", "dynamo"):
        try:
            blob = _export_legacy(net, x, opset) if name == "torchscript" else _export_dynamo(net, x, opset, m)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{name} exporter: {str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}")
            continue
        net.eval()
        problem = _agrees(blob, net, check, tol)
        if problem is None:
            data, used = blob, name
            break
        errors.append(f"{name} exporter: {problem}")
    if data is None:
        raise CheckpointError(f"{out}: ONNX export of {arch or type(model).__name__} failed: " + "; ".join(errors))
    import onnx

    speed = cpu_speed_ratio(data, net, benchmark_size) if benchmark_size else None
    proto = onnx.load_from_string(data)
    props = {"format": ONNX_FORMAT, "arch": arch or "", "arch_options": json.dumps(arch_options or {}),
             "labels": json.dumps(labels.to_dict()), "mean": json.dumps(list(mean)), "std": json.dumps(list(std)),
             "source_sha256": source_sha256 or "", "size_multiple": str(m), "exporter": used,
             "input": "float32 N×3×H×W, (rgb/255 - mean)/std", "torch_version": torch.__version__,
             "cpu_speedup_vs_torch": "" if speed is None else f"{speed:.3f}"}
    del proto.metadata_props[:]
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = PREFIX + k, v
    proto.producer_name = "segstudio"
    atomic.write_bytes(out, proto.SerializeToString())
    return {"path": str(out), "exporter": used, "opset": _opset(proto), "size_multiple": m, "notes": errors,
            "cpu_speedup_vs_torch": speed}


def cpu_speed_ratio(onnx_bytes: bytes, net: nn.Module, size: tuple[int, int], repeat: int = 3) -> float:
    """torch (channels-last, inference mode) time over onnxruntime time, best of ``repeat``, on the CPU."""
    import time

    x = torch.randn(1, 3, *size)
    sess = _session(onnx_bytes)
    name = sess.get_inputs()[0].name
    xn = x.numpy()
    net_cl = net.to(memory_format=torch.channels_last)
    xc = x.contiguous(memory_format=torch.channels_last)

    def best(fn) -> float:
        fn()  # warm-up
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    with torch.inference_mode():
        t_torch = best(lambda: net_cl(xc))
    t_ort = best(lambda: sess.run(None, {name: xn}))
    net.to(memory_format=torch.contiguous_format)
    return t_torch / max(t_ort, 1e-9)


def _opset(proto) -> int:
    return max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)


def measured_faster(path: str | os.PathLike, margin: float = 1.05) -> bool:
    """Whether the export recorded onnxruntime at least ``margin``× faster than torch on the CPU."""
    try:
        return float(read_metadata(path).get("cpu_speedup_vs_torch") or 0.0) >= margin
    except ValueError:
        return False


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """SegStudio metadata of an ONNX file ({} when it has none or cannot be read); no session is made."""
    try:
        import onnx

        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001
        return {}
    return {p.key[len(PREFIX):]: p.value for p in proto.metadata_props if p.key.startswith(PREFIX)}


def _meta_of(sess) -> dict[str, str]:
    raw = sess.get_modelmeta().custom_metadata_map
    return {k[len(PREFIX):]: v for k, v in raw.items() if k.startswith(PREFIX)}


class OnnxModel:
    """An onnxruntime CPU session with SegStudio metadata; ``logits(x)`` for ``N×3×H×W`` float32."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        self.path = Path(path)
        try:
            self.session = _session(str(self.path), threads)
        except Exception as exc:  # noqa: BLE001
            raise CheckpointError(f"{self.path}: not a readable ONNX model ({str(exc).splitlines()[0][:200]})") from None
        self.meta = _meta_of(self.session)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.output_name = self.session.get_outputs()[0].name
        self.size_multiple = int(self.meta.get("size_multiple", "1") or 1)
        self.static_hw = tuple(d for d in inp.shape[2:]) if all(isinstance(d, int) for d in inp.shape[2:]) else None

    def logits(self, x: np.ndarray) -> np.ndarray:
        h, w = x.shape[-2:]
        m = self.size_multiple
        if m > 1 and (h < m or w < m):  # the graph reflect-pads, which needs sides ≥ the pad
            x = np.pad(x, ((0, 0), (0, 0), (0, max(0, m - h)), (0, max(0, m - w))), mode="edge")
        y = self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(x, dtype=np.float32)})[0]
        return y[:, :, :h, :w]


def load_onnx_model(path: Path, labels: LabelSet | None = None, num_classes: int | None = None,
                    threads: int | None = None):
    from segstudio.models.loading import LoadedModel, _check_labels, generic_labels

    model = OnnxModel(path, threads)
    meta = model.meta
    own = LabelSet.from_dict(json.loads(meta["labels"]), str(path)) if meta.get("labels") else None
    n = own.num_classes if own else None
    if n is None:
        out = model.session.get_outputs()[0].shape
        n = out[1] if len(out) == 4 and isinstance(out[1], int) else None
    if n is None and labels is None and num_classes is None:
        n = int(model.logits(np.zeros((1, 3, 64, 64), np.float32)).shape[1])
    if labels is not None and n is not None:
        _check_labels(labels, n, path, "the ONNX model")
    if num_classes is not None and n is not None and num_classes != n:
        raise CheckpointError(f"{path}: class-count mismatch: the ONNX model outputs {n} classes, not {num_classes}")
    labels = labels or own or generic_labels(int(n or num_classes), path.stem)  # type: ignore[arg-type]
    mean = tuple(json.loads(meta["mean"])) if meta.get("mean") else IMAGENET_MEAN
    std = tuple(json.loads(meta["std"])) if meta.get("std") else IMAGENET_STD
    return LoadedModel("onnx", labels, mean, std, meta.get("arch") or None,  # type: ignore[arg-type]
                       json.loads(meta.get("arch_options") or "{}"), path, onnx=model, meta=dict(meta))


def find_onnx_for(checkpoint_path: str | os.PathLike, sha256: str | None = None) -> Path | None:
    """A valid ONNX export of exactly this checkpoint file (sibling ``X.onnx`` or the cache), or None.

    The checkpoint is hashed only when a candidate file exists.
    """
    ckpt = Path(checkpoint_path)
    sibling = ckpt.with_suffix(".onnx")
    cached = cache_dir() / "onnx"
    if not sibling.exists() and not (cached.is_dir() and any(cached.glob("*.onnx"))):
        return None
    sha = sha256 or file_sha256(ckpt)
    for cand in (sibling, cached_onnx_path(sha)):
        if cand.exists() and read_metadata(cand).get("source_sha256") == sha:
            return cand
    return None
