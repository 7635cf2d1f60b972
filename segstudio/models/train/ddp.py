"""Data-parallel training mechanics: torch DistributedDataParallel for ``segstudio train``.

``segstudio train … --nproc N`` runs the verb in N fresh processes on this machine (:func:`spawn`,
setting the same variables torchrun sets); ``torchrun --nproc-per-node N -m segstudio train …``
does the same and also spans machines (``--nnodes``/``--rdzv-endpoint``, see docs/cluster.md).
Each process's training loop calls :func:`setup`, which reads ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``
and joins the group:
NCCL on GPUs (one GPU per process, ``LOCAL_RANK``), gloo on CPU. Without those variables
:func:`setup` returns ``None`` and training is the plain single-process loop.

The hooks the loop calls (all no-ops when ``ctx`` is None):

* :func:`rank_seed` — per-rank seeds (rank 0 keeps the configured seed, so one process equals
  the old single-process run), for dropout and augmentation;
* :func:`wrap` — DDP around the model (``SyncBatchNorm`` on CUDA; on CPU gloo BatchNorm keeps
  per-rank statistics, as SyncBatchNorm needs GPUs); the checkpoint is written from the unwrapped
  module, so the format is unchanged;
* :func:`rank_slice` — each rank takes every N-th index of the loop's seeded sampler, so N ranks
  with batch B see, step by step, the images one process with batch N·B sees;
* :func:`reduce_sums` / :func:`reduce_counts` — training loss and validation confusion counts
  summed over ranks, so the logged metrics are the whole data set's;
* :func:`synced_clock` / :func:`any_rank` — what must agree (the clock behind time budgets, the
  learning rate and validation times; a cancel): rank 0's clock on every rank / the OR;
* :func:`is_main` — only rank 0 writes checkpoints and the log; :func:`barrier` after writing so
  ``--resume`` never reads a checkpoint another rank is still writing.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    backend: str               # "nccl" | "gloo"
    device: torch.device


def env_world() -> tuple[int, int, int] | None:
    """(rank, world size, local rank) set by torchrun, or None outside a launcher."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return None
    return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", "0"))


def setup(device: str = "auto") -> DistContext | None:
    """Join the process group torchrun described (see module docstring); None when not launched."""
    world = env_world()
    if world is None:
        return None
    rank, size, local = world
    import torch.distributed as dist

    cuda = torch.cuda.is_available() and device not in ("cpu", "mps")
    backend = "nccl" if cuda else "gloo"
    if cuda:
        if local >= torch.cuda.device_count():
            from segstudio.core.errors import SegStudioError

            raise SegStudioError(f"rank {rank}: local rank {local} but only {torch.cuda.device_count()} GPU(s) here; "
                                 f"use one process per GPU (--nproc / --nproc-per-node ≤ GPUs)")
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=size)
    return DistContext(rank, size, local, backend, dev)


def teardown(ctx: DistContext | None) -> None:
    if ctx is None:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def is_main(ctx: DistContext | None) -> bool:
    return ctx is None or ctx.rank == 0


def rank_seed(seed: int, ctx: DistContext | None) -> int:
    return seed if ctx is None else seed + 1_000_003 * ctx.rank


def wrap(model: torch.nn.Module, ctx: DistContext | None) -> torch.nn.Module:
    """The module to train: ``model`` itself, or DDP around it (parameters broadcast from rank 0)."""
    if ctx is None:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if ctx.device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[ctx.local_rank])
    return DistributedDataParallel(model)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)


class _RankSlice(torch.utils.data.Sampler):
    """Every ``world``-th index of ``base`` starting at ``rank``: the ranks' batches of one step are
    together exactly the batch one process with ``world`` times the batch size would draw."""

    def __init__(self, base, rank: int, world: int) -> None:
        self.base, self.rank, self.world = base, rank, world

    def __iter__(self):
        for i, index in enumerate(self.base):
            if i % self.world == self.rank:
                yield index

    def __len__(self) -> int:
        return len(self.base) // self.world


