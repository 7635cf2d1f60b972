"""Device-dependent speed settings of training, each behind a device check (CPU runs none of them).

* :func:`loader_options` — DataLoader workers (CUDA: up to 8, pinned memory, persistent
  workers, prefetching; CPU: the main process, so ``--threads`` cores are all the run uses);
* :class:`Precision` — automatic mixed precision on CUDA: bf16 where the GPU supports it (no
  scaler needed), else fp16 with a ``GradScaler``; float32 elsewhere;
* :func:`maybe_compile` — optional ``torch.compile`` (CUDA only; falls back with a message).
"""

from __future__ import annotations

import contextlib
import os

import torch


def loader_options(device: torch.device, workers: int | None = None) -> dict:
    """Keyword arguments for ``DataLoader`` suited to ``device`` (``workers`` overrides the count)."""
    cuda = device.type == "cuda"
    if workers is None:
        workers = min(8, max(0, (os.cpu_count() or 1) - 1)) if cuda else 0
    opts: dict = {"num_workers": workers, "pin_memory": cuda}
    if workers > 0:
        from segstudio.models.train.data import seed_worker

        opts.update(persistent_workers=True, prefetch_factor=4, worker_init_fn=seed_worker)
    return opts


class Precision:
    """``with prec.autocast(): loss = ...``; ``prec.backward_step(loss, opt)``."""

    def __init__(self, device: torch.device, enabled: bool = True) -> None:
        self.device = device
        self.dtype: torch.dtype | None = None
        if enabled and device.type == "cuda":
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda") if self.dtype == torch.float16 else None

    @property
    def name(self) -> str:
        return {torch.bfloat16: "bf16", torch.float16: "fp16 + GradScaler"}.get(self.dtype, "float32")  # type: ignore[arg-type]

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def backward_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()
        else:
            loss.backward()
            opt.step()


def maybe_compile(model: torch.nn.Module, device: torch.device, wanted: bool, report) -> torch.nn.Module:
    """``torch.compile(model)`` when wanted and on CUDA; the uncompiled model otherwise."""
    if not wanted:
        return model
    if device.type != "cuda":
        report({"event": "note", "message": "torch.compile is used on CUDA only; training uncompiled"})
        return model
    try:
        return torch.compile(model)  # type: ignore[return-value]
    except Exception as exc:  # noqa: BLE001 - any backend failure: train uncompiled
        report({"event": "note", "message": f"torch.compile failed ({exc}); training uncompiled"})
        return model
