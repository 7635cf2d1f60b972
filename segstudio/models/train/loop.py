"""The training loop: steps planned from a step/epoch/time budget, validation mIoU, atomic checkpoints.

Budget (:class:`segstudio.models.train.plan.StepBudget`): ``steps``, ``epochs`` (validation each
epoch, as before) or ``max_minutes`` (the step count follows the measured speed; validation about
3–30 times, at most 12 % of the time; training stops before a step that would not fit). Learning
rate: linear warm-up then cosine annealing to ``lr * 0.01`` over the run's progress (steps, or
elapsed time under a time budget, so the cosine finishes when the time does). Optimiser: SGD with
Nesterov momentum (``sgd``) or AdamW (``adamw``). Early stop on a validation plateau
(:class:`segstudio.core.learning.Plateau`). Fine-tuning (``from_checkpoint``) first scores the base
model, mapped to these classes by name, on the validation images (``baseline`` record), so the
new model can be judged against it on the same images.

Files: ``out`` (best by val mIoU, or last when there is no validation set), ``<out>.last.pt``
(latest round plus optimiser state for ``--resume``), ``<out>.log.jsonl`` (one JSON record per
validation round: loss, val mIoU, per-class IoU, lr, seconds). Progress goes to a callback.
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
from segstudio.core.learning import Plateau, compare_models
from segstudio.core.metrics import ConfusionMatrix
from segstudio.models.checkpoint import Checkpoint, load_checkpoint, safe_torch_load, save_checkpoint
from segstudio.models.devices import select_device
from segstudio.models.registry import build_model
from segstudio.models.train import ddp
from segstudio.models.train.accel import Precision, loader_options, maybe_compile
from segstudio.models.train.data import SegDataset
from segstudio.models.train.finetune import transfer_weights
from segstudio.models.train.losses import SegLoss, class_weights, supervised_loss
from segstudio.models.train.plan import MEASURE_STEPS, StepBudget


@dataclass
class TrainConfig:
    arch: str = "unet-light"
    arch_options: dict = field(default_factory=dict)
    epochs: int | None = 50          # None: plan from steps / max_minutes (default 10 minutes)
    steps: int | None = None
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
    jitter: float = 0.25             # brightness/contrast/saturation amplitude
    colour_cast: float = 0.0         # per-channel gain amplitude (0: off)
    device: str = "auto"
    seed: int = 0
    max_minutes: float | None = None
    threads: int | None = None
    half_checkpoint: bool = True     # store weights as fp16 (half the file size)
    from_checkpoint: str | None = None
    optimizer: str = "sgd"           # sgd | adamw
    warmup_frac: float = 0.05        # warm-up share of a step/time budget (epochs: warmup_epochs)
    eval_every: int | None = None    # validate every N steps (default: planned)
    early_stop: bool = True          # stop on a validation plateau
    workers: int | None = None       # DataLoader workers (default: by device)
    amp: bool = True                 # mixed precision on CUDA
    compile: bool = False            # torch.compile on CUDA
    meta: dict = field(default_factory=dict)   # extra checkpoint metadata (input facts, plan reasons)


Progress = Callable[[dict], None]


def lr_at(progress: float, base: float, warmup_frac: float) -> float:
    if progress < warmup_frac:
        return base * max(progress / warmup_frac, 0.02)
    t = (progress - warmup_frac) / max(1e-9, 1.0 - warmup_frac)
    return base * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0))))


@torch.inference_mode()
def validate(model: torch.nn.Module, data: SegDataset, device: torch.device,
             precision: Precision | None = None, ctx: ddp.DistContext | None = None) -> ConfusionMatrix:
    model.eval()
    labels = data.labels
    cm = ConfusionMatrix(labels.num_classes, labels.ignore_index)
    for i in ddp.shard(len(data), ctx):          # with DDP each rank scores 1/N, the counts are summed
        x, y = data[i]
        x = x.unsqueeze(0).to(device).contiguous(memory_format=torch.channels_last)
        with (precision.autocast() if precision else torch.autocast("cpu", enabled=False)):
            logits = model(x)
        pred = logits.argmax(1)[0].to(torch.uint8 if labels.num_classes <= 256 else torch.int32).cpu().numpy()
        cm.update(pred, y.numpy().astype(labels.dtype))
    model.train()
    if ctx is not None:
        total = ConfusionMatrix(labels.num_classes, labels.ignore_index)
        total.update_counts(ddp.reduce_counts(cm.full, ctx))
        return total
    return cm




def _optimizer(config: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    params_bn = [p for n, p in model.named_parameters() if p.ndim <= 1]
    params_w = [p for n, p in model.named_parameters() if p.ndim > 1]
    groups = [{"params": params_w, "weight_decay": config.weight_decay}, {"params": params_bn, "weight_decay": 0.0}]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    if config.optimizer != "sgd":
        raise ValueError(f"unknown optimiser {config.optimizer!r}: sgd or adamw")
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=True)


def _scores(model, val_set, device, precision, labels, ctx: ddp.DistContext | None = None) -> dict:
    scores = validate(model, val_set, device, precision, ctx).scores()
    return {"val_miou": scores.miou, "val_pixel_accuracy": scores.pixel_accuracy,
            "val_iou": {n: (None if np.isnan(v) else float(v)) for n, v in zip(labels.names, scores.iou)}}


def train(config: TrainConfig, labels: LabelSet, train_set: SegDataset, val_set: SegDataset | None,
          out: Path, resume: bool = False, progress: Progress | None = None,
          should_stop: Callable[[], bool] | None = None, clock: Callable[[], float] = time.perf_counter) -> dict:
    """Run training; returns the final summary record (also reported last)."""
    t_call = clock()
    out = Path(out)
    last_path = out.with_suffix(".last.pt")
    log_path = out.with_suffix(".log.jsonl")
    ctx = ddp.setup(config.device)  # torchrun's process group (models.train.ddp), None for one process
    clock = ddp.synced_clock(clock, ctx)  # every rank plans with rank 0's clock, so they decide alike
    t_call = ddp.from_main(t_call, ctx)
    report = (progress or (lambda rec: None)) if ddp.is_main(ctx) else (lambda rec: None)
    torch.manual_seed(ddp.rank_seed(config.seed, ctx))
    np.random.seed(ddp.rank_seed(config.seed, ctx) % 2 ** 32)
    if ctx is not None and ctx.rank > 0:
        train_set.rng = np.random.default_rng(ddp.rank_seed(config.seed, ctx))  # per-rank augmentation
    if config.threads:
        torch.set_num_threads(config.threads)
    device = ctx.device if ctx is not None else select_device(config.device)
    ignore = labels.ignore_index if labels.ignore_index is not None else 255
    has_val = val_set is not None and len(val_set) > 0
    precision = Precision(device, config.amp)

    model = build_model(config.arch, labels.num_classes, **config.arch_options)
    baseline = None
    if config.from_checkpoint and not resume:
        src = load_checkpoint(config.from_checkpoint)
        info = transfer_weights(model, {k: v.float() if v.is_floating_point() else v
                                        for k, v in src.state_dict.items()}, src.labels, labels)
        report({"event": "fine-tune", "from": str(config.from_checkpoint), "matched_classes": info["matched_classes"],
                "reinitialised": len(info["reinitialised"])})
    model = model.to(device).to(memory_format=torch.channels_last)
    if config.from_checkpoint and not resume and has_val:
        assert val_set is not None
        baseline = _scores(model, val_set, device, precision, labels)["val_miou"]
        report({"event": "baseline", "val_miou": baseline, "val_images": len(val_set),
                "from": str(config.from_checkpoint)})

    weight = None
    if config.loss == "wce" or (config.loss == "focal" and config.focal_weighted):
        w = class_weights(train_set.class_histogram(), config.class_weights, config.weight_power)
        weight = torch.from_numpy(w).to(device)
    criterion = SegLoss(config.loss, weight, ignore).to(device)
    opt = _optimizer(config, model)

    start_round, best, history, elapsed_before, start_step = 0, float("-inf"), [], 0.0, 0
    batch = min(config.batch_size, len(train_set))
    world = ctx.world_size if ctx is not None else 1
    iters = max(1, len(train_set) // (batch * world))  # an epoch: every image once over all ranks
    plateau = Plateau()
    if resume and last_path.exists():
        state = safe_torch_load(last_path)
        ts = state["train_state"]
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["state_dict"].items()})
        opt.load_state_dict(ts["optimizer"])
        start_round = int(ts["epoch"]) + 1
        start_step = int(ts.get("step", start_round * iters))
        best = float(ts["best"])
        baseline = ts.get("baseline")
        elapsed_before = float(ts.get("elapsed", 0.0))
        history = [json.loads(s) for s in ts.get("history", [])]
        plateau.best = best
        report({"event": "resume", "epoch": start_round})

    budget = StepBudget(iters, steps=config.steps, epochs=None if config.steps else config.epochs,
                        minutes=config.max_minutes, clock=clock, eval_every=config.eval_every,
                        start_step=start_step, elapsed_before=elapsed_before + (clock() - t_call))
    epoch_mode = budget.epoch_evals
    warm = min(0.5, config.warmup_epochs / max(1, config.epochs)) if epoch_mode else config.warmup_frac
    gen = torch.Generator().manual_seed(config.seed + start_step)
    horizon = (budget.fixed_steps - start_step) if budget.fixed_steps is not None else 10 ** 7
    sampler = torch.utils.data.RandomSampler(train_set, replacement=False,
                                             num_samples=max(1, horizon) * batch * world, generator=gen)
    sampler = ddp.rank_slice(sampler, ctx)  # rank r: every N-th index, so N ranks = one N×batch process
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch, sampler=sampler, drop_last=True,
                                         **loader_options(device, config.workers))
    runner = maybe_compile(ddp.wrap(model, ctx), device, config.compile, report)
    meta_base = {"config": {k: v for k, v in asdict(config).items() if k != "meta"}, **config.meta,
                 "train_images": len(train_set), "val_images": len(val_set) if val_set else 0,
                 "device": str(device), "precision": precision.name}
    if baseline is not None:
        meta_base["baseline_val_miou"] = baseline

    def make_ckpt(model_state, meta) -> Checkpoint:
        mean, std = train_set.norm  # the normalisation the network was trained with
        return Checkpoint(config.arch, labels, model_state, dict(config.arch_options), mean, std, meta)

    def end_round(round_idx: int, run_loss: float, seen: int, lr: float, t_round: float) -> tuple[dict, bool]:
        nonlocal best
        run_loss, seen = ddp.reduce_sums(ctx, run_loss, seen)  # the loss over all ranks' images
        t_eval = clock()
        rec = {"event": "epoch", "epoch": round_idx, "epochs": _rounds(budget), "step": budget.step,
               "steps": budget.planned_steps(), "loss": run_loss / max(1, seen), "lr": lr,
               "seconds": t_eval - t_round}
        plateaued = False
        if has_val:
            assert val_set is not None
            rec.update(_scores(runner if ctx is None else model, val_set, device, precision, labels, ctx))
        budget.validated(clock() - t_eval)
        rec["elapsed"] = budget.elapsed()
        history.append(rec)
        if ddp.is_main(ctx):  # only rank 0 writes the log and the checkpoints
            with open(log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec) + "\n")
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        metric = rec.get("val_miou", -rec["loss"])
        meta = {**meta_base, "epoch": round_idx, "step": budget.step, "history": history[-1:],
                "val_miou": rec.get("val_miou"), "val_iou": rec.get("val_iou"), "elapsed_seconds": rec["elapsed"]}
        if metric > best or "val_miou" not in rec:   # no validation set: out is the last round (see docstring)
            best = metric
            if ddp.is_main(ctx):
                save_checkpoint(make_ckpt(state, meta), out, half=config.half_checkpoint)
            rec["saved_best"] = True
        if has_val and config.early_stop:
            plateaued = plateau.update(rec["val_miou"], budget.progress())
        train_state = {"optimizer": opt.state_dict(), "epoch": round_idx, "step": budget.step, "best": best,
                       "elapsed": rec["elapsed"], "history": [json.dumps(h) for h in history], "baseline": baseline}
        if ddp.is_main(ctx):
            save_checkpoint(make_ckpt(state, meta), last_path, extra={"train_state": train_state})
        ddp.barrier(ctx)
        report(rec)
        return rec, plateaued

    plan_reported = False
    model.train()
    round_idx, run_loss, seen, lr, stopped = start_round, 0.0, 0, config.lr, None
    t_round = t_step = clock()
    last_emit = float("-inf")
    summary: dict = {}
    for x, y in loader:
        if budget.should_stop():
            break
        lr = lr_at(budget.progress(), config.lr, warm)
        for g in opt.param_groups:
            g["lr"] = lr
        x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        y = y.to(device, non_blocking=True)
        with precision.autocast():
            loss = supervised_loss(criterion, runner(x), y, model)
        precision.backward_step(loss, opt)
        run_loss += float(loss.detach()) * x.shape[0]
        seen += x.shape[0]
        now = clock()
        budget.step_done(now - t_step)
        if not plan_reported and budget.step - start_step >= min(MEASURE_STEPS, budget.planned_steps()):
            report(budget.describe(batch, len(train_set)))
            plan_reported = True
        if now - last_emit >= 0.2 or budget.step % iters == 0:
            last_emit = now
            report({"event": "step", "epoch": round_idx, "iter": (budget.step - 1) % iters + 1, "iters": iters,
                    "step": budget.step, "steps": budget.planned_steps(), "loss": run_loss / seen, "lr": lr})
        cancelled = ddp.any_rank(bool(should_stop and should_stop()), ctx)
        if budget.should_validate() or cancelled:
            rec, plateaued = end_round(round_idx, run_loss, seen, lr, t_round)
            summary = {"event": "done", "best": best, "epochs_run": round_idx + 1, "steps_run": budget.step,
                       "out": str(out), "elapsed": rec["elapsed"]}
            round_idx, run_loss, seen = round_idx + 1, 0.0, 0
            if cancelled:
                stopped = "cancelled"
            elif budget.should_stop():
                stopped = "time budget" if budget.budget is not None and (
                    budget.fixed_steps is None or budget.step < budget.fixed_steps) else None
                break
            elif plateaued:
                stopped = "validation plateau"
            if stopped:
                break
            t_round = clock()
        t_step = clock()
    if not summary:
        summary = {"event": "done", "best": best, "epochs_run": round_idx, "steps_run": budget.step,
                   "out": str(out), "elapsed": budget.elapsed()}
    if stopped:
        summary["stopped_early"] = stopped
    if baseline is not None and has_val:
        assert val_set is not None
        verdict = compare_models(baseline, best, len(val_set))
        summary.update(baseline_miou=baseline, improved=verdict.better, firm=verdict.firm, verdict=verdict.message)
    report(summary)
    ddp.teardown(ctx)
    return summary


def _rounds(budget: StepBudget) -> int:
    return max(1, math.ceil(budget.planned_steps() / max(1, budget.eval_every())))
