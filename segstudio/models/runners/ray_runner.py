"""The Ray runner: ``segstudio batch --runner ray`` as a Ray Data pipeline on a local or remote cluster.

Stages (Ray Data streams images through them, so memory stays bounded):

1. the driver lists the images and plans outputs exactly like the local runner
   (``models.batch.plan_todo``: name clashes fail, ``resume`` skips finished outputs);
2. **decode** — CPU tasks read each file into RGB (a bad file becomes a failure row);
3. **predict** — ``map_batches`` into an actor pool of ``workers`` actors, each holding one
   Predictor built from the :class:`PredictorSpec` (``gpus_per_worker`` may be fractional;
   ``--engine`` still picks torch/onnxruntime inside each worker);
4. **CRF** — CPU tasks, only with ``crf``;
5. **encode + write** — CPU tasks calling ``models.batch.write_outputs``, the local runner's own
   writer, so the bytes are the same; every write is atomic (temp file + rename).

The driver iterates the finished rows: progress (images/s, ETA) and ``cancel()`` run there.
Ctrl+C or cancel stops the pipeline; files already renamed into place are complete, files in
flight are never renamed half-written. Worker loss: Ray Data restarts lost actors and retries
their batches (``max_restarts=-1``, ``max_task_retries=-1``), and Ray retries decode/write tasks
whose worker died (3 times), so a lost node costs time, not images. IN, OUT and the model file must be at
paths every node can read (OUT writable): a shared filesystem (see docs/cluster.md).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from dataclasses import dataclass, field

from segstudio.core.errors import SegStudioError
from segstudio.models.batch import BatchProgress, BatchResult, _load_crf, _why, plan_todo, refine_outputs, write_outputs
from segstudio.models.runners.spec import PredictorSpec



@dataclass
class RayBatchResult(BatchResult):
    per_node: dict[str, int] = field(default_factory=dict)   # images predicted on each Ray node (by node id)

ACTOR_START_TIMEOUT = 600   # seconds the Predictor actors may take to start before the run fails
_NO_RGB = np.zeros((0, 0, 3), np.uint8)
_NO_PROBS = np.zeros((0, 0, 0), np.float32)


# -- stages (module level: Ray ships them by reference) ---------------------------------------------
def _decode(row: dict) -> dict:
    from segstudio.core.images import read_image

    try:
        return {**row, "rgb": read_image(Path(row["src"])).rgb, "error": ""}
    except Exception as exc:  # noqa: BLE001 - a bad file is reported, the run goes on
        return {**row, "rgb": _NO_RGB, "error": _why(exc)}


class PredictWorker:
    """One Predictor per actor; ``__call__`` predicts a batch of decoded rows one image at a time
    (as the local runner does, so the numbers are the same)."""

    def __init__(self, spec: PredictorSpec, want_probs: bool, keep_rgb: bool) -> None:
        self.predictor = spec.build()
        self.want_probs, self.keep_rgb = want_probs, keep_rgb
        self.no_mask = np.zeros((0, 0), self.predictor.labels.dtype)
        import ray

        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        out: dict[str, list] = {"src": [], "dst": [], "rgb": [], "mask": [], "probs": [], "error": [], "node": []}
        for src, dst, rgb, error in zip(batch["src"], batch["dst"], batch["rgb"], batch["error"]):
            mask, probs = self.no_mask, _NO_PROBS
            if not error:
                try:
                    pred = self.predictor.predict(np.asarray(rgb), want_probs=self.want_probs)
                    mask = pred.labels
                    if self.want_probs:
                        if pred.probs is None:
                            raise SegStudioError("image too large for --crf/--save-probs within the memory budget")
                        probs = pred.probs
                except Exception as exc:  # noqa: BLE001
                    error = _why(exc)
            out["src"].append(src)
            out["dst"].append(dst)
            out["rgb"].append(rgb if (self.keep_rgb and not error) else _NO_RGB)
            out["mask"].append(mask)
            out["probs"].append(probs)
            out["error"].append(error)
            out["node"].append(self.node)
        return out


def _crf(row: dict, crf: Any, labels: Any) -> dict:
    if row["error"]:
        return row
    try:
        mask, probs = refine_outputs(np.asarray(row["rgb"]), row["mask"], np.asarray(row["probs"]), labels,
                                     _load_crf(crf))
        return {**row, "rgb": _NO_RGB, "mask": mask, "probs": probs}
    except Exception as exc:  # noqa: BLE001
        return {**row, "error": _why(exc)}


def _write(row: dict, labels: Any, save_probs: bool) -> dict:
    error = row["error"]
    if not error:
        try:
            write_outputs(Path(row["dst"]), np.asarray(row["mask"]), np.asarray(row["probs"]), labels, save_probs)
        except Exception as exc:  # noqa: BLE001
            error = _why(exc)
    return {"src": row["src"], "error": error, "node": row["node"]}


# -- resources ----------------------------------------------------------------------------------------
def fit_worker_cpus(total_cpus: float, workers: int, cpus_per_worker: float, io_cpus: float,
                    nodes: int = 1) -> float:
    """CPUs each predictor actor asks for, lowered so that one decode/write task (``io_cpus``) per node
    can still be scheduled beside ``workers`` actors (otherwise Ray Data waits forever)."""
    room = total_cpus - io_cpus * max(1, nodes)
    if workers * cpus_per_worker <= room:
        return cpus_per_worker
    if room <= 0:
        raise SegStudioError(f"the Ray cluster has {total_cpus:g} CPUs: too few for {workers} worker(s) plus I/O")
    return round(room / workers, 3)


def _cause(exc: BaseException) -> str:
    """The innermost user error's message of a Ray error (its last non-blank line, no traceback)."""
    inner = getattr(exc, "cause", None)
    while inner is not None and getattr(inner, "cause", None) is not None and inner.cause is not inner:
        inner = inner.cause
    if isinstance(inner, BaseException) and not isinstance(inner, type(exc)):
        return _why(inner)
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(exc).__name__


