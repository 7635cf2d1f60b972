"""Cheap model facts: parameter counts built on the meta device (no memory, no init cost)."""

from __future__ import annotations

from typing import Any

import torch


def parameter_count(arch: str, num_classes: int = 11, **options: Any) -> int:
    from segstudio.models.registry import build_model, count_parameters

    with torch.device("meta"):
        return count_parameters(build_model(arch, num_classes, **options))
