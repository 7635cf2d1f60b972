"""Dense CRF refinement of per-pixel class probabilities (pydensecrf engine; no torch, no Qt).

``dense_crf(image, probs, params, fixed, progress)`` runs mean-field inference of a fully
connected CRF (Krähenbühl & Koltun) with

* unary       ``-log(clip(probs, 1e-5, 1))`` per class,
* smoothness  Gaussian kernel on pixel position (``gaussian_sxy``, Potts weight ``gaussian_compat``),
* appearance  bilateral kernel on position and RGB colour (``bilateral_sxy``, ``bilateral_srgb``,
              Potts weight ``bilateral_compat``),

and returns float32 ``C×H×W`` probabilities that sum to one per pixel.

User-painted pixels (``fixed``: ``H×W`` class ids, anything outside ``0..C-1`` — e.g. −1 or
the label set's void value — meaning "free") get a near one-hot unary (their class at
``params.fixed_confidence``, the rest sharing the remainder), so they pull their neighbours;
after inference their output is forced exactly one-hot to their class, so they never change.

Images above ``params.max_pixels`` pixels are refined tile by tile with overlapping,
blended tiles (:mod:`segstudio.core.crf_tiling`), keeping pydensecrf's memory bounded;
``progress(done, total, message)`` reports each tile (a whole image reports 0/1 and 1/1).

``pydensecrf`` (PyPI: ``pydensecrf2``) is imported on first use; when it is missing
:class:`CRFUnavailable` says how to install it. The torch engine with the same parameters
and semantics lives in ``segstudio.models.crf_torch``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segstudio.core.crf_params import CRFError, CRFParams
from segstudio.core.crf_tiling import Progress, plan_tiles, refine_tiled

__all__ = ["CRFError", "CRFParams", "CRFUnavailable", "dense_crf", "refine_labels", "unary_energy",
           "fixed_mask", "force_fixed", "check_inputs", "PROB_FLOOR"]

PROB_FLOOR = 1e-5  # probabilities are clipped to [PROB_FLOOR, 1] before the log


class CRFUnavailable(CRFError):
    """The pydensecrf extension is not installed."""


_dcrf: Any = None


def _densecrf() -> Any:
    global _dcrf
    if _dcrf is None:
        try:
            import pydensecrf.densecrf as module
        except ImportError as exc:
            raise CRFUnavailable(
                f"dense CRF needs the pydensecrf extension, which is not installed ({exc}); "
                f"install it with: pip install pydensecrf2 (or use the torch engine)") from None
        _dcrf = module
    return _dcrf


def check_inputs(image: np.ndarray, probs: np.ndarray, fixed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Validate shapes/types; return (C-contiguous H×W×3 uint8 image, probs as given or as float32)."""
    probs = np.asarray(probs)
    if probs.ndim != 3 or probs.shape[0] < 1:
        raise CRFError(f"probabilities must be a C×H×W array, got shape {probs.shape}")
    if probs.dtype.kind != "f":
        raise CRFError(f"probabilities must be floating point, got {probs.dtype}")
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise CRFError(f"image must be H×W×3 RGB, got shape {image.shape}")
    if image.shape[:2] != probs.shape[1:]:
        raise CRFError(f"image is {image.shape[0]}×{image.shape[1]} but probabilities are "
                       f"{probs.shape[1]}×{probs.shape[2]} (C×H×W {probs.shape})")
    if image.dtype != np.uint8:
        raise CRFError(f"image must be uint8 RGB, got {image.dtype}")
    if image.shape[2] == 4:
        image = image[..., :3]
    if fixed is not None:
        fixed = np.asarray(fixed)
        if fixed.shape != probs.shape[1:]:
            raise CRFError(f"fixed (painted) mask is {fixed.shape} but probabilities are {probs.shape[1:]}")
        if fixed.dtype.kind not in "iu":
            raise CRFError(f"fixed (painted) mask must hold integer class ids, got {fixed.dtype}")
    image = np.ascontiguousarray(image)
    if not image.flags.writeable:  # pydensecrf takes a writable buffer (e.g. arrays from PIL are read-only)
        image = image.copy()
    return image, probs


def fixed_mask(fixed: np.ndarray | None, num_classes: int) -> np.ndarray | None:
    """Boolean H×W of pixels holding a class id ``0..C-1`` (None when there are none)."""
    if fixed is None:
        return None
    m = fixed < num_classes
    if fixed.dtype.kind == "i":
        m &= fixed >= 0
    return m if m.any() else None


