"""Edge snap: move a proposal's outline onto the nearest strong image edge (marker watershed).

A smart tool's proposal (the learning brush's stroke plus its extension) is right in its middle
and uncertain at its outline, where the classifier's features are blurred across the object's
edge. :func:`snap` keeps the proposal's core, opens a band of ``band`` pixels on both sides of
its outline and lets OpenCV's marker watershed on the (lightly blurred) colour image decide
where, inside that band, the proposal really ends: it flows from the proposal's core and from
the pixels already of the class, against everything else, and the two meet on the strongest
colour edge between them; a pixel of the line where they meet joins the side it looks like.

Rules: the stroke always belongs to the result; pixels the user painted before (``fixed``) are
never taken unless the stroke covers them; pixels already of the class are never proposed (they
do not change); only what is connected to the stroke is returned. Work is bounded by the band's
box. Measured with the annotation-effort benchmark (``docs/smart-tools.md``).
"""

from __future__ import annotations

import cv2
import numpy as np

from segstudio.core.tools import connected_to

DEFAULT_BAND = 4          # pixels on each side of the outline the watershed may move it
DEFAULT_BLUR = 1.0        # Gaussian sigma (pixels) of the colour image the watershed reads

_UNKNOWN, _INSIDE, _OUTSIDE = 0, 1, 2


def snap(rgb: np.ndarray, labels: np.ndarray, proposal: np.ndarray, stroke: np.ndarray, value: int,
         fixed: np.ndarray | None = None, band: int = DEFAULT_BAND, blur: float = DEFAULT_BLUR) -> np.ndarray:
    """Bool H×W: ``proposal`` with its outline snapped to the image's edges (all arrays one window).

    ``rgb`` H×W×3 uint8; ``labels`` the current mask; ``proposal`` and ``stroke`` bool (the
    stroke is part of the proposal); ``value`` the class being painted; ``fixed`` bool, the
    pixels the user painted before. ``band`` ≤ 0 returns the proposal unchanged.
    """
    proposal = proposal | stroke
    if band <= 0 or not stroke.any():
        return proposal & ((labels != value) | stroke)
    fixed = np.zeros(labels.shape, bool) if fixed is None else fixed
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    p8 = proposal.astype(np.uint8)
    grown = cv2.dilate(p8, kernel) > 0
    core = cv2.erode(p8, kernel) > 0
    unknown = grown & ~core & ~fixed & (labels != value) & ~stroke

    # the band's box, plus a margin so that the blur and the watershed see every unknown pixel's
    # neighbourhood as in the whole image
    ys, xs = np.nonzero(grown)
    h, w = labels.shape
    m = 2 + int(np.ceil(3 * max(0.0, blur)))
    y0, y1 = max(0, int(ys.min()) - m), min(h, int(ys.max()) + 1 + m)
    x0, x1 = max(0, int(xs.min()) - m), min(w, int(xs.max()) + 1 + m)
    win = np.s_[y0:y1, x0:x1]
    markers = np.full((y1 - y0, x1 - x0), _OUTSIDE, np.int32)
    markers[unknown[win]] = _UNKNOWN
    markers[((labels == value) | (proposal & ~unknown))[win]] = _INSIDE
    img = np.ascontiguousarray(np.asarray(rgb)[win][..., 2::-1])      # OpenCV wants BGR
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    seeded = markers == _INSIDE
    # the watershed writes -1 on its image's border: a one-pixel frame around the box keeps the
    # image's own border pixels decidable
    img = cv2.copyMakeBorder(img, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    markers = cv2.copyMakeBorder(markers, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=_OUTSIDE)
    cv2.watershed(img, markers)
    flooded = markers[1:-1, 1:-1]
    # only the band is decided; a pixel of the line where the two floods meet (-1) joins the
    # side whose neighbours' colour is closer to its own
    inside = np.zeros(labels.shape, bool)
    inside[win] = seeded | (((flooded == _INSIDE) | _meets_inside(img[1:-1, 1:-1], flooded)) & unknown[win])
    inside |= stroke
    result = connected_to(inside, stroke) & ((labels != value) | stroke)
    return result & (~fixed | stroke)


def _meets_inside(img: np.ndarray, flooded: np.ndarray) -> np.ndarray:
    """Bool: the watershed's meeting-line pixels (-1) whose colour is at least as close to the
    mean of their inside 3×3 neighbours as to that of their outside ones."""
    line = flooded == -1
    if not line.any():
        return line
    f = img.astype(np.float32)
    kernel = np.ones((3, 3), np.float32)

    def neighbour_mean(side: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = side.astype(np.float32)
        n = cv2.filter2D(w, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        total = cv2.filter2D(f * w[..., None], -1, kernel, borderType=cv2.BORDER_CONSTANT)
        return total / np.maximum(n, 1e-6)[..., None], n

    mean_in, n_in = neighbour_mean(flooded == _INSIDE)
    mean_out, n_out = neighbour_mean(flooded == _OUTSIDE)
    closer = ((f - mean_in) ** 2).sum(axis=2) <= ((f - mean_out) ** 2).sum(axis=2)
    return line & (n_in > 0) & ((n_out == 0) | closer)
