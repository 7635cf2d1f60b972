"""GrabCut box: a dragged rectangle (plus optional fore/background scribbles) → the object's
pixels, through OpenCV's ``cv2.grabCut``.

Work is bounded: only the box plus ``margin`` pixels around it is cut out of the image (the
margin is the background sample), and when that crop's long side exceeds ``max_side`` it is
downscaled for the cut and the result scaled back (nearest). Scribbles are stamps marked
definite foreground / background. OpenCV's random generator is seeded, so a given input
always gives the same result.
"""

from __future__ import annotations

import cv2
import numpy as np

from segstudio.core import paint
from segstudio.core.tools import BBox, Stamp, stamp_from_full

DEFAULT_MARGIN = 16
DEFAULT_MAX_SIDE = 320
MIN_SIDE = 3


def _work_box(rect: BBox, shape: tuple[int, ...], margin: int) -> BBox:
    h, w = shape[:2]
    return (max(0, rect[0] - margin), max(0, rect[1] - margin), min(w, rect[2] + margin), min(h, rect[3] + margin))


def grabcut_stamp(rgb: np.ndarray, rect: BBox, hints: list[tuple[Stamp, bool]] | None = None,
                  iterations: int = 3, margin: int = DEFAULT_MARGIN, max_side: int = DEFAULT_MAX_SIDE,
                  seed: int = 0) -> Stamp | None:
    """Foreground pixels inside ``rect`` (x0, y0, x1, y1); ``hints``: ``(stamp, is_foreground)``."""
    img = np.asarray(rgb)
    rect = paint.clip_bbox(rect, img.shape)
    if rect is None or rect[2] - rect[0] < MIN_SIDE or rect[3] - rect[1] < MIN_SIDE:
        return None
    wx0, wy0, wx1, wy1 = _work_box(rect, img.shape, margin)
    crop = np.ascontiguousarray(img[wy0:wy1, wx0:wx1, :3])
    ch, cw = crop.shape[:2]
    gc = np.full((ch, cw), cv2.GC_BGD, np.uint8)
    gc[rect[1] - wy0:rect[3] - wy0, rect[0] - wx0:rect[2] - wx0] = cv2.GC_PR_FGD
    if not (gc == cv2.GC_BGD).any():           # box covers the whole image: its rim is probable background
        gc[[0, -1], :] = cv2.GC_PR_BGD
        gc[:, [0, -1]] = cv2.GC_PR_BGD
    for (bbox, patch), fg in hints or []:
        inter = paint.clip_bbox((max(bbox[0], wx0), max(bbox[1], wy0), min(bbox[2], wx1), min(bbox[3], wy1)), img.shape)
        if inter is None:
            continue
        sub = patch[inter[1] - bbox[1]:inter[3] - bbox[1], inter[0] - bbox[0]:inter[2] - bbox[0]]
        gc[inter[1] - wy0:inter[3] - wy0, inter[0] - wx0:inter[2] - wx0][sub] = cv2.GC_FGD if fg else cv2.GC_BGD
    scale = min(1.0, max_side / float(max(ch, cw)))
    work_img, work_gc = crop, gc
    if scale < 1.0:
        size = (max(MIN_SIDE, round(cw * scale)), max(MIN_SIDE, round(ch * scale)))
        work_img = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        work_gc = cv2.resize(gc, size, interpolation=cv2.INTER_NEAREST)
    if not ((work_gc == cv2.GC_PR_FGD) | (work_gc == cv2.GC_FGD)).any():
        return None
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(seed)
    try:
        cv2.grabCut(work_img, work_gc, None, bgd, fgd, max(1, int(iterations)), cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return None   # one of the two colour models has no samples (e.g. every pixel a hint)
    fg = (work_gc == cv2.GC_FGD) | (work_gc == cv2.GC_PR_FGD)
    if scale < 1.0:
        fg = cv2.resize(fg.view(np.uint8), (cw, ch), interpolation=cv2.INTER_NEAREST).astype(bool)
    inside = np.zeros_like(fg)
    inside[rect[1] - wy0:rect[3] - wy0, rect[0] - wx0:rect[2] - wx0] = True
    fg &= inside | (gc == cv2.GC_FGD)
    fg[gc == cv2.GC_FGD] = True
    fg[gc == cv2.GC_BGD] = False
    return stamp_from_full(fg, (wx0, wy0))
