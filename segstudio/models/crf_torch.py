"""Dense CRF on torch (GPU when available): the same mean-field model and CRFParams as core.crf.

Mean field, per iteration (as pydensecrf does it)::

    Q <- softmax( -U + gaussian_compat · n_g ⊙ K_g(n_g ⊙ Q) + bilateral_compat · n_b ⊙ K_b(n_b ⊙ Q) )

with ``U = -log(clip(probs))`` (painted pixels overridden, see ``core.crf.unary_energy``),
symmetric normalisation ``n = 1/sqrt(K·1)``, and both kernels summing over every pixel
including the pixel itself.

* Smoothness kernel ``K_g``: exact Gaussian ``exp(-|Δp|²/(2·gaussian_sxy²))``, as a separable
  blur (two 1-D convolutions, radius ``ceil(4·sxy)``, zero padding, i.e. only real pixels).
  pydensecrf approximates this same kernel with a permutohedral lattice.
* Appearance kernel ``K_b`` on features ``(x/sxy, y/sxy, r/srgb, g/srgb, b/srgb)``: the
  permutohedral-lattice approximation of the 5-D Gaussian (Adams et al. 2010) — the same
  approximation pydensecrf uses: elevate each feature onto the lattice, splat with
  barycentric weights onto the d+1 = 6 enclosing vertices, blur with ``[½ 1 ½]`` along each
  of the 6 lattice axes, slice back (scaled by ``1/(1+2^-d)``). Lattice vertices are found by
  sorting integer keys packed into int64 (lexicographic ``torch.unique`` when they do not
  fit) and blur neighbours by ``searchsorted``, so it runs on any device; splat and slice
  are sparse CSR products built once per image (tile).

Agreement with pydensecrf (CPU, DeepLab default parameters), measured by
``tests/unit/test_crf_torch.py`` on synthetic piecewise-constant images (blurred edges)
with noisy unaries: 64×64, 4 classes: label agreement 99.98 %, mean |Δprob| 0.00016;
80×96, 6 classes: 99.97 %, 0.00011. On two 480×360 CamVid val frames with smooth random
11-class probabilities: 99.91 % / 99.92 %, mean |Δprob| 0.00015 / 0.00013. With the smoothness
kernel off the two engines agree to ~1e-8 (same lattice); the remaining difference is the
exact Gaussian here versus pydensecrf's lattice approximation of it.

Large images are tiled exactly like the pydensecrf engine (``params.max_pixels``), which
also bounds GPU memory.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from segstudio.core.crf import check_inputs, force_fixed, unary_energy
from segstudio.core.crf_params import CRFError, CRFParams
from segstudio.core.crf_tiling import Progress, plan_tiles, refine_tiled

__all__ = ["dense_crf_torch", "refine_labels_torch", "Permutohedral", "gaussian_filter", "pick_device"]


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/"auto": CUDA when available, else CPU."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise CRFError(f"unknown torch device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise CRFError(f"device {device!r} requested but no CUDA GPU is available; use --device cpu or auto")
    return dev


# --- smoothness kernel: exact separable Gaussian ------------------------------------------------

def gaussian_filter(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``Σ_j exp(-|p_i-p_j|²/2σ²) x_j`` over the image (zero outside) for ``x`` of shape C×H×W."""
    c, h, w = x.shape
    r = min(int(math.ceil(4.0 * sigma)), max(h, w) - 1)
    t = torch.arange(-r, r + 1, device=x.device, dtype=x.dtype)
    g = torch.exp(-(t * t) / (2.0 * sigma * sigma))
    y = x.reshape(1, c, h, w)  # depthwise (groups=C) convolutions: one per class plane
    y = F.conv2d(y, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), padding=(0, r), groups=c)
    y = F.conv2d(y, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), padding=(r, 0), groups=c)
    return y.reshape(c, h, w)


# --- appearance kernel: permutohedral lattice -------------------------------------------------

