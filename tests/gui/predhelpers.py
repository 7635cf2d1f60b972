"""Prediction test helpers: a tiny random-weight checkpoint, a deliberately slow model, waits."""

import time

import numpy as np


def tiny_checkpoint(path, labels=None, seed=0):
    """A random-weight U-Net (width 4, depth 1) saved as a SegStudio checkpoint at ``path``."""
    import torch

    from segstudio.core.labels import preset
    from segstudio.models.checkpoint import Checkpoint, save_checkpoint
    from segstudio.models.registry import build_model

    labels = labels or preset("camvid")
    torch.manual_seed(seed)
    model = build_model("unet", labels.num_classes, width=4, depth=1)
    save_checkpoint(Checkpoint("unet", labels, model.state_dict(), {"width": 4, "depth": 1}), path)
    return path


def slow_module(delay=0.3, classes=11):
    """An nn.Module whose forward sleeps ``delay`` seconds (releasing the GIL, like real inference)."""
    import torch

    class SlowNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, classes, 1)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            time.sleep(delay)
            return self.conv(x)

    return SlowNet()


def load_and_wait(win, qtbot, spec, timeout=20000, prefetch=True):
    ctl = win.prediction
    ctl.prefetch = prefetch
    ctl.set_spec(spec)
    ctl.load(spec)
    qtbot.waitUntil(lambda: ctl.state in ("ready", "failed"), timeout=timeout)
    assert ctl.state == "ready", ctl.error
    return ctl


def run_and_wait(win, qtbot, timeout=20000):
    ctl = win.prediction
    key = win.document.key
    ctl.run_current()
    qtbot.waitUntil(lambda: ctl.current is not None and ctl.current.key == key and not ctl.busy, timeout=timeout)
    return ctl.current


def mask_copy(win):
    return np.array(win.document.mask, copy=True)
