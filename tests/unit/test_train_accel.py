"""Device-dependent training settings: CUDA gets workers/pinned/persistent loaders, CPU stays in-process and float32."""

import numpy as np
import torch

from segstudio.models.train.accel import Precision, loader_options, maybe_compile
from segstudio.models.train.data import SegDataset, seed_worker


def test_loader_options_follow_the_device():
    cpu = loader_options(torch.device("cpu"))
    assert cpu == {"num_workers": 0, "pin_memory": False}
    cuda = loader_options(torch.device("cuda"), workers=3)     # only the device type is looked at
    assert cuda["num_workers"] == 3 and cuda["pin_memory"] and cuda["persistent_workers"]
    assert cuda["worker_init_fn"] is seed_worker and cuda["prefetch_factor"] >= 2


def test_cpu_precision_and_compile_are_plain():
    prec = Precision(torch.device("cpu"))
    assert prec.dtype is None and prec.scaler is None and prec.name == "float32"
    model = torch.nn.Linear(2, 2)
    notes = []
    assert maybe_compile(model, torch.device("cpu"), True, notes.append) is model and notes
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.weight.detach().clone()
    with prec.autocast():
        loss = model(torch.ones(1, 2)).sum()
    prec.backward_step(loss, opt)
    assert not torch.equal(before, model.weight)


def test_workers_get_distinct_augmentation_streams(monkeypatch):
    ds = SegDataset.__new__(SegDataset)
    ds.rng = np.random.default_rng(0)

    class Info:
        dataset = ds
    draws = []
    for seed in (11, 12):
        monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: Info)
        monkeypatch.setattr(torch, "initial_seed", lambda s=seed: s)
        seed_worker(0)
        draws.append(ds.rng.random())
    assert draws[0] != draws[1]
