"""The training loop: SGD + warm-up + cosine, per-epoch validation mIoU, atomic best/last checkpoints.

Learning-rate schedule: linear warm-up over ``warmup_epochs`` then cosine annealing to
``lr * 0.01``. With ``max_minutes`` the schedule's progress is the larger of the epoch
fraction and the elapsed-time fraction, so the cosine finishes inside the time budget and
training stops there (the best checkpoint so far is kept).

Files: ``out`` (best by val mIoU, or last when there is no validation set), ``<out>.last.pt``
(latest epoch plus optimiser state for ``--resume``), ``<out>.log.jsonl`` (one JSON record per
epoch: loss, val mIoU, per-class IoU, lr, seconds). Progress goes to a callback.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from segstudio.core.labels import LabelSet
from segstudio.core.metrics import ConfusionMatrix
from segstudio.models.checkpoint import Checkpoint, load_checkpoint, safe_torch_load, save_checkpoint
from segstudio.models.registry import build_model
from segstudio.models.train.data import SegDataset
from segstudio.models.train.finetune import transfer_weights
from segstudio.models.train.losses import SegLoss, class_weights


@dataclass
class TrainConfig:
    arch: str = "unet-light"
    arch_options: dict = field(default_factory=dict)
    epochs: int = 50
    batch_size: int = 8
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: int = 1
    loss: str = "ce"                 # ce | wce | focal
    class_weights: str = "inverse"   # inverse | median (for wce / focal)
    weight_power: float = 1.0
    focal_weighted: bool = False
    crop: tuple[int, int] | None = (288, 384)
    scale: tuple[float, float] = (0.6, 1.4)
    device: str = "auto"
    seed: int = 0
    max_minutes: float | None = None
    threads: int | None = None
    half_checkpoint: bool = True     # store weights as fp16 (half the file size)
    from_checkpoint: str | None = None


Progress = Callable[[dict], None]


def _pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def lr_at(progress: float, base: float, warmup_frac: float) -> float:
    if progress < warmup_frac:
        return base * max(progress / warmup_frac, 0.02)
    t = (progress - warmup_frac) / max(1e-9, 1.0 - warmup_frac)
    return base * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0))))


@torch.inference_mode()
def validate(model: torch.nn.Module, data: SegDataset, device: torch.device) -> ConfusionMatrix:
    model.eval()
    labels = data.labels
    cm = ConfusionMatrix(labels.num_classes, labels.ignore_index)
    for i in range(len(data)):
        x, y = data[i]
        x = x.unsqueeze(0).to(device).contiguous(memory_format=torch.channels_last)
        pred = model(x).argmax(1)[0].to(torch.uint8 if labels.num_classes <= 256 else torch.int32).cpu().numpy()
        cm.update(pred, y.numpy().astype(labels.dtype))
    model.train()
    return cm


def train(config: TrainConfig, labels: LabelSet, train_set: SegDataset, val_set: SegDataset | None,
          out: Path, resume: bool = False, progress: Progress | None = None,
          should_stop: Callable[[], bool] | None = None) -> dict:
    """Run training; returns the final summary record (also the last line of the log)."""
    out = Path(out)
    last_path = out.with_suffix(".last.pt")
    log_path = out.with_suffix(".log.jsonl")
    report = progress or (lambda rec: None)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = _pick_device(config.device)
    ignore = labels.ignore_index if labels.ignore_index is not None else 255

    model = build_model(config.arch, labels.num_classes, **config.arch_options)
    if config.from_checkpoint and not resume:
        src = load_checkpoint(config.from_checkpoint)
        info = transfer_weights(model, {k: v.float() if v.is_floating_point() else v
                                        for k, v in src.state_dict.items()}, src.labels, labels)
        report({"event": "fine-tune", "from": str(config.from_checkpoint), "matched_classes": info["matched_classes"],
                "reinitialised": len(info["reinitialised"])})
    model = model.to(device).to(memory_format=torch.channels_last)

    weight = None
    if config.loss == "wce" or (config.loss == "focal" and config.focal_weighted):
        w = class_weights(train_set.class_histogram(), config.class_weights, config.weight_power)
        weight = torch.from_numpy(w).to(device)
    criterion = SegLoss(config.loss, weight, ignore).to(device)
    params_bn = [p for n, p in model.named_parameters() if p.ndim <= 1]
    params_w = [p for n, p in model.named_parameters() if p.ndim > 1]
    opt = torch.optim.SGD([{"params": params_w, "weight_decay": config.weight_decay},
                           {"params": params_bn, "weight_decay": 0.0}],
                          lr=config.lr, momentum=config.momentum, nesterov=True)

    start_epoch, best, history, elapsed_before = 0, float("-inf"), [], 0.0
    if resume and last_path.exists():
        state = safe_torch_load(last_path)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["state_dict"].items()})
        opt.load_state_dict(state["train_state"]["optimizer"])
        start_epoch = int(state["train_state"]["epoch"]) + 1
        best = float(state["train_state"]["best"])
        elapsed_before = float(state["train_state"].get("elapsed", 0.0))
        history = [json.loads(s) for s in state["train_state"].get("history", [])]
        report({"event": "resume", "epoch": start_epoch})

    gen = torch.Generator().manual_seed(config.seed + start_epoch)
    loader = torch.utils.data.DataLoader(train_set, batch_size=min(config.batch_size, len(train_set)),
                                         shuffle=True, drop_last=len(train_set) > config.batch_size,
                                         generator=gen, num_workers=0)
    iters = len(loader)
    total_iters = max(1, config.epochs * iters)
    warm = min(0.5, config.warmup_epochs / max(1, config.epochs))
    budget = config.max_minutes * 60 if config.max_minutes else None
    t_start = time.perf_counter() - elapsed_before
    meta_base = {"config": {k: v for k, v in asdict(config).items()}, "train_images": len(train_set),
                 "val_images": len(val_set) if val_set else 0}
    summary: dict = {}

    def make_ckpt(model_state, meta) -> Checkpoint:
        mean, std = train_set.norm  # the normalisation the network was trained with
        return Checkpoint(config.arch, labels, model_state, dict(config.arch_options), mean, std, meta)

    model.train()
    for epoch in range(start_epoch, config.epochs):
        t0 = time.perf_counter()
        run_loss, seen = 0.0, 0
        for it, (x, y) in enumerate(loader):
            done = (epoch * iters + it) / total_iters
            if budget:
                done = max(done, (time.perf_counter() - t_start) / budget)
            lr = lr_at(done, config.lr, warm)
            for g in opt.param_groups:
                g["lr"] = lr
            x = x.to(device).contiguous(memory_format=torch.channels_last)
            y = y.to(device)
            loss = criterion(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run_loss += float(loss.detach()) * x.shape[0]
            seen += x.shape[0]
            report({"event": "step", "epoch": epoch, "iter": it + 1, "iters": iters, "loss": run_loss / seen,
                    "lr": lr})
            if should_stop and should_stop():
                break
        rec = {"event": "epoch", "epoch": epoch, "epochs": config.epochs, "loss": run_loss / max(1, seen),
               "lr": lr, "seconds": time.perf_counter() - t0, "elapsed": time.perf_counter() - t_start}
        if val_set is not None and len(val_set):
            scores = validate(model, val_set, device).scores()
            rec["val_miou"] = scores.miou
            rec["val_pixel_accuracy"] = scores.pixel_accuracy
            rec["val_iou"] = {n: (None if np.isnan(v) else float(v)) for n, v in zip(labels.names, scores.iou)}
        history.append(rec)
        with open(log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        metric = rec.get("val_miou", -rec["loss"])
        meta = {**meta_base, "epoch": epoch, "history": history[-1:], "val_miou": rec.get("val_miou"),
                "val_iou": rec.get("val_iou"), "elapsed_seconds": rec["elapsed"]}
        if metric > best or "val_miou" not in rec:   # no validation set: out is the last epoch (see docstring)
            best = metric
            save_checkpoint(make_ckpt(state, meta), out, half=config.half_checkpoint)
            rec["saved_best"] = True
        train_state = {"optimizer": opt.state_dict(), "epoch": epoch, "best": best,
                       "elapsed": rec["elapsed"], "history": [json.dumps(h) for h in history]}
        save_checkpoint(make_ckpt(state, meta), last_path, extra={"train_state": train_state})
        report(rec)
        summary = {"event": "done", "best": best, "epochs_run": epoch + 1, "out": str(out),
                   "elapsed": rec["elapsed"]}
        stop_time = budget is not None and time.perf_counter() - t_start >= budget
        if stop_time or (should_stop and should_stop()):
            summary["stopped_early"] = "time budget" if stop_time else "cancelled"
            break
    report(summary)
    return summary