def rank_slice(base, ctx: DistContext | None):
    """This rank's share of a sampler that yields the same sequence on every rank (same seed)."""
    return base if ctx is None else _RankSlice(base, ctx.rank, ctx.world_size)


def synced_clock(clock, ctx: DistContext | None):
    """``clock`` that returns rank 0's reading on every rank (one broadcast per call), so time budgets,
    the learning rate and the stop decision agree; every rank must call it equally often."""
    if ctx is None:
        return clock
    return lambda: from_main(clock(), ctx)


def _all_reduce(values: np.ndarray, ctx: DistContext, op: str = "sum") -> np.ndarray:
    import torch.distributed as dist

    t = torch.from_numpy(np.ascontiguousarray(values)).to(ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
    return t.cpu().numpy()


def reduce_sums(ctx: DistContext | None, *values: float) -> tuple[float, ...]:
    """Each value summed over all ranks (float64)."""
    if ctx is None:
        return tuple(float(v) for v in values)
    return tuple(float(v) for v in _all_reduce(np.asarray(values, np.float64), ctx))


def reduce_counts(counts: np.ndarray, ctx: DistContext | None) -> np.ndarray:
    """An integer count array (a confusion table) summed over all ranks."""
    return counts if ctx is None else _all_reduce(counts.astype(np.int64), ctx).astype(counts.dtype)


def from_main(value: float, ctx: DistContext | None) -> float:
    """Rank 0's ``value`` on every rank."""
    if ctx is None:
        return value
    import torch.distributed as dist

    t = torch.tensor([float(value)], dtype=torch.float64, device=ctx.device)
    dist.broadcast(t, src=0)
    return float(t.item())


def any_rank(flag: bool, ctx: DistContext | None) -> bool:
    """True on every rank when it is True on one (so all ranks stop together)."""
    if ctx is None:
        return bool(flag)
    return bool(_all_reduce(np.asarray([1.0 if flag else 0.0]), ctx, "max")[0] > 0)


def barrier(ctx: DistContext | None) -> None:
    if ctx is not None:
        import torch.distributed as dist

        dist.barrier()


def shard(n: int, ctx: DistContext | None) -> range:
    """The indices ``0…n-1`` this rank handles (every N-th): validation is split across ranks."""
    return range(n) if ctx is None else range(ctx.rank, n, ctx.world_size)


# -- launching ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(nproc: int, fn: Callable[[Any], int], args: Any) -> int:
    """Run ``fn(args)`` in ``nproc`` fresh processes on this machine, rank ``r`` with torchrun's variables
    (so :func:`setup` joins them into one group); only rank 0 prints. The exit status of the run."""
    import copy

    import torch.multiprocessing as mp

    from segstudio.core.errors import SegStudioError

    child = copy.copy(args)
    child.nproc = 1
    procs = mp.start_processes(_rank_main, args=(nproc, free_port(), fn, child), nprocs=nproc, join=False,
                               start_method="spawn")
    try:
        while not procs.join():
            pass
    except mp.ProcessExitedException as exc:
        raise SegStudioError(f"training rank {exc.error_index} stopped with exit status {exc.exit_code} "
                             f"(its message is above)") from None
    except mp.ProcessRaisedException as exc:
        raise SegStudioError(f"training rank {exc.error_index} failed: {str(exc).strip().splitlines()[-1]}") from None
    return 0


def _rank_main(rank: int, nproc: int, port: int, fn: Callable[[Any], int], args: Any) -> None:
    from segstudio.core.errors import SegStudioError

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(nproc), LOCAL_WORLD_SIZE=str(nproc),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    if not getattr(args, "threads", None):
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // nproc))
    err = sys.stderr
    if rank > 0:  # one voice: rank 0 prints progress and decisions
        sys.stdout = sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the rank
    try:
        code = int(fn(args) or 0)
    except SegStudioError as exc:
        print(f"segstudio train (rank {rank}): error: {exc}", file=err)
        sys.exit(1)
    sys.exit(code)
