"""Reading a ``.npy`` array (class probabilities) that the user gave or the project keeps: pickled
data is never loaded, and a failure is one message naming the file and the cause."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def _cause(exc: Exception) -> str:
    text = str(exc)
    if "pickle" in text.lower():   # numpy's text for a file without the .npy header suggests unsafe loading
        return "no NumPy .npy header; pickled data is never loaded"
    return text


def read_npy(path: str | os.PathLike, what: str, error: type[Exception], missing: str | None = None) -> np.ndarray:
    """The array in ``path`` (``allow_pickle=False``); any failure raises
    ``error("<path>: not a readable .npy <what> (<cause>)")`` (``missing``, if given, replaces that
    text when the file does not exist, as in :func:`segstudio.core.jsonfile.read_json`)."""
    p = Path(path)
    try:
        return np.load(p, allow_pickle=False)
    except FileNotFoundError:
        if missing is not None:
            raise error(f"{p}: {missing}") from None
        raise error(f"{p}: not a readable .npy {what} (no such file)") from None
    except (OSError, ValueError, EOFError) as exc:
        raise error(f"{p}: not a readable .npy {what} ({_cause(exc)})") from None
