"""The simulated annotator of the annotation-effort benchmark (issue 15).

Starting from a model's prediction of an image, a simulated user corrects it with ONE tool,
interaction after interaction, using the ground truth only to decide where and what:

1. the target is the largest connected wrong region: the largest 4-connected set of pixels
   that are wrong (mask ≠ ground truth, ground-truth void ignored) and share one
   ground-truth class;
2. the user acts at its most interior point (maximum of the distance transform) with the
   ground-truth class there, as a user of that tool would (see :data:`TOOLS`);
3. a user sees the result: an action that does not increase the number of correct pixels is
   undone (it still cost its interactions) and the next interaction on that same region is a
   brush stroke (what a user falls back to).

Every action goes through the same core functions the GUI calls (``core.paint`` for the
brush, fill and polygon; ``core.tools.*`` for the smart tools) and is written with
``paint.apply_stamp``. Costs: one interaction per stroke, click, box or scribble; a polygon
costs one per vertex. :func:`simulate_image` returns, for k = 0 … ``max_interactions``, the
confusion table of the image after the last action whose cumulative cost is ≤ k.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from segstudio.core import paint
from segstudio.core.crf_params import CRFParams
from segstudio.core.metrics import ConfusionMatrix, scores_from_counts
from segstudio.core.tools import Stamp, grabcut, learn_brush, prob_region, region, scribble_crf, superpixel, wand

WAND_TOLERANCES = (8, 16, 24, 40)   # the user turns the wheel until the preview looks right: best of these
GRABCUT_PAD = 3                     # a user's box is a little larger than the object
POLYGON_MAX_VERTICES = 12


@dataclass
class Target:
    """The region the annotator corrects next."""
    bbox: paint.BBox          # of the region
    region: np.ndarray        # bool patch inside bbox
    cls: int                  # ground-truth class
    point: tuple[int, int]    # most interior pixel (x, y), image coordinates
    depth: float              # its distance to the region's border (pixels)
    dist: np.ndarray          # distance transform of the patch (float32)


@dataclass
class ImageInputs:
    rgb: np.ndarray                       # H×W×3 uint8
    gt: np.ndarray                        # H×W class ids, void = ``void``
    start: np.ndarray                     # the model's prediction
    probs: np.ndarray | None = None       # C×H×W model probabilities (scribble + CRF)
    superpixels: superpixel.Superpixels | None = None


@dataclass
class Context:
    inputs: ImageInputs
    mask: np.ndarray
    edited: np.ndarray                    # bool H×W: pixels the annotator has written
    num_classes: int
    void: int
    crf_params: CRFParams | None = None
    extra: dict = field(default_factory=dict)


def largest_wrong_region(mask: np.ndarray, gt: np.ndarray, void: int, num_classes: int) -> Target | None:
    wrong = (mask != gt) & (gt != void) & (gt < num_classes)
    if not wrong.any():
        return None
    best = None
    for c in np.unique(gt[wrong]):
        sel = (wrong & (gt == c)).view(np.uint8)
        n, comp, stats, _ = cv2.connectedComponentsWithStats(sel, connectivity=4)
        i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        area = int(stats[i, cv2.CC_STAT_AREA])
        if best is None or area > best[0]:
            x, y, w, h = (int(v) for v in stats[i, :4])
            best = (area, int(c), (x, y, x + w, y + h), comp[y:y + h, x:x + w] == i)
    _, cls, bbox, patch = best
    dist = cv2.distanceTransform(np.pad(patch.view(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    iy, ix = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return Target(bbox, patch, cls, (bbox[0] + int(ix), bbox[1] + int(iy)), float(dist[iy, ix]), dist)


# -- strokes along the medial axis ------------------------------------------------------------
def medial_axis(t: Target, min_depth: float, reach: float | None = None) -> np.ndarray:
    """Bool patch (in ``t.bbox``): the region's skeleton where it is at least ``min_depth``
    deep, the branch connected to the interior point (within ``reach`` of it when given)."""
    skel = cv2.ximgproc.thinning(t.region.view(np.uint8) * 255) > 0
    px, py = t.point[0] - t.bbox[0], t.point[1] - t.bbox[1]
    cand = skel & (t.dist >= min_depth)
    cand[py, px] = True
    if reach is not None:
        yy, xx = np.ogrid[:cand.shape[0], :cand.shape[1]]
        cand &= (xx - px) ** 2 + (yy - py) ** 2 <= reach * reach
    _, comp = cv2.connectedComponents(cand.view(np.uint8), connectivity=8)
    return comp == comp[py, px]


def disc_stroke(t: Target, axis: np.ndarray, diameter: float, shape: tuple[int, ...]) -> Stamp | None:
    """The brush stamp of ``core.paint`` (odd ``diameter``) swept over the ``axis`` pixels."""
    d = paint.clamp_brush(diameter) | 1
    k = d + 2
    kernel = paint.stroke_stamp((k / 2, k / 2), (k / 2, k / 2), d, (k, k))
    if kernel is None:
        return None
    kb, kp = kernel
    full = np.zeros((k, k), np.uint8)
    full[kb[1]:kb[3], kb[0]:kb[2]] = kp
    pad = k
    x0, y0, x1, y1 = t.bbox
    canvas = np.zeros((y1 - y0 + 2 * pad, x1 - x0 + 2 * pad), np.uint8)
    canvas[pad:-pad, pad:-pad] = axis
    swept = cv2.dilate(canvas, full, anchor=(k // 2, k // 2)) > 0
    st = _clip_full(swept, (x0 - pad, y0 - pad), shape)
    return st


def _clip_full(sel: np.ndarray, origin: tuple[int, int], shape: tuple[int, ...]) -> Stamp | None:
    from segstudio.core.tools import stamp_from_full
    st = stamp_from_full(sel, origin)
    if st is None:
        return None
    bbox = paint.clip_bbox(st[0], shape)
    if bbox is None:
        return None
    (bx0, by0, _, _), patch = st
    return bbox, patch[bbox[1] - by0:bbox[3] - by0, bbox[0] - bx0:bbox[2] - bx0]


# -- one action per tool: returns (stamp, cost) -----------------------------------------------
def brush_diameter(depth: float) -> int:
    """The brush a user picks for a region ``depth`` deep: odd, about half its width, ≥ 1."""
    return 2 * int(depth // 2) + 1


def act_brush(ctx: Context, t: Target) -> tuple[Stamp | None, int]:
    d = brush_diameter(t.depth)
    return disc_stroke(t, medial_axis(t, d / 2), d, ctx.mask.shape), 1


def act_fill(ctx: Context, t: Target) -> tuple[Stamp | None, int]:
    return paint.region_at(ctx.mask, *t.point), 1


def act_region(ctx: Context, t: Target) -> tuple[Stamp | None, int]:
    return region.region_stamp(ctx.mask, *t.point, superpixels=_superpixels(ctx)), 1


def act_superpixel(ctx: Context, t: Target) -> tuple[Stamp | None, int]:
    sp = _superpixels(ctx)
    axis = medial_axis(t, max(1.0, min(t.depth, sp.size / 2)))
    stroke = disc_stroke(t, axis, 3, ctx.mask.shape)
    return (sp.stamp(sp.ids_in(stroke)) if stroke is not None else None), 1


def act_wand(ctx: Context, t: Target) -> tuple[Stamp | None, int]:
    best, best_gain = None, 0
    for tol in WAND_TOLERANCES:
        st = wand.wand_stamp(ctx.inputs.rgb, *t.point, tol)
        g = gain(ctx, st, t.cls)
        if st is not None and (best is None or g > best_gain):
            best, best_gain = st, g
    return best, 1


def act_grabcut(ctx: Context, t: Target) -> tuple[Stamp | None, int]:
    x0, y0, x1, y1 = t.bbox
    p = GRABCUT_PAD
    return grabcut.grabcut_stamp(ctx.inputs.rgb, (x0 - p, y0 - p, x1 + p, y1 + p)), 1


def act_scribble(ctx: Context, t: Target) -> tuple[Stamp | None, int]:
    axis = medial_axis(t, brush_diameter(t.depth) / 2)
    stroke = disc_stroke(t, axis, 3, ctx.mask.shape)
    if stroke is None:
        return None, 1
    probs = ctx.inputs.probs
    if probs is None:
        probs = ctx.extra.get("soft")
        if probs is None:
            probs = ctx.extra["soft"] = scribble_crf.probs_from_labels(ctx.inputs.start, ctx.num_classes)
    fixed = np.where(ctx.edited, ctx.mask, ctx.num_classes).astype(np.int32)
    return scribble_crf.scribble_crf_stamp(ctx.inputs.rgb, probs, stroke, t.cls, ctx.crf_params,
                                            fixed=fixed, mask=ctx.mask), 1


def act_class_swap(ctx: Context, t: Target) -> tuple[Stamp | None, int]:
    """One click at the interior point with the GT class; τ as set (``extra["swap_ratio"]``) or the
    default. Without model probabilities the tool proposes nothing (the user falls back to the brush)."""
    ratio = ctx.extra.get("swap_ratio", prob_region.DEFAULT_RATIO_PCT / 100.0)
    return prob_region.class_swap_stamp(ctx.mask, ctx.inputs.probs, *t.point, t.cls, ratio), 1


def act_learn_brush(ctx: Context, t: Target) -> tuple[Stamp | None, int]:
    """The brush's own stroke (same size and path), extended by the per-image refit."""
    stroke, _ = act_brush(ctx, t)
    if stroke is None:
        return None, 1
    return learn_brush.learning_brush_stamp(ctx.inputs.rgb, ctx.inputs.probs, ctx.mask, stroke, t.cls,
                                            ctx.num_classes, fixed=ctx.edited), 1


