"""Class shortcut keys: which key picks which class (pure; the GUI binds what this decides).

A class answers to the key the user gave it in the label editor (``LabelClass.key``, any single
key: ``q``, ``F5``, ``Shift+3``), unless another command already owns that key (``reserved``)
or an earlier class took it. A class without a working key of its own gets a default one:
``0``–``9`` for ids 0–9 and ``Shift+0``–``Shift+9`` for ids 10–19 (so all eleven CamVid classes
and all twenty VOC classes have keys). Ids past that have no default key.

Keys are compared in one canonical spelling (:func:`normalize_key`): a single letter in upper
case (shortcuts ignore the case of letters), modifiers as ``Ctrl+``, ``Alt+``, ``Shift+``,
``Meta+`` in that order.
"""

from __future__ import annotations

from typing import Iterable

from segstudio.core.labels import LabelSet

_MODIFIERS = ("ctrl", "alt", "shift", "meta")
DEFAULT_KEYS = tuple(str(i) for i in range(10)) + tuple(f"Shift+{i}" for i in range(10))


def normalize_key(text: str | None) -> str | None:
    """One canonical spelling of a key (None for empty): ``"q"`` -> ``"Q"``, ``"shift+1"`` ->
    ``"Shift+1"``, ``"f5"`` -> ``"F5"``; a lone ``"+"`` stays ``"+"``."""
    if text is None:
        return None
    t = text.strip()
    if not t:
        return None
    if len(t) == 1:
        return t.upper()
    parts = t.split("+")
    if t.endswith("+"):                     # "Ctrl++": the key is "+"
        parts = parts[:-2] + ["+"]
    key, mods = parts[-1].strip(), {p.strip().lower() for p in parts[:-1]}
    mods = {"ctrl" if m == "control" else m for m in mods}
    if not key or not mods <= set(_MODIFIERS):
        return t
    key = key.upper() if len(key) == 1 else key[:1].upper() + key[1:].lower()
    return "".join(f"{m.capitalize()}+" for m in _MODIFIERS if m in mods) + key


def class_keys(labels: LabelSet, reserved: Iterable[str] = ()) -> dict[int, str]:
    """Class id -> key for every class that has one (user keys first, then defaults)."""
    taken = {k for k in (normalize_key(r) for r in reserved) if k}
    out: dict[int, str] = {}
    for c in labels.classes:                          # the user's own keys win over defaults
        k = normalize_key(c.key)
        if k and k not in taken:
            out[c.id] = k
            taken.add(k)
    for c in labels.classes:
        if c.id in out or c.id >= len(DEFAULT_KEYS):
            continue
        k = DEFAULT_KEYS[c.id]
        if k not in taken:
            out[c.id] = k
            taken.add(k)
    return out


def class_key(labels: LabelSet, cid: int, reserved: Iterable[str] = ()) -> str:
    """The key that picks class ``cid`` ("" when none), as :func:`class_keys` decides."""
    return class_keys(labels, reserved).get(int(cid), "")
