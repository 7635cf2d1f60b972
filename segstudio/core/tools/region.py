"""Region relabel: the connected region of one class under a click (of the mask or of a
prediction), optionally snapped to superpixel boundaries.

``region_stamp(labels, x, y)`` is the 4-connected region of ``labels[y, x]``'s value;
with ``superpixels`` (:class:`~segstudio.core.tools.superpixel.Superpixels`) the
region is widened / trimmed to whole superpixels: a superpixel belongs to the result when at
least ``snap`` of its pixels lie in the region.
"""

from __future__ import annotations

import math

import numpy as np

from segstudio.core import paint
from segstudio.core.tools import Stamp
from segstudio.core.tools.superpixel import Superpixels


def region_stamp(labels: np.ndarray, x: float, y: float, connectivity: int = 4,
                 superpixels: Superpixels | None = None, snap: float = 0.5) -> Stamp | None:
    """Pixels of the connected region under image point ``(x, y)`` as ``(bbox, bool patch)``."""
    ix, iy = int(math.floor(x)), int(math.floor(y))
    found = paint.region_at(labels, ix, iy, connectivity)
    if found is None:
        return None
    if superpixels is None:
        return found
    return snap_to_superpixels(found, superpixels, snap)


def snap_to_superpixels(stamp: Stamp, superpixels: Superpixels, snap: float = 0.5) -> Stamp | None:
    """Whole superpixels covered at least ``snap`` (fraction of their area) by ``stamp``."""
    (x0, y0, x1, y1), patch = stamp
    ids, inside = np.unique(superpixels.labels[y0:y1, x0:x1][patch], return_counts=True)
    keep = ids[inside >= snap * superpixels.sizes[ids]]
    return superpixels.stamp(keep)
