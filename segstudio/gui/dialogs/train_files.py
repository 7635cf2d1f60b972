"""Where the retrain dialog's models come from and go (no widgets).

:func:`current_model` (the checkpoint fine-tuned by default), :func:`default_output` (a fresh
``finetuned-<timestamp>.pt`` in the project store), :func:`remember_model` (the settings list
``model/recent``), the checkpoint inspection run on a worker thread, and small text helpers for
the command line and error output shown in the dialog.
"""

from __future__ import annotations

import time
from pathlib import Path

RECENT_KEY = "model/recent"
MAX_RECENT_MODELS = 10


def default_output(project_folder: Path) -> Path:
    """``<project>/segstudio/models/finetuned-<timestamp>.pt``, never the name of an existing file."""
    base = project_folder / "segstudio" / "models" / f"finetuned-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base.with_suffix(".pt"), 1
    while path.exists():
        n += 1
        path = base.parent / f"{base.name}-{n}.pt"
    return path


def remember_model(settings, path: str | Path) -> list[str]:
    """Put ``path`` first in the settings list ``model/recent``; returns the new list."""
    path = str(path)
    raw = settings.value(RECENT_KEY, []) if settings is not None else []
    items = [raw] if isinstance(raw, str) else [str(p) for p in (raw or [])]
    items = [path] + [p for p in items if p and p != path]
    if settings is not None:
        settings.set(RECENT_KEY, items[:MAX_RECENT_MODELS])
    return items[:MAX_RECENT_MODELS]


def current_model(window) -> Path | None:
    """The checkpoint to fine-tune by default: the window's current model (a ``.pt`` file), else the shipped one."""
    spec = getattr(getattr(window, "prediction", None), "spec", None)
    source = getattr(spec, "source", None)
    if isinstance(source, (str, Path)) and str(source).lower().endswith((".pt", ".pth")) and Path(source).is_file():
        return Path(source)
    from segstudio.paths import default_model_path
    return default_model_path() if default_model_path().is_file() else None


def _inspect_checkpoint(path: str) -> dict:   # worker thread: imports torch
    from segstudio.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    return {"arch": ckpt.arch, "arch_options": dict(ckpt.arch_options), "classes": list(ckpt.labels.names),
            "val_miou": (ckpt.meta or {}).get("val_miou")}


def _stamp(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./,:=" for c in arg) else "'" + arg.replace("'", "'\\''") + "'"


def _last_error_line(tail: str) -> str:
    """The most telling line of an error output: the CLI's one-line error or a traceback's last line."""
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "error" in ln.lower() or ln.startswith(("RuntimeError", "ValueError", "OSError", "MemoryError")):
            return ln
    return lines[-1] if lines else ""