class Permutohedral:
    """Permutohedral lattice over ``features`` (N×d); ``apply(V)`` filters V (N×C) with it."""

    def __init__(self, features: torch.Tensor, force_generic_keys: bool = False) -> None:
        """``force_generic_keys``: use the lexicographic (slower) vertex lookup even when keys fit
        in 62 bits (the fallback for very large feature ranges; exposed for tests)."""
        f = features.to(torch.float32)
        n, d = f.shape
        dev = f.device
        d1 = d + 1
        self.n, self.d = n, d
        self.alpha = 1.0 / (1.0 + 2.0 ** (-d))
        # scale so that the lattice blur approximates a unit-variance Gaussian, then elevate
        i = torch.arange(d, device=dev, dtype=torch.float32)
        cf = f * (math.sqrt(2.0 / 3.0) * d1 / torch.sqrt((i + 2) * (i + 1)))
        tail = torch.flip(torch.cumsum(torch.flip(cf, [1]), 1), [1])          # tail[:, j] = Σ_{k≥j} cf_k
        elevated = torch.empty(n, d1, device=dev, dtype=torch.float32)
        elevated[:, 0] = tail[:, 0]
        j = torch.arange(1, d1, device=dev, dtype=torch.float32)
        elevated[:, 1:] = torch.cat([tail[:, 1:], torch.zeros(n, 1, device=dev)], 1) - j * cf
        # nearest remainder-0 lattice point
        v = elevated / d1
        up = torch.ceil(v) * d1
        down = torch.floor(v) * d1
        rem0 = torch.where(up - elevated < elevated - down, up, down).to(torch.int64)
        total = torch.div(rem0.sum(1, keepdim=True), d1, rounding_mode="floor")
        # rank of each coordinate of the residual (descending, ties by index) -> simplex
        diff = elevated - rem0.to(torch.float32)
        a, b = diff[:, :, None], diff[:, None, :]
        lower = torch.arange(d1, device=dev)[None, :] < torch.arange(d1, device=dev)[:, None]  # [i, j]: j < i
        rank = ((b > a) | ((b == a) & lower)).sum(2) + total
        over, under = rank > d, rank < 0
        rank = torch.where(over, rank - d1, torch.where(under, rank + d1, rank))
        rem0 = torch.where(over, rem0 - d1, torch.where(under, rem0 + d1, rem0))
        # barycentric coordinates
        val = (elevated - rem0.to(torch.float32)) / d1
        bary = torch.zeros(n, d + 2, device=dev, dtype=torch.float32)
        bary.scatter_add_(1, d - rank, val)
        bary.scatter_add_(1, d - rank + 1, -val)
        bary[:, 0] += 1.0 + bary[:, d + 1]
        bary = bary[:, :d1]
        # the d+1 enclosing vertices: key_r[i] = rem0[i] + canonical[r][rank[i]], first d coords
        r_idx = torch.arange(d1, device=dev)
        canonical = torch.where(r_idx[None, :] <= d - r_idx[:, None], r_idx[:, None], r_idx[:, None] - d1)
        keys = rem0[:, None, :d] + canonical[:, rank[:, :d]].permute(1, 0, 2)      # N × (d+1) × d
        keys = keys.reshape(-1, d)
        lattice, offsets, perm, counts = self._unique(keys, force_generic_keys)
        m = lattice.shape[0]
        self.m = m
        # blur neighbours along each lattice axis j (index m = "absent", holds zeros)
        neighbours = []
        for jj in range(d1):
            n1 = lattice + 1
            n2 = lattice - 1
            if jj < d:
                n1[:, jj] = lattice[:, jj] - d
                n2[:, jj] = lattice[:, jj] + d
            neighbours.append((self._lookup(n1), self._lookup(n2)))
        self.neighbours = neighbours
        del self._keys_sorted, self._pack_info
        # splat (M×N) and slice (N×M) as sparse CSR matrices (column indices sorted within rows)
        flat_bary = bary.reshape(-1)
        zero = torch.zeros(1, dtype=torch.int64, device=dev)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
            self.splat_mat = torch.sparse_csr_tensor(
                torch.cat([zero, torch.cumsum(counts, 0)]), torch.div(perm, d1, rounding_mode="floor"),
                flat_bary[perm], (m, n), check_invariants=False)
            cols, order = torch.sort(offsets.view(n, d1), dim=1)
            self.slice_mat = torch.sparse_csr_tensor(
                torch.arange(0, n * d1 + 1, d1, device=dev), cols.reshape(-1),
                bary.gather(1, order).reshape(-1), (n, m), check_invariants=False)

    # keys -> ids ------------------------------------------------------------------------------
    def _unique(self, keys: torch.Tensor, force_generic: bool
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Lattice points (M×d, sorted), each key's point id, the stable sort order of keys, counts."""
        d1 = self.d + 1
        lo = keys.min(0).values - d1
        hi = keys.max(0).values + d1
        bits = [max(1, int(s - 1).bit_length()) for s in (hi - lo + 1).tolist()]
        if sum(bits) <= 62 and not force_generic:
            shifts = torch.tensor(np.cumsum([0] + bits[:-1]).tolist(), device=keys.device, dtype=torch.int64)
            masks = (torch.ones_like(shifts) << torch.tensor(bits, device=keys.device)) - 1
            self._pack_info = (lo, hi, shifts)
            packed = ((keys - lo) << shifts).sum(1)
            sorted_keys, perm = torch.sort(packed, stable=True)
            uniq, counts = torch.unique_consecutive(sorted_keys, return_counts=True)
            ids = torch.repeat_interleave(torch.arange(uniq.numel(), device=keys.device), counts)
            inverse = torch.empty_like(ids)
            inverse[perm] = ids
            self._keys_sorted = uniq
            lattice = ((uniq[:, None] >> shifts) & masks) + lo
            return lattice, inverse, perm, counts
        self._pack_info = None
        lattice, inverse, counts = torch.unique(keys, dim=0, return_inverse=True, return_counts=True)
        self._keys_sorted = lattice
        return lattice, inverse, torch.sort(inverse, stable=True).indices, counts

    def _lookup(self, query: torch.Tensor) -> torch.Tensor:
        """Row of each query key in the lattice, ``m`` where it is absent."""
        m = self.m
        if self._pack_info is not None:
            lo, hi, shifts = self._pack_info
            inside = ((query >= lo) & (query <= hi)).all(1)
            packed = ((query.clamp(lo, hi) - lo) << shifts).sum(1)
            pos = torch.searchsorted(self._keys_sorted, packed).clamp(max=m - 1)
            found = inside & (self._keys_sorted[pos] == packed)
        else:  # generic: unique over lattice + queries, then map back
            both = torch.cat([self._keys_sorted, query])
            _, inv = torch.unique(both, dim=0, return_inverse=True)
            table = torch.full((int(inv.max()) + 1,), m, dtype=torch.int64, device=query.device)
            table[inv[:m]] = torch.arange(m, device=query.device)
            pos = table[inv[m:]]
            found = pos < m
        return torch.where(found, pos, torch.full_like(pos, m))

    # filtering --------------------------------------------------------------------------------
    def apply(self, values: torch.Tensor) -> torch.Tensor:
        """Filtered values (N×C) of ``values`` (N×C), including each point's own contribution."""
        c = values.shape[1]
        lat = self.splat_mat @ values
        buf = torch.cat([lat, lat.new_zeros(1, c)])
        for n1, n2 in self.neighbours:
            new = buf[:-1] + 0.5 * (buf.index_select(0, n1) + buf.index_select(0, n2))
            buf = torch.cat([new, buf[-1:]])
        return (self.slice_mat @ buf[:-1]) * self.alpha


# --- inference -------------------------------------------------------------------------------

def _refine_whole(image: np.ndarray, probs: np.ndarray, fixed: np.ndarray | None, params: CRFParams,
                  device: torch.device) -> np.ndarray:
    c, h, w = probs.shape
    n = h * w
    unary_np = unary_energy(probs, fixed, params.fixed_confidence)
    if c == 1:
        return np.ones((1, h, w), np.float32)
    with torch.no_grad():
        neg_unary = -torch.from_numpy(unary_np).to(device)                       # C×N
        q = torch.softmax(neg_unary, 0)
        if params.iterations == 0:
            return q.reshape(c, h, w).cpu().numpy()
        messages = []  # each: Q (C×N) -> compat · n ⊙ K(n ⊙ Q)
        if params.gaussian_compat > 0:
            sg = params.gaussian_sxy
            ng = gaussian_filter(torch.ones(1, h, w, device=device), sg).reshape(1, n).rsqrt_()
            wg = ng * params.gaussian_compat

            def smoothness(qq: torch.Tensor) -> torch.Tensor:
                return gaussian_filter((qq * ng).view(c, h, w), sg).view(c, n).mul_(wg)

            messages.append(smoothness)
        if params.bilateral_compat > 0:
            yy, xx = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                                    torch.arange(w, device=device, dtype=torch.float32), indexing="ij")
            rgb = torch.from_numpy(np.ascontiguousarray(image)).to(device).reshape(n, 3).to(torch.float32)
            feats = torch.cat([xx.reshape(n, 1) / params.bilateral_sxy, yy.reshape(n, 1) / params.bilateral_sxy,
                               rgb / params.bilateral_srgb], 1)
            lattice = Permutohedral(feats)
            nb = lattice.apply(torch.ones(n, 1, device=device)).add_(1e-20).rsqrt_()        # N×1
            wb = (nb * params.bilateral_compat).t()                                          # 1×N

            def appearance(qq: torch.Tensor) -> torch.Tensor:
                return lattice.apply((qq.t() * nb).contiguous()).t().mul_(wb)

            messages.append(appearance)
        for _ in range(params.iterations):
            energy = neg_unary.clone()
            for message in messages:
                energy += message(q)
            q = torch.softmax(energy, 0)
        return q.reshape(c, h, w).cpu().numpy()