def unary_energy(probs: np.ndarray, fixed: np.ndarray | None = None, confidence: float = 0.99) -> np.ndarray:
    """``-log(clip(probs))`` as a C-contiguous float32 ``C×(H·W)`` array, painted pixels overridden."""
    c, h, w = probs.shape
    u = np.empty((c, h * w), np.float32)
    np.clip(probs, PROB_FLOOR, 1.0, out=u.reshape(c, h, w))  # no temporary, even for strided tiles
    np.log(u, out=u)
    np.negative(u, out=u)
    if not np.isfinite(u).all():  # NaN survives the clip
        raise CRFError("probabilities contain NaN")
    m = fixed_mask(fixed, c)
    if m is not None:
        idx = np.flatnonzero(m)
        cls = fixed.reshape(-1)[idx].astype(np.intp)
        other = (1.0 - confidence) / (c - 1) if c > 1 else confidence
        u[:, idx] = -np.log(max(other, PROB_FLOOR))
        u[cls, idx] = -np.log(confidence)
    return u


def force_fixed(out: np.ndarray, fixed: np.ndarray | None) -> np.ndarray:
    """Set ``out`` (C×H×W) one-hot at painted pixels, in place; returns ``out``."""
    m = fixed_mask(fixed, out.shape[0])
    if m is not None:
        ys, xs = np.nonzero(m)
        out[:, ys, xs] = 0.0
        out[fixed[ys, xs].astype(np.intp), ys, xs] = 1.0
    return out


def _refine_whole(image: np.ndarray, probs: np.ndarray, fixed: np.ndarray | None, params: CRFParams) -> np.ndarray:
    """One pydensecrf run over ``image`` (no tiling, no forcing); returns C×H×W float32."""
    c, h, w = probs.shape
    unary = unary_energy(probs, fixed, params.fixed_confidence)
    if c == 1:
        return np.ones((1, h, w), np.float32)
    dcrf = _densecrf()
    crf = dcrf.DenseCRF2D(w, h, c)
    crf.setUnaryEnergy(unary)
    if params.gaussian_compat > 0:
        crf.addPairwiseGaussian(sxy=params.gaussian_sxy, compat=params.gaussian_compat)
    if params.bilateral_compat > 0:
        crf.addPairwiseBilateral(sxy=params.bilateral_sxy, srgb=params.bilateral_srgb,
                                 rgbim=np.ascontiguousarray(image), compat=params.bilateral_compat)
    q = np.asarray(crf.inference(params.iterations), dtype=np.float32)
    return q.reshape(c, h, w)


def dense_crf(image_rgb_uint8: np.ndarray, probs: np.ndarray, params: CRFParams | None = None,
              fixed: np.ndarray | None = None, progress: Progress = None) -> np.ndarray:
    """Refine ``probs`` (C×H×W softmax probabilities) on ``image`` (H×W×3 uint8); see module doc.

    Returns new float32 ``C×H×W`` probabilities summing to one per pixel; ``fixed`` pixels
    are exactly one-hot on their class. Inputs are not modified. Above ``params.max_pixels``
    the image is processed in overlapping tiles whose outputs are blended.

    A whole-image result is a zero-copy view of pydensecrf's output buffer, whose memory is
    pixel-interleaved (so not C-contiguous; ``argmax(0)`` is fast on it); use
    ``np.ascontiguousarray`` where planar memory matters.
    """
    params = params or CRFParams()
    image, probs = check_inputs(image_rgb_uint8, probs, fixed)
    c, h, w = probs.shape
    tiles = plan_tiles(h, w, params.max_pixels, params.tile_overlap)
    if len(tiles) == 1:
        if progress is not None:
            progress(0, 1, f"dense CRF: whole image ({h}×{w} px)")
        out = _refine_whole(image, probs, fixed, params)
        if progress is not None:
            progress(1, 1, "dense CRF: done")
    else:
        out = refine_tiled(image, probs, fixed, tiles,
                           lambda im, pr, fx: _refine_whole(im, pr, fx, params), progress)
    return force_fixed(out, fixed)


def refine_labels(image: np.ndarray, probs: np.ndarray, params: CRFParams | None = None,
                  fixed: np.ndarray | None = None, progress: Progress = None,
                  dtype: Any = np.uint8) -> np.ndarray:
    """``argmax`` of :func:`dense_crf` as an H×W class-id mask (``dtype``: uint8, or uint16 past 255)."""
    out = dense_crf(image, probs, params, fixed, progress)
    if out.shape[0] > 256 and np.dtype(dtype) == np.uint8:
        dtype = np.uint16
    return out.argmax(axis=0).astype(dtype)
