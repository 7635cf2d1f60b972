"""CUDA-marked tests: every test here needs a CUDA device and is skipped, with the reason, without one."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    import torch

    from segstudio.models.devices import cuda_reason

    usable = torch.cuda.is_available()
    skip = pytest.mark.skip(reason=f"needs a CUDA device: {cuda_reason()}")
    for item in items:
        if "cuda" in item.keywords and not usable:
            item.add_marker(skip)
