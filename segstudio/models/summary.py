"""Model facts: parameter counts built on the meta device (no memory, no init cost), and CPU latency."""

from __future__ import annotations

from typing import Any

import torch


def parameter_count(arch: str, num_classes: int = 11, **options: Any) -> int:
    from segstudio.models.registry import build_model, count_parameters

    with torch.device("meta"):
        return count_parameters(build_model(arch, num_classes, **options))


def cpu_latency(arch: str, num_classes: int = 11, size: tuple[int, int] = (360, 480), repeat: int = 2,
                **options: Any) -> float:
    """Seconds for one forward of a ``size`` (H, W) image on this CPU: random weights, eval mode,
    channels-last, inference mode, current torch thread count; best of ``repeat`` after a warm-up."""
    import time

    from segstudio.models.registry import build_model

    model = build_model(arch, num_classes, **options).eval().to(memory_format=torch.channels_last)
    x = torch.rand(1, 3, *size).contiguous(memory_format=torch.channels_last)
    best = float("inf")
    with torch.inference_mode():
        model(x)
        for _ in range(repeat):
            t = time.perf_counter()
            model(x)
            best = min(best, time.perf_counter() - t)
    return best
