"""Compute device selection (auto = CUDA, then Apple MPS, then CPU) and the ``doctor`` report."""

from __future__ import annotations

import importlib.util
import platform
import sys
from typing import Any

import torch

from segstudio.core.errors import SegStudioError


class DeviceError(SegStudioError):
    pass


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def select_device(spec: str | torch.device | None = "auto") -> torch.device:
    """``auto`` → ``cuda`` if usable, else ``mps``, else ``cpu``; explicit names are checked."""
    if isinstance(spec, torch.device):
        return spec
    name = (spec or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") or name == "gpu":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {spec!r} requested but CUDA is not usable: {cuda_reason()}")
        dev = torch.device("cuda" if name == "gpu" else name)
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            have = ", ".join(f"cuda:{i}" for i in range(count))
            raise DeviceError(f"device {spec!r} requested but this machine has only {count} CUDA device"
                              f"{'s' if count != 1 else ''} ({have}); use --device {have.split(', ')[0]} or auto")
        return dev
    if name == "mps":
        if not _mps_available():
            raise DeviceError("device 'mps' requested but Apple Metal (MPS) is not available")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise DeviceError(f"unknown device {spec!r}; use auto, cpu, cuda, cuda:N or mps")


def cuda_reason() -> str:
    """Why CUDA is or is not used, in one sentence."""
    if torch.version.cuda is None:
        return "this PyTorch build has no CUDA support (CPU-only wheel)"
    try:
        count = torch.cuda.device_count()
    except Exception as exc:  # noqa: BLE001
        return f"CUDA initialisation failed ({exc})"
    if not torch.cuda.is_available() or count == 0:
        driver = _driver_version()
        if driver is not None and _version_tuple(driver)[0] < _version_tuple(torch.version.cuda)[0]:
            return (f"the NVIDIA driver supports CUDA up to {driver} but this PyTorch build needs CUDA "
                    f"{torch.version.cuda}: the driver is too old (update the NVIDIA driver, or install a torch "
                    f"build for CUDA {driver})")
        if driver is None:
            return (f"PyTorch is built with CUDA {torch.version.cuda} but no NVIDIA driver was found "
                    "(libcuda is missing: no GPU, or the driver is not installed)")
        return (f"PyTorch is built with CUDA {torch.version.cuda} and the driver supports CUDA {driver}, but no "
                "usable GPU was found (CUDA_VISIBLE_DEVICES may hide it, or the device is in use or faulty)")
    return f"CUDA is available: {count} device(s)"


def _version_tuple(text: str | None) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in str(text).split(".")[:2])
    except ValueError:
        return (0,)


# below this much free memory a device is reported as (mostly) held by other processes
LOW_FREE_BYTES = 1 << 30


def memory_notes() -> list[str]:
    """One line per CUDA device whose memory is mostly taken (e.g. by another process)."""
    notes = []
    if not torch.cuda.is_available():
        return notes
    for i in range(torch.cuda.device_count()):
        try:
            free, total = torch.cuda.mem_get_info(i)
        except Exception as exc:  # noqa: BLE001 - a device that cannot even report memory
            notes.append(f"cuda:{i}: cannot query memory ({exc})")
            continue
        if free < LOW_FREE_BYTES and free < total * 0.1:
            notes.append(f"cuda:{i}: only {free / 2**20:.0f} MiB free of {total / 2**30:.1f} GiB — another "
                         f"process holds the memory (see nvidia-smi); large images will be tiled or fail")
    return notes


def _driver_version() -> str | None:
    try:
        import ctypes

        lib = ctypes.CDLL("libcuda.so.1" if sys.platform.startswith("linux") else "nvcuda.dll")
        v = ctypes.c_int()
        if lib.cuDriverGetVersion(ctypes.byref(v)) == 0:
            return f"{v.value // 1000}.{(v.value % 1000) // 10}"
    except (OSError, AttributeError):
        return None
    return None


def doctor_report() -> dict[str, Any]:
    """Everything that decides where and how models run, as a JSON-able dict."""
    rep: dict[str, Any] = {
        "python": sys.version.split()[0], "platform": platform.platform(),
        "torch": torch.__version__, "torch_cuda_build": torch.version.cuda is not None,
        "cuda_runtime": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
        "cuda_driver": _driver_version(),
        "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
        "cuda_devices": [], "mps_available": _mps_available(),
        "cpu_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            rep["cuda_devices"].append({"index": i, "name": p.name, "memory_gib": round(p.total_memory / 2**30, 1),
                                        "capability": f"{p.major}.{p.minor}"})
    rep["cuda_memory_notes"] = memory_notes()
    chosen = select_device("auto")
    rep["auto_device"] = str(chosen)
    if chosen.type == "cuda":
        rep["why"] = f"GPU used: {rep['cuda_devices'][0]['name']} ({cuda_reason()})"
    elif chosen.type == "mps":
        rep["why"] = "GPU used: Apple Metal (MPS)"
    else:
        rep["why"] = f"CPU used: {cuda_reason()}" + ("" if sys.platform != "darwin" else "; MPS not available")
    try:
        import torchvision

        rep["torchvision"] = torchvision.__version__
    except ImportError:
        rep["torchvision"] = None
    try:
        import onnxruntime as ort

        rep["onnxruntime"] = ort.__version__
        rep["onnxruntime_providers"] = ort.get_available_providers()
    except ImportError:
        rep["onnxruntime"], rep["onnxruntime_providers"] = None, []
    rep["onnx_export"] = importlib.util.find_spec("onnx") is not None
    try:
        import pydensecrf.densecrf  # noqa: F401

        rep["pydensecrf"] = True
    except Exception:  # noqa: BLE001
        rep["pydensecrf"] = False
    rep["qt_importable"] = importlib.util.find_spec("PySide6") is not None  # found, not imported
    from segstudio.paths import default_model_path

    path = default_model_path()
    rep["default_model"] = str(path) if path.exists() else f"{path} (missing)"
    return rep


def format_report(rep: dict[str, Any]) -> str:
    lines = []
    for key, value in rep.items():
        if key == "cuda_devices":
            value = "; ".join(f"{d['index']}: {d['name']} {d['memory_gib']} GiB sm{d['capability']}"
                              for d in value) or "none"
        elif isinstance(value, list):
            value = ", ".join(map(str, value)) or "none"
        lines.append(f"{key:24s} {value}")
    return "\n".join(lines)
