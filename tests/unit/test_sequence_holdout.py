"""scripts/sequence_holdout.py: the leave-one-sequence-out split (links only, by file-name prefix)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("sequence_holdout", ROOT / "scripts" / "sequence_holdout.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_split_holds_out_one_sequence_by_prefix_and_only_links(tmp_path):
    data = tmp_path / "camvid"
    for sub in ("train", "trainannot"):
        (data / sub).mkdir(parents=True)
    for name in ("0001TP_1.png", "0001TP_2.png", "0016E5_1.png", "0006R0_1.png", "0006R0_nomask.png"):
        (data / "train" / name).write_bytes(b"img")
        if "nomask" not in name:
            (data / "trainannot" / name).write_bytes(b"mask")
    work = tmp_path / "work"
    n_train, n_held = _module().build_split(data, work, "0001TP")
    assert (n_train, n_held) == (2, 2)
    assert sorted(p.name for p in (work / "held").iterdir()) == ["0001TP_1.png", "0001TP_2.png"]
    assert sorted(p.name for p in (work / "trainannot").iterdir()) == ["0006R0_1.png", "0016E5_1.png"]
    assert all(p.is_symlink() for sub in ("train", "trainannot", "held", "heldannot") for p in (work / sub).iterdir())
    assert (work / "heldannot" / "0001TP_1.png").read_bytes() == b"mask"
    assert _module().build_split(data, work, "0001TP") == (2, 2)        # re-running reuses the links
    assert sorted(p.name for p in (data / "train").iterdir())[0] == "0001TP_1.png"   # the data is untouched