def dense_crf_torch(image_rgb_uint8: np.ndarray, probs: np.ndarray, params: CRFParams | None = None,
                    fixed: np.ndarray | None = None, progress: Progress = None,
                    device: str | torch.device | None = None) -> np.ndarray:
    """Same contract as ``segstudio.core.crf.dense_crf``, computed with torch on ``device``."""
    params = params or CRFParams()
    dev = pick_device(device)
    image, probs = check_inputs(image_rgb_uint8, probs, fixed)
    c, h, w = probs.shape
    tiles = plan_tiles(h, w, params.max_pixels, params.tile_overlap)
    what = f"dense CRF ({dev.type})"
    if len(tiles) == 1:
        if progress is not None:
            progress(0, 1, f"{what}: whole image ({h}×{w} px)")
        out = _refine_whole(image, probs, fixed, params, dev)
        if progress is not None:
            progress(1, 1, f"{what}: done")
    else:
        out = refine_tiled(image, probs, fixed, tiles,
                           lambda im, pr, fx: _refine_whole(im, pr, fx, params, dev), progress, what)
    return force_fixed(out, fixed)


def refine_labels_torch(image: np.ndarray, probs: np.ndarray, params: CRFParams | None = None,
                        fixed: np.ndarray | None = None, progress: Progress = None,
                        device: str | torch.device | None = None) -> np.ndarray:
    out = dense_crf_torch(image, probs, params, fixed, progress, device)
    return out.argmax(axis=0).astype(np.uint16 if out.shape[0] > 256 else np.uint8)
