"""Reading a JSON file that the user gave or the project keeps: one message naming the file and the cause."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def read_json(path: str | os.PathLike, what: str, error: type[Exception], missing: str | None = None) -> Any:
    """The parsed JSON of ``path``; any failure raises ``error("<path>: not a readable JSON <what> (<cause>)")``
    (``missing``, if given, replaces that text when the file does not exist)."""
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if missing is not None:
            raise error(f"{p}: {missing}") from None
        raise error(f"{p}: not a readable JSON {what} (no such file)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{p}: not a readable JSON {what} ({exc})") from None
