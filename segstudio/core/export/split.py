"""Train/val/... splits of an export: parse ``train=0.8,val=0.2`` and assign images, seeded.

Assignment is exact in counts and stable as a project grows: images are ranked by
``sha256(seed, key)`` and the ranking is cut into consecutive runs whose lengths are the
fractions times the image count (largest remainder rounding, ties to the earlier split).
Adding one image moves at most a few images between splits; the same keys and seed always
give the same split. Within a split, images keep the project's order.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Mapping

from segstudio.core.export.common import ExportError

DEFAULT_SPLIT = "train"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def parse_split(spec: str | Mapping[str, float] | None) -> dict[str, float] | None:
    """``"train=0.8,val=0.2"`` (or a mapping) -> ordered ``{name: fraction}``; None stays None."""
    if spec is None:
        return None
    if isinstance(spec, str):
        pairs = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            name, sep, value = part.partition("=")
            if not sep:
                raise ExportError(f"--split {spec!r}: {part!r} is not NAME=FRACTION (e.g. train=0.8,val=0.2)")
            try:
                pairs.append((name.strip(), float(value)))
            except ValueError:
                raise ExportError(f"--split {spec!r}: {value.strip()!r} is not a number") from None
    else:
        pairs = [(str(k), float(v)) for k, v in spec.items()]
    if not pairs:
        raise ExportError(f"--split {spec!r}: no NAME=FRACTION pairs")
    out: dict[str, float] = {}
    for name, frac in pairs:
        if not _NAME.match(name):
            raise ExportError(f"--split: split name {name!r} must be letters, digits, '_' or '-'")
        if name.lower() in {n.lower() for n in out}:
            raise ExportError(f"--split: split {name!r} is given twice")
        if not math.isfinite(frac) or frac < 0:
            raise ExportError(f"--split: fraction of {name!r} must be >= 0, got {frac}")
        out[name] = frac
    total = sum(out.values())
    if abs(total - 1.0) > 1e-6:
        raise ExportError(f"--split: fractions must add up to 1, they add up to {total:g}")
    return out


def split_counts(n: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """Images per split: floor of ``fraction*n``, leftovers to the largest remainders."""
    names = list(fractions)
    raw = [fractions[k] * n for k in names]
    counts = [math.floor(r + 1e-9) for r in raw]
    left = n - sum(counts)
    order = sorted(range(len(names)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[:max(left, 0)]:
        counts[i] += 1
    return dict(zip(names, counts))


def _rank(seed: int, key: str) -> bytes:
    return hashlib.sha256(f"{int(seed)}\0{key}".encode("utf-8")).digest()


def assign_splits(keys: list[str], fractions: Mapping[str, float] | None, seed: int = 0) -> dict[str, list[str]]:
    """split name -> keys (in the order of ``keys``); without fractions all keys are ``train``."""
    if not fractions:
        return {DEFAULT_SPLIT: list(keys)}
    counts = split_counts(len(keys), fractions)
    ranked = sorted(keys, key=lambda k: _rank(seed, k))
    which: dict[str, str] = {}
    start = 0
    for name, count in counts.items():
        for k in ranked[start:start + count]:
            which[k] = name
        start += count
    return {name: [k for k in keys if which[k] == name] for name in counts}
