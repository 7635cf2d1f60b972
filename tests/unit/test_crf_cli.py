"""``segstudio crf`` verb and ``scripts/tune_crf.py`` on tiny inputs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.cli import main
from segstudio.core.crf import CRFParams, dense_crf
from segstudio.core.labels import preset
from segstudio.core.masks import read_mask, write_mask
from test_crf import noisy_scene

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def one_torch_thread():
    """Tiny tensors: one thread avoids oversubscription slowdowns when the machine is busy."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def scene(tmp_path):
    image, probs, truth = noisy_scene(40, 48, 11, seed=3)
    Image.fromarray(image).save(tmp_path / "img.png")
    np.save(tmp_path / "probs.npy", probs)
    return tmp_path, image, probs, truth


def test_crf_verb_writes_indexed_mask(scene, capsys):
    tmp, image, probs, _ = scene
    out = tmp / "out" / "mask.png"
    rc = main(["crf", "--image", str(tmp / "img.png"), "--probs", str(tmp / "probs.npy"), "--out", str(out),
               "--labels", "camvid", "--iterations", "4", "--bilateral-srgb", "9"])
    assert rc == 0
    with Image.open(out) as im:
        assert im.mode == "P"
    mask = read_mask(out, preset("camvid"))
    expected = dense_crf(image, probs, CRFParams.from_dict({**CRFParams.shipped().to_dict(), "iterations": 4, "bilateral_srgb": 9})).argmax(0)
    assert np.array_equal(mask, expected)


def test_crf_verb_params_file_fixed_mask_and_torch_engine(scene, one_torch_thread):
    tmp, image, probs, _ = scene
    labels = preset("camvid")
    (tmp / "p.json").write_text(json.dumps({"bilateral_sxy": 30, "iterations": 3}))
    fixed = np.full(probs.shape[1:], labels.ignore_index, np.uint8)
    fixed[5:9, 5:30] = 7
    write_mask(tmp / "fixed.png", fixed, labels)
    args = ["crf", "--image", str(tmp / "img.png"), "--probs", str(tmp / "probs.npy"), "--labels", "camvid",
            "--params", str(tmp / "p.json"), "--fixed", str(tmp / "fixed.png"), "--iterations", "2", "--quiet"]
    assert main(args + ["--out", str(tmp / "a.png")]) == 0
    a = read_mask(tmp / "a.png", labels)
    assert np.all(a[5:9, 5:30] == 7)
    fx = np.where(fixed == labels.ignore_index, -1, fixed).astype(np.int32)
    expected = dense_crf(image, probs, CRFParams.from_dict({**CRFParams.shipped().to_dict(), "bilateral_sxy": 30, "iterations": 2}), fixed=fx).argmax(0)
    assert np.array_equal(a, expected)
    pytest.importorskip("torch")
    assert main(args + ["--out", str(tmp / "b.png"), "--engine", "torch", "--device", "cpu"]) == 0
    b = read_mask(tmp / "b.png", labels)
    assert np.all(b[5:9, 5:30] == 7) and (a == b).mean() > 0.95


@pytest.mark.parametrize("extra,message", [
    (["--bilateral-srgb", "0"], "bilateral_srgb must be > 0"),
    (["--labels", "voc"], "11 classes but label set 'voc' has 21"),
    (["--params", "missing.json"], "missing.json: parameter file not found"),
])
def test_crf_verb_errors_are_one_line(scene, capsys, extra, message):
    tmp, *_ = scene
    rc = main(["crf", "--image", str(tmp / "img.png"), "--probs", str(tmp / "probs.npy"),
               "--out", str(tmp / "m.png"), *extra])
    err = capsys.readouterr().err
    assert rc == 1 and message in err and err.count("\n") == 1


def test_crf_verb_rejects_mismatched_probs(scene, capsys):
    tmp, _, probs, _ = scene
    np.save(tmp / "small.npy", probs[:, :20])
    rc = main(["crf", "--image", str(tmp / "img.png"), "--probs", str(tmp / "small.npy"), "--out", str(tmp / "m.png")])
    assert rc == 1 and "probabilities are 20×48" in capsys.readouterr().err


def _load_tune():
    spec = importlib.util.spec_from_file_location("tune_crf", REPO / "scripts" / "tune_crf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tune_script_on_tiny_random_model(tmp_path, capsys, one_torch_thread):
    torch = pytest.importorskip("torch")
    from segstudio.models.checkpoint import Checkpoint, save_checkpoint
    from segstudio.models.registry import build_model

    labels = preset("camvid")
    torch.manual_seed(0)
    model = build_model("unet", labels.num_classes, width=4, depth=2)
    save_checkpoint(Checkpoint(arch="unet", labels=labels, state_dict=model.state_dict(),
                               arch_options={"width": 4, "depth": 2}), tmp_path / "m.pt")
    (tmp_path / "img").mkdir()
    (tmp_path / "gt").mkdir()
    for i in range(2):
        image, _, truth = noisy_scene(32, 40, labels.num_classes, seed=i)
        Image.fromarray(image).save(tmp_path / "img" / f"f{i}.png")
        write_mask(tmp_path / "gt" / f"f{i}.png", truth.astype(np.uint8), labels)
    Image.fromarray(image).save(tmp_path / "img" / "no_gt.png")  # unpaired: skipped
    tune = _load_tune()
    rc = tune.main(["--model", str(tmp_path / "m.pt"), "--images", str(tmp_path / "img"), "--gt",
                    str(tmp_path / "gt"), "--sxy", "20,80", "--srgb", "13", "--compat", "10", "--iterations", "1",
                    "--json", str(tmp_path / "best.json")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "2 image(s), 11 classes" in out and "no CRF" in out
    assert out.count("mIoU") == 1 + 2 + 1  # baseline, 2 grid points, best
    best = json.loads(out[out.index("{"):])
    assert CRFParams.from_dict(best).bilateral_sxy in (20.0, 80.0)
    assert json.loads((tmp_path / "best.json").read_text()) == best
    # the printed grid mIoU equals a direct evaluation with those parameters
    line = next(ln for ln in out.splitlines() if ln.startswith("sxy   20.0"))
    printed = float(line.split("mIoU")[1].split()[0])
    from segstudio.core.metrics import ConfusionMatrix

    _, items = tune.compute_probs(tmp_path / "m.pt", tune.pair_files(tmp_path / "img", tmp_path / "gt", None), "cpu")
    cm = ConfusionMatrix(labels.num_classes, labels.ignore_index)
    for rgb, p16, gt in items:
        q = dense_crf(rgb, p16.astype(np.float32), CRFParams(bilateral_sxy=20, iterations=1))
        cm.update(q.argmax(0).astype(np.uint8), gt)
    assert abs(cm.scores().miou * 100 - printed) < 0.006
