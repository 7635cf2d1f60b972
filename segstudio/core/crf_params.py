"""Dense-CRF parameters: one frozen dataclass shared by the CLI, the GUI, batch runs and tuning.

Defaults are the DeepLab settings for a fully-connected CRF with a smoothness (Gaussian)
kernel and an appearance (bilateral) kernel, plus SegStudio's own knobs: the confidence
given to user-painted ("fixed") pixels and the tile budget for large images.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from segstudio.core.errors import SegStudioError


class CRFError(SegStudioError):
    """Bad CRF input or parameters (shape mismatch, out-of-range value, unknown key …)."""


@dataclass(frozen=True)
class CRFParams:
    """Mean-field dense CRF settings.

    iterations        mean-field steps (0: the clipped input probabilities, nothing else)
    gaussian_sxy      smoothness kernel: spatial std in pixels
    gaussian_compat   smoothness kernel: Potts weight (0 disables the kernel)
    bilateral_sxy     appearance kernel: spatial std in pixels
    bilateral_srgb    appearance kernel: colour std in 0..255 RGB units
    bilateral_compat  appearance kernel: Potts weight (0 disables the kernel)
    fixed_confidence  probability given to a user-painted pixel's class in its unary
    max_pixels        images larger than this are refined tile by tile (see core.crf_tiling);
                      pydensecrf's working memory is roughly (16·C + 300) bytes per tile pixel
                      (measured: +0.67 GB peak for 2048×2048, 12 classes, 1 MP tiles, vs +1.8 GB whole)
    tile_overlap      pixels shared by neighbouring tiles; their probabilities are blended there
    """

    iterations: int = 5
    gaussian_sxy: float = 3.0
    gaussian_compat: float = 3.0
    bilateral_sxy: float = 80.0
    bilateral_srgb: float = 13.0
    bilateral_compat: float = 10.0
    fixed_confidence: float = 0.99
    max_pixels: int = 1_000_000
    tile_overlap: int = 64

    def __post_init__(self) -> None:
        ints = ("iterations", "max_pixels", "tile_overlap")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise CRFError(f"CRF parameter {f.name} must be a number, got {value!r}")
            if f.name in ints:
                if float(value) != int(value):
                    raise CRFError(f"CRF parameter {f.name} must be a whole number, got {value!r}")
                object.__setattr__(self, f.name, int(value))
            else:
                if not math.isfinite(value):
                    raise CRFError(f"CRF parameter {f.name} must be finite, got {value!r}")
                object.__setattr__(self, f.name, float(value))
        checks = (
            ("iterations", self.iterations >= 0, ">= 0"),
            ("gaussian_sxy", self.gaussian_sxy > 0, "> 0"),
            ("gaussian_compat", self.gaussian_compat >= 0, ">= 0"),
            ("bilateral_sxy", self.bilateral_sxy > 0, "> 0"),
            ("bilateral_srgb", self.bilateral_srgb > 0, "> 0"),
            ("bilateral_compat", self.bilateral_compat >= 0, ">= 0"),
            ("fixed_confidence", 0 < self.fixed_confidence < 1, "strictly between 0 and 1"),
            ("tile_overlap", self.tile_overlap >= 0, ">= 0"),
            ("max_pixels", self.max_pixels >= max(1024, (2 * self.tile_overlap + 2) ** 2),
             f">= max(1024, (2 * tile_overlap + 2)^2) = {max(1024, (2 * self.tile_overlap + 2) ** 2)}"),
        )
        for name, ok, what in checks:
            if not ok:
                raise CRFError(f"CRF parameter {name} must be {what}, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "CRF parameters") -> "CRFParams":
        """Build from a (possibly partial) mapping; missing keys keep their defaults."""
        if not isinstance(data, Mapping):
            raise CRFError(f"{source}: expected a JSON object of CRF parameters, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CRFError(f"{source}: unknown CRF parameter(s) {', '.join(map(str, unknown))}; "
                           f"known: {', '.join(sorted(known))}")
        try:
            return cls(**dict(data))
        except CRFError as exc:
            raise CRFError(f"{source}: {exc}") from None

    @classmethod
    def shipped(cls) -> "CRFParams":
        """The tuned defaults shipped with the default model (``resources/models/crf_params.json``,
        written by ``scripts/tune_crf.py``) when present, else the DeepLab defaults."""
        path = shipped_params_path()
        if not path.exists():
            return cls()
        import json

        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CRFError(f"{path}: unreadable CRF parameters ({exc})") from None
        return cls.from_dict(data.get("params", data), str(path))


def shipped_params_path():
    """Where the tuned defaults live: ``resources/models/crf_params.json``."""
    from segstudio.paths import resources_dir

    return resources_dir() / "models" / "crf_params.json"
