"""Smart-tool pixel logic (numpy / OpenCV only, no Qt, no torch): one module per tool.

Every tool *proposes* pixels and never writes a mask itself: it returns a :data:`Stamp`,
``(bbox, bool patch)`` in the same convention as :mod:`segstudio.core.paint` (boxes
``(x0, y0, x1, y1)`` with exclusive ends). The caller writes the active class through the
shared paint function (:func:`apply_proposal` → ``paint.apply_stamp``), so preserve-labels /
locked classes and the undo recorder apply to smart tools exactly as to the brush. The GUI
does that through the Document (one undo step); the annotation-effort benchmark calls the
same functions on a plain array.

Modules: :mod:`.region` (connected region under a click), :mod:`.superpixel` (SLIC / SEEDS /
LSC, cached, superpixel brush), :mod:`.wand` (colour-tolerance flood fill), :mod:`.grabcut`
(box + scribbles), :mod:`.scribble_crf` (strokes as hard CRF constraints in a bounded window),
:mod:`.prob_region` (class swap), :mod:`.learn_brush` (a stroke that refits a per-image
classifier), :mod:`.edge_snap` (a proposal's outline moved onto image edges), :mod:`.annotator`
(the benchmark's simulated user).
"""

from __future__ import annotations

import cv2
import numpy as np

from segstudio.core import paint

BBox = paint.BBox
Stamp = tuple[BBox, np.ndarray]

__all__ = ["BBox", "Stamp", "stamp_from_full", "apply_proposal", "connected_to", "crop", "keep_unchanged",
           "padded_box"]


def stamp_from_full(sel: np.ndarray, origin: tuple[int, int] = (0, 0)) -> Stamp | None:
    """Tight ``(bbox, patch)`` of the set pixels of a bool array placed at ``origin`` (x, y)."""
    rows = np.flatnonzero(sel.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(sel.any(axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    ox, oy = origin
    return (ox + c0, oy + r0, ox + c1, oy + r1), np.ascontiguousarray(sel[r0:r1, c0:c1])


def connected_to(sel: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Bool: the 4-connected parts of ``sel`` that contain a ``seeds`` pixel (seeds outside ``sel``
    select nothing)."""
    _, comp = cv2.connectedComponents(np.ascontiguousarray(sel, np.uint8), connectivity=4)
    ids = np.unique(comp[seeds])
    return np.isin(comp, ids[ids > 0])


def keep_unchanged(stamp: Stamp | None, base: np.ndarray, current: np.ndarray) -> Stamp | None:
    """``stamp`` without the pixels that changed from ``base`` (the mask a background proposal was
    computed on) to ``current`` (the mask now): edits made meanwhile win over a late proposal."""
    if stamp is None or base.shape != current.shape:
        return stamp
    (x0, y0, x1, y1), patch = stamp
    same = base[y0:y1, x0:x1] == current[y0:y1, x0:x1]
    return stamp_from_full(patch & same, (x0, y0))


def padded_box(bbox: BBox, shape: tuple[int, ...], margin: int, max_pixels: int, floor: int) -> BBox:
    """``bbox`` grown by ``margin`` on every side (clipped to ``shape``), the margin shrunk by ¼ at a
    time (not below ``floor``) until the box holds at most ``max_pixels`` — the bounded work window
    of the stroke tools."""
    h, w = shape[:2]
    x0, y0, x1, y1 = bbox
    while True:
        box = (max(0, x0 - margin), max(0, y0 - margin), min(w, x1 + margin), min(h, y1 + margin))
        if (box[2] - box[0]) * (box[3] - box[1]) <= max_pixels or margin <= floor:
            return box
        margin = max(floor, margin * 3 // 4)


def crop(array: np.ndarray, bbox: BBox) -> np.ndarray:
    """``array[y0:y1, x0:x1]`` (a view), for H×W or H×W×C arrays."""
    x0, y0, x1, y1 = bbox
    return array[y0:y1, x0:x1]


def apply_proposal(mask: np.ndarray, stamp: Stamp | None, value: int,
                   preserve_void: int | None = None) -> paint.Edit | None:
    """Write ``value`` into ``mask`` where ``stamp`` is set, through ``paint.apply_stamp``."""
    if stamp is None:
        return None
    return paint.apply_stamp(mask, stamp[0], stamp[1], value, preserve_void)