def _connect(address: str | None) -> bool:
    """Join (or start) Ray; True when this call started it (and so should shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except ConnectionError as exc:
        raise SegStudioError(f"cannot reach the Ray cluster at {address!r} ({exc}); start one with "
                             f"`ray start --head` or pass --address ray://HOST:PORT") from None
    return True


# -- the runner ---------------------------------------------------------------------------------------
def run(spec: PredictorSpec, images: Iterable[str | Path], out_dir: str | Path,
        progress: Callable[[BatchProgress], None] | None = None, cancel: Callable[[], bool] | None = None,
        resume: bool = False, save_probs: bool = False, crf: Any = None, address: str | None = None,
        workers: int = 2, gpus_per_worker: float = 0.0, cpus_per_worker: float = 1.0, io_cpus: float = 0.5,
        batch_size: int = 1, **_ignored: Any) -> RayBatchResult:
    """Predict every image into ``out_dir`` on Ray (see module docstring); never raises for one bad file."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    planned, todo = plan_todo(images, out_dir, resume, save_probs)
    result = RayBatchResult(**vars(planned))
    clashes = len(result.failed)
    if crf:
        _load_crf(crf)  # fail here, not on every worker, when the CRF is missing
    labels = spec.labels()
    want_probs = bool(save_probs or crf)

    def report(current: Path | None) -> None:
        if progress is None:
            return
        elapsed = time.perf_counter() - t0
        processed = len(result.written) + len(result.failed) - clashes
        rate = processed / elapsed if elapsed > 0 and processed else 0.0
        done = len(result.written) + len(result.skipped) + len(result.failed)
        eta = (result.total - done) / rate if rate > 0 else None
        progress(BatchProgress(done, result.total, len(result.written), len(result.skipped), len(result.failed),
                               elapsed, rate, eta, current))

    report(None)
    if not todo:
        result.seconds = time.perf_counter() - t0
        return result
    import ray
    import ray.data

    started = _connect(address)
    rows = None
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        ctx.wait_for_min_actors_s = ACTOR_START_TIMEOUT  # all workers up first; fail, never hang, when they cannot
        nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        cpus = fit_worker_cpus(float(ray.cluster_resources().get("CPU", 1.0)), max(1, workers), cpus_per_worker,
                               io_cpus, nodes)
        items = [{"src": str(src), "dst": str(dst)} for src, dst in todo]
        ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 10_000)))  # per-image streaming
        ds = ds.map(_decode, num_cpus=io_cpus)  # tasks: Ray retries them (3 times) when a worker dies
        ds = ds.map_batches(PredictWorker, fn_constructor_kwargs={"spec": spec, "want_probs": want_probs,
                                                                  "keep_rgb": bool(crf)},
                            batch_size=max(1, batch_size), batch_format="numpy",
                            compute=ray.data.ActorPoolStrategy(size=max(1, workers)), num_cpus=cpus,
                            num_gpus=gpus_per_worker or None, zero_copy_batch=True)
        if crf:
            ds = ds.map(_crf, fn_kwargs={"crf": crf, "labels": labels}, num_cpus=1)
        ds = ds.map(_write, fn_kwargs={"labels": labels, "save_probs": save_probs}, num_cpus=io_cpus)
        rows = iter(ds.iter_rows())
        for row in rows:
            src = Path(row["src"])
            if row["error"]:
                result.failed.append((src, str(row["error"])))
            else:
                result.written.append(src)
                result.per_node[row["node"]] = result.per_node.get(row["node"], 0) + 1
            report(src)
            if cancel is not None and cancel():
                result.cancelled = True
                break
    except ray.exceptions.GetTimeoutError:
        result.cancelled = True
        raise SegStudioError(f"the Ray cluster could not start {workers} Predictor worker(s) with "
                             f"{gpus_per_worker:g} GPU(s) and {cpus_per_worker:g} CPU(s) each within "
                             f"{ACTOR_START_TIMEOUT} s (see `ray status`; lower --workers or --gpus-per-worker)") from None
    except ray.exceptions.RayError as exc:  # e.g. a worker cannot build its Predictor: say why, no traceback
        result.cancelled = True
        raise SegStudioError(f"the Ray pipeline stopped: {_cause(exc)}") from None
    except BaseException:
        result.cancelled = True
        raise
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
        if started:
            ray.shutdown()
        result.seconds = time.perf_counter() - t0
        report(None)
    return result
