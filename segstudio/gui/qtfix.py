"""Guard against a PySide6 6.12.0 reference-count bug that aborts the app on Python < 3.12.

In PySide6/shiboken6 6.12.0 every wrapped method that returns ``None`` (``update()``,
``setText()`` …) and ``SignalInstance.emit()`` (which returns ``True``) hand back the
singleton without taking a reference. Each call drops one reference; after a few thousand
calls CPython aborts with "none_dealloc: deallocating None" / "bool_dealloc". 6.11 is fine;
Python 3.12+ is immune (its singletons are immortal).

:func:`install` measures the drain once and, only when present on a Python without
immortal singletons, gives ``None``, ``True`` and ``False`` a reserve of 2**40 references —
what Python 3.12 does for them anyway — so the drain can never reach zero. Imported by
``segstudio.gui`` so every part of the GUI, plug-in panels included, is covered.
Recommended fix: ``PySide6-Essentials != 6.12.0``.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

RESERVE = 1 << 40
_state = {"installed": False}


class _Probe(QObject):
    sig = Signal()


def drains_singletons(calls: int = 16) -> bool:
    """True when Python-side calls into PySide6 lose references to None or True."""
    probe = _Probe()
    none0, true0 = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(calls):
        probe.setObjectName("probe")   # returns None
        probe.sig.emit()               # returns True
    lost_none = none0 - sys.getrefcount(None)
    lost_true = true0 - sys.getrefcount(True)
    for obj, lost in ((None, lost_none), (True, lost_true)):   # give back what the probe took
        if lost > 0:
            ctypes.c_ssize_t.from_address(id(obj)).value += lost
    return lost_none >= calls or lost_true >= calls


def install() -> bool:
    """Apply the guard if needed; returns whether it is active."""
    if _state["installed"]:
        return True
    if sys.version_info >= (3, 12) or not drains_singletons():
        return False
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += RESERVE
    _state["installed"] = True
    return True


install()
