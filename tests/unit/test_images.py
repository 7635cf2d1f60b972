"""Every image flavour reads back as RGB uint8 with the right size; bad files get named errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from segstudio.core.errors import ImageReadError
from segstudio.core.images import list_images, read_image

H, W = 23, 31


def _rgb():
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([x * 8, y * 10, (x + y) * 4], axis=2).astype(np.uint8)


@pytest.mark.parametrize("ext,fmt", [(".png", "PNG"), (".bmp", "BMP"), (".tif", "TIFF"), (".webp", "WEBP"),
                                     (".jpg", "JPEG")])
def test_rgb_formats(tmp_path, ext, fmt):
    src = _rgb()
    path = tmp_path / f"img{ext}"
    kwargs = {"lossless": True} if fmt == "WEBP" else ({"quality": 95} if fmt == "JPEG" else {})
    Image.fromarray(src).save(path, fmt, **kwargs)
    img = read_image(path)
    assert img.rgb.dtype == np.uint8 and img.rgb.shape == (H, W, 3) and img.size == (H, W)
    tol = 12 if fmt == "JPEG" else 0
    assert np.abs(img.rgb.astype(int) - src).max() <= tol


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "1", "CMYK"])
def test_modes(tmp_path, mode):
    im = Image.fromarray(_rgb()).convert(mode)
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    im.save(path)
    img = read_image(path)
    assert img.rgb.shape == (H, W, 3) and img.rgb.dtype == np.uint8


def test_16bit_grey_and_rgb(tmp_path):
    grey = (np.arange(H * W).reshape(H, W) * 60).astype(np.uint16)
    Image.fromarray(grey).save(tmp_path / "g16.png")
    img = read_image(tmp_path / "g16.png")
    assert img.original_dtype == "uint16"
    assert np.array_equal(img.rgb[..., 0], (grey >> 8).astype(np.uint8))
    rgb16 = (_rgb().astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "c16.tif"), rgb16[..., ::-1])
    img = read_image(tmp_path / "c16.tif")
    assert np.array_equal(img.rgb, _rgb())


def test_12bit_data_in_16bit_files_keeps_its_significant_bits(tmp_path):
    """12-bit camera data (0–4095) in a 16-bit PNG/TIFF becomes 0–255 by >> 4, not 0–15 by >> 8."""
    rng = np.random.default_rng(3)
    grey12 = rng.integers(0, 4096, (H, W)).astype(np.uint16)
    grey12[0, 0] = 4095
    Image.fromarray(grey12).save(tmp_path / "g12.png")
    img = read_image(tmp_path / "g12.png")
    assert np.array_equal(img.rgb[..., 0], (grey12 >> 4).astype(np.uint8)) and img.rgb.max() == 255
    rgb12 = rng.integers(0, 4096, (H, W, 3)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "c12.tif"), rgb12[..., ::-1])
    assert np.array_equal(read_image(tmp_path / "c12.tif").rgb, (rgb12 >> 4).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "c12.png"), rgb12[..., ::-1])       # 16-bit colour PNG: PIL would keep the high byte
    c12 = read_image(tmp_path / "c12.png")
    assert np.array_equal(c12.rgb, (rgb12 >> 4).astype(np.uint8)) and c12.original_dtype == "uint16"
    small = np.full((H, W), 200, np.uint16)            # 8-bit values stored in 16 bits: unchanged
    Image.fromarray(small).save(tmp_path / "s16.png")
    assert (read_image(tmp_path / "s16.png").rgb == 200).all()


def test_exif_orientation_applied(tmp_path):
    im = Image.fromarray(_rgb())
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° CW on display
    im.save(tmp_path / "o.jpg", exif=exif.tobytes(), quality=95)
    img = read_image(tmp_path / "o.jpg")
    assert img.size == (W, H)


def test_non_ascii_path(tmp_path):
    folder = tmp_path / "Straße_画像"
    folder.mkdir()
    Image.fromarray(_rgb()).save(folder / "ñandú.png")
    assert read_image(folder / "ñandú.png").size == (H, W)
    assert [p.name for p in list_images(folder)] == ["ñandú.png"]


def test_truncated_and_garbage_files_named(tmp_path):
    Image.fromarray(_rgb()).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"cut\.jpg: file is truncated"):
        read_image(tmp_path / "cut.jpg")
    (tmp_path / "junk.png").write_bytes(b"hello")
    with pytest.raises(ImageReadError, match="junk.png"):
        read_image(tmp_path / "junk.png")
    with pytest.raises(ImageReadError, match="not found"):
        read_image(tmp_path / "missing.png")


def test_list_images_natural_order(tmp_path):
    for n in ("img10.png", "img2.png", "img1.jpg", "notes.txt", ".hidden.png"):
        (tmp_path / n).write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["img1.jpg", "img2.png", "img10.png"]
