"""Training augmentation's colour ops: jitter and the per-channel colour cast (grey stays grey)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segstudio.core import labels as L, masks
from segstudio.models.train.data import AugmentConfig, SegDataset, pair_files


def _dataset(tmp_path, grey: bool, augment: AugmentConfig) -> SegDataset:
    ls = L.preset("camvid")
    img_dir, mask_dir = tmp_path / "img", tmp_path / "mask"
    img_dir.mkdir()
    mask_dir.mkdir()
    rng = np.random.default_rng(0)
    base = rng.integers(60, 190, (24, 32), dtype=np.uint8)
    if grey:
        Image.fromarray(base, "L").save(img_dir / "a.png")
    else:
        Image.fromarray(np.stack([base, base // 2 + 40, 255 - base], -1)).save(img_dir / "a.png")
    masks.write_mask(mask_dir / "a.png", np.zeros((24, 32), np.uint8), ls)
    return SegDataset(pair_files(img_dir, mask_dir), ls, (0.0,) * 3, (1 / 255,) * 3, augment, seed=3)


def _pixels(ds: SegDataset) -> np.ndarray:
    x, _ = ds[0]                       # mean 0, std 1/255: the tensor holds the augmented 0..255 values
    return x.numpy().transpose(1, 2, 0)


def _plain(**kw) -> AugmentConfig:
    return AugmentConfig(crop=None, scale=(1.0, 1.0), hflip=False, **kw)


def test_no_colour_ops_leave_the_image_unchanged(tmp_path):
    ds = _dataset(tmp_path, False, _plain(jitter=0.0, colour_cast=0.0))
    np.testing.assert_allclose(_pixels(ds), ds.items[0][0].astype(np.float32), atol=1e-3)


def test_colour_cast_scales_each_channel_by_its_own_gain(tmp_path):
    ds = _dataset(tmp_path, False, _plain(jitter=0.0, colour_cast=0.3))
    src = ds.items[0][0].astype(np.float32)
    seen = []
    for _ in range(5):
        out = _pixels(ds)
        inside = (src > 5) & (src < 190)             # not clipped at 0 or 255 for gains within ±0.3
        gains = [float(np.median(out[..., c][inside[..., c]] / src[..., c][inside[..., c]])) for c in range(3)]
        assert all(0.7 - 1e-3 <= g <= 1.3 + 1e-3 for g in gains)
        for c in range(3):                            # one gain per channel: the ratio is constant
            np.testing.assert_allclose(out[..., c][inside[..., c]], gains[c] * src[..., c][inside[..., c]], rtol=1e-4)
        seen.append(gains)
    assert np.ptp(np.asarray(seen), axis=0).min() > 0.01          # the gains are drawn anew each time
    assert max(abs(g[0] - g[1]) for g in seen) > 0.01              # and differ between channels


def test_colour_cast_never_tints_a_grey_image(tmp_path):
    ds = _dataset(tmp_path, True, _plain(jitter=0.4, colour_cast=0.3))
    assert ds.grey == [True]
    for _ in range(5):
        out = _pixels(ds)
        np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-3)
        np.testing.assert_allclose(out[..., 1], out[..., 2], atol=1e-3)


@pytest.mark.parametrize("flag, value", [("--jitter", "1.5"), ("--colour-cast", "-0.1"), ("--colour-cast", "x")])
def test_train_cli_refuses_an_amplitude_outside_0_to_1(flag, value, capsys):
    from segstudio.cli import main
    with pytest.raises(SystemExit) as exc:
        main(["train", "--images", "i", "--masks", "m", "--out", "o.pt", flag, value])
    assert exc.value.code == 2
    assert flag in capsys.readouterr().err
