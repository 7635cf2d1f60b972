"""Device paths that CI can check on the CPU: precision choice, OOM fallback to tiles, device faults."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from segstudio.models import devices
from segstudio.models.predictor import Predictor, PredictorError, autocast_dtype


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


def test_precision_choice_on_cpu():
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu, "auto") is None
    assert autocast_dtype(cpu, "fp32") is None
    with pytest.raises(PredictorError, match="CUDA device only"):
        autocast_dtype(cpu, "fp16")
    with pytest.raises(PredictorError, match="unknown precision"):
        autocast_dtype(cpu, "fp8")


def test_out_of_memory_falls_back_to_tiles_with_a_message():
    pred = Predictor(_Tiny(), device="cpu", tile=None)
    image = np.random.default_rng(0).integers(0, 255, (300, 260, 3), dtype=np.uint8)
    expected = pred.predict(image)
    real = pred._runner.logits
    calls = []

    def logits(batch):
        calls.append(batch.shape)
        if batch.shape[1] * batch.shape[2] >= 300 * 260:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real(batch)

    pred._runner.logits = logits
    got = pred.predict(image)
    assert calls[0][1:3] == (300, 260) and all(c[1] * c[2] < 300 * 260 for c in calls[1:])
    assert pred.notices and "did not fit" in pred.notices[0] and "300" in pred.notices[0]
    # a 3x3 conv tiled with overlap gives the same labels as the whole image
    assert (got.labels == expected.labels).mean() > 0.999


def test_cuda_index_past_the_devices_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(devices.DeviceError, match=r"cuda:1.*only 1 CUDA device.*cuda:0"):
        devices.select_device("cuda:1")


def test_unusable_cuda_names_the_reason(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(devices.DeviceError, match="CUDA is not usable"):
        devices.select_device("cuda")


def test_driver_too_old_is_said(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(devices, "_driver_version", lambda: "11.4")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    reason = devices.cuda_reason()
    assert "11.4" in reason and "12.8" in reason and "too old" in reason


def test_memory_held_by_another_process_is_said(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i=0: (200 * 2**20, 80 * 2**30))
    notes = devices.memory_notes()
    assert notes and "cuda:0" in notes[0] and "200 MiB free of 80.0 GiB" in notes[0]
