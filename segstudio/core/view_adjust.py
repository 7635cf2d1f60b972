"""View-only image adjustments: brightness, contrast, gamma as one 256-entry lookup table.

``adjust_lut(brightness, contrast, gamma)`` maps every 8-bit value ``v`` to
``clip(((v/255) ** (1/gamma) − 0.5) · contrast + 0.5 + brightness) · 255``:
``brightness`` in ``[-1, 1]`` (added), ``contrast`` ≥ 0 (1 = unchanged, around mid-grey),
``gamma`` > 0 (1 = unchanged, > 1 brightens the shadows). ``apply_lut(rgb, lut)`` makes a NEW
array for display; the image data (what models, the CRF and export see) is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ViewAdjust:
    brightness: float = 0.0
    contrast: float = 1.0
    gamma: float = 1.0

    @property
    def identity(self) -> bool:
        return self.brightness == 0.0 and self.contrast == 1.0 and self.gamma == 1.0

    def lut(self) -> np.ndarray:
        return adjust_lut(self.brightness, self.contrast, self.gamma)


def adjust_lut(brightness: float = 0.0, contrast: float = 1.0, gamma: float = 1.0) -> np.ndarray:
    """uint8 table of 256 entries (see module docstring)."""
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    if contrast < 0:
        raise ValueError(f"contrast must be >= 0, got {contrast}")
    v = np.arange(256, dtype=np.float64) / 255.0
    v = v ** (1.0 / gamma)
    v = (v - 0.5) * contrast + 0.5 + brightness
    return np.clip(np.rint(v * 255.0), 0, 255).astype(np.uint8)


def apply_lut(rgb: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """A new ``H×W×C`` uint8 array with ``lut`` applied to every channel (input untouched)."""
    return cv2.LUT(np.ascontiguousarray(rgb), lut)
