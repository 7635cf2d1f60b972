"""DDP training (models.train.ddp): 2 CPU processes (gloo) with batch B follow the loss trajectory of
one process with batch 2B, write one loadable checkpoint of the usual format, and resume across ranks.

The model is a BatchNorm- and dropout-free FCN-32s (BatchNorm statistics and dropout masks are per
rank), the data has no augmentation and no void pixels, so only float summation orders differ.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.core.labels import preset
from segstudio.core.masks import write_mask
from segstudio.models.checkpoint import load_checkpoint
from segstudio.models.train import ddp

STEPS = 5


def make_pairs(root: Path, n: int = 8) -> list[tuple[Path, Path]]:
    labels = preset("camvid")
    rng = np.random.default_rng(1)
    (root / "img").mkdir(parents=True)
    (root / "mask").mkdir()
    pairs = []
    for i in range(n):
        img, mask = root / "img" / f"p{i}.png", root / "mask" / f"p{i}.png"
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(img)
        write_mask(mask, np.repeat(np.repeat(rng.integers(0, 4, (4, 4)), 8, 0), 8, 1).astype(np.uint8), labels)
        pairs.append((img, mask))
    return pairs


def train_once(args) -> int:
    """One process's training (one DDP rank when launched by ``ddp.spawn``)."""
    from segstudio.models.train.data import SegDataset
    from segstudio.models.train.loop import TrainConfig, train

    labels = preset("camvid")
    data = SegDataset(args.pairs, labels, (0.5,) * 3, (0.25,) * 3, augment=None)
    config = TrainConfig(arch="fcn32s", arch_options={"width_mult": 0.0625, "dropout": 0.0}, epochs=None, steps=args.steps,
                         batch_size=args.batch, lr=0.02, eval_every=1, early_stop=False, device="cpu", threads=1,
                         loss="ce", seed=0, half_checkpoint=False)
    train(config, labels, data, None, args.out, resume=args.resume)
    return 0


def losses(out: Path) -> list[float]:
    log = out.with_suffix(".log.jsonl")
    return [json.loads(line)["loss"] for line in log.read_text().splitlines()]


@pytest.mark.skipif(not __import__("torch").distributed.is_available(), reason="torch built without distributed")
def test_two_gloo_ranks_match_one_process_with_double_batch(tmp_path):
    pairs = make_pairs(tmp_path / "data")
    single = tmp_path / "single" / "m.pt"
    single.parent.mkdir()
    train_once(types.SimpleNamespace(pairs=pairs, steps=STEPS, batch=4, out=single, resume=False))
    two = tmp_path / "ddp" / "m.pt"
    two.parent.mkdir()
    code = ddp.spawn(2, train_once, types.SimpleNamespace(pairs=pairs, steps=STEPS, batch=2, out=two, resume=False))
    assert code == 0
    ref, got = losses(single), losses(two)
    assert len(ref) == len(got) == STEPS                      # one log, written by rank 0 only
    assert ref[0] > ref[-1]                                   # it does learn
    assert np.allclose(got, ref, rtol=2e-4, atol=1e-5), (got, ref)
    a, b = load_checkpoint(single), load_checkpoint(two)      # same self-describing format, no "module." keys
    assert a.arch == b.arch == "fcn32s" and set(a.state_dict) == set(b.state_dict)
    for k in a.state_dict:
        assert np.allclose(a.state_dict[k].numpy(), b.state_dict[k].numpy(), rtol=1e-3, atol=1e-5), k
    assert not list(two.parent.glob("*.tmp")) and not list(two.parent.glob(".*"))

    # --resume across ranks: both ranks continue from OUT.last.pt, the log goes on
    code = ddp.spawn(2, train_once, types.SimpleNamespace(pairs=pairs, steps=STEPS + 2, batch=2, out=two,
                                                          resume=True))
    assert code == 0
    resumed = losses(two)
    assert len(resumed) == STEPS + 2 and resumed[:STEPS] == got
    last = load_checkpoint(two.with_suffix(".last.pt"))
    assert last.meta["step"] == STEPS + 2


def test_rank_slice_partitions_the_single_process_order():
    base = list(range(12))
    ctxs = [ddp.DistContext(r, 3, r, "gloo", __import__("torch").device("cpu")) for r in range(3)]
    shares = [list(ddp.rank_slice(base, c)) for c in ctxs]
    assert shares == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8, 11]]
    assert ddp.rank_slice(base, None) is base and list(ddp.shard(5, ctxs[1])) == [1, 4]
    assert ddp.rank_seed(7, None) == ddp.rank_seed(7, ctxs[0]) == 7 != ddp.rank_seed(7, ctxs[1])