def act_polygon(ctx: Context, t: Target) -> tuple[Stamp | None, int]:
    contours, _ = cv2.findContours(t.region.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    c = max(contours, key=cv2.contourArea)
    eps = max(1.0, 0.01 * cv2.arcLength(c, True))
    pts = cv2.approxPolyDP(c, eps, True).reshape(-1, 2)
    while len(pts) > POLYGON_MAX_VERTICES:     # a user clicks a rougher outline of a ragged region
        eps *= 1.5
        pts = cv2.approxPolyDP(c, eps, True).reshape(-1, 2)
    if len(pts) < 3:                       # a sliver: the user clicks a thin triangle around it
        x0, y0, x1, y1 = t.bbox
        pts = np.array([[0, 0], [x1 - x0 - 1, 0], [x1 - x0 - 1, y1 - y0 - 1]])
    # vertices at pixel corners around the outline pixels (a user clicks on the boundary)
    poly = [(float(x + t.bbox[0]) + 0.5, float(y + t.bbox[1]) + 0.5) for x, y in pts]
    return paint.polygon_stamp(poly, ctx.mask.shape), len(poly)


def act_oracle(ctx: Context, t: Target) -> tuple[Stamp | None, int]:
    return (t.bbox, t.region), 1


TOOLS: dict[str, Callable[[Context, Target], tuple[Stamp | None, int]]] = {
    "brush": act_brush, "polygon": act_polygon, "fill": act_fill, "region": act_region,
    "superpixel": act_superpixel, "wand": act_wand, "grabcut": act_grabcut, "scribble_crf": act_scribble,
    "class_swap": act_class_swap, "learn_brush": act_learn_brush, "oracle": act_oracle,
}


def _superpixels(ctx: Context) -> superpixel.Superpixels:
    if ctx.inputs.superpixels is None:
        ctx.inputs.superpixels = superpixel.compute(ctx.inputs.rgb)
    return ctx.inputs.superpixels


def gain(ctx: Context, stamp: Stamp | None, value: int) -> int:
    """Correct pixels gained by writing ``value`` over ``stamp`` (negative: it makes things worse)."""
    if stamp is None:
        return 0
    (x0, y0, x1, y1), patch = stamp
    gt = ctx.inputs.gt[y0:y1, x0:x1][patch]
    old = ctx.mask[y0:y1, x0:x1][patch]
    valid = (gt != ctx.void) & (gt < ctx.num_classes)
    return int(np.count_nonzero(valid & (gt == value))) - int(np.count_nonzero(valid & (old == gt)))


def image_table(mask: np.ndarray, gt: np.ndarray, num_classes: int, void: int) -> np.ndarray:
    return ConfusionMatrix(num_classes, void).update(mask, gt).full.copy()


def simulate_image(inputs: ImageInputs, tool: str, num_classes: int, void: int, max_interactions: int,
                   crf_params: CRFParams | None = None, options: dict | None = None) -> list[np.ndarray]:
    """Confusion tables ((n+1)×(n+1)) of one image after k = 0 … ``max_interactions``
    (``options``: tool settings, e.g. ``{"swap_ratio": 0.1}`` for the class swap)."""
    act = TOOLS[tool]
    ctx = Context(inputs, inputs.start.copy(), np.zeros(inputs.gt.shape, bool), num_classes, void, crf_params,
                  dict(options or {}))
    tables = [image_table(ctx.mask, inputs.gt, num_classes, void)]
    spent = 0
    failed: tuple[int, tuple[int, int]] | None = None
    while spent < max_interactions:
        t = largest_wrong_region(ctx.mask, inputs.gt, void, num_classes)
        if t is None:
            break
        fallback = failed is not None and failed[0] == t.cls and _contains(t, failed[1])
        stamp, cost = (act_brush if fallback else act)(ctx, t)
        if spent + cost > max_interactions:
            break
        spent += cost
        if stamp is not None and gain(ctx, stamp, t.cls) > 0:
            edit = paint.apply_stamp(ctx.mask, stamp[0], stamp[1], t.cls)
            x0, y0, x1, y1 = edit.bbox
            ctx.edited[y0:y1, x0:x1] |= edit.changed
            failed = None
        else:
            failed = (t.cls, t.point)       # undone; next time on this region: the brush
        table = image_table(ctx.mask, inputs.gt, num_classes, void)
        tables.extend([table] * cost)
    while len(tables) < max_interactions + 1:
        tables.append(tables[-1])
    return tables


def _contains(t: Target, point: tuple[int, int]) -> bool:
    x, y = point
    x0, y0, x1, y1 = t.bbox
    return x0 <= x < x1 and y0 <= y < y1 and bool(t.region[y - y0, x - x0])


def curves(tables_per_image: list[list[np.ndarray]], num_classes: int) -> tuple[list[float], list[float]]:
    """mIoU and pixel accuracy over all images for every k (as ``segstudio eval`` computes them)."""
    miou, acc = [], []
    for k in range(len(tables_per_image[0])):
        full = sum(t[k] for t in tables_per_image)
        s = scores_from_counts(full[:num_classes, :num_classes], full[:num_classes, num_classes])
        miou.append(float(s.miou))
        acc.append(float(s.pixel_accuracy))
    return miou, acc


def effort_ratio(miou: list[float], brush_miou: list[float]) -> float | None:
    """Interactions needed to reach brush-only's mIoU at the cap, over the cap (None: never)."""
    cap = len(brush_miou) - 1
    target = brush_miou[-1]
    for k, v in enumerate(miou):
        if v >= target - 1e-12:
            return k / cap if cap else 0.0
    return None
