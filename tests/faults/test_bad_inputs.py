"""Bad folder entries and bad image files (issue 14, cases 1 and 2): listing never raises nor
blocks, decoding is guarded, unusual but valid images are read, and the good files are still
processed by ``batch``, ``crf``, ``export`` and the GUI loader."""

from __future__ import annotations

import os
import socket
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from segstudio.core.errors import ImageReadError
from segstudio.core.images import read_image, scan_image_names, set_max_pixels

from faulthelpers import error_line, temp_files, tree, write_images


def _specials(folder):
    """Entries that are not readable images, named like images."""
    os.symlink("loop.png", folder / "loop.png")                 # ELOOP
    os.symlink("missing-target.png", folder / "dangling.jpg")
    os.mkfifo(folder / "fifo.png")                              # opening it would block
    (folder / "folder.jpg").mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock.png"))
    return sock


EXPECTED_SKIPS = {"loop.png": "symbolic link loop", "dangling.jpg": "dangling symbolic link",
                  "fifo.png": "FIFO", "folder.jpg": "is a folder", "sock.png": "socket"}


def test_listing_skips_and_reports_special_entries(tmp_path):
    write_images(tmp_path, 2)
    sock = _specials(tmp_path)
    os.symlink("img0.png", tmp_path / "alias.png")          # a link to an image is an image
    try:
        listing = scan_image_names(tmp_path)
    finally:
        sock.close()
    assert listing.names == ["alias.png", "img0.png", "img1.png"]
    got = dict(listing.skipped)
    assert set(got) == set(EXPECTED_SKIPS)
    for name, why in EXPECTED_SKIPS.items():
        assert why in got[name]
    assert all(m.startswith(str(tmp_path / n)) for m, (n, _) in zip(listing.messages(), listing.skipped))


def test_unreadable_entry_skipped(tmp_path, monkeypatch):
    write_images(tmp_path, 2)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: not str(p).endswith("img1.png") and real(p, m))
    listing = scan_image_names(tmp_path)   # (root reads everything: unreadable simulated)
    assert listing.names == ["img0.png"] and listing.skipped == [("img1.png", "cannot read: permission denied; skipped")]


def test_batch_processes_good_images_past_a_symlink_loop_and_a_fifo(cli, tmp_path, tiny_model):
    src = tmp_path / "in"
    write_images(src, 3)
    sock = _specials(src)
    try:
        rc, out, err = cli("batch", src, "--out", tmp_path / "out", "--model", tiny_model, "--labels", "camvid",
                           "--quiet", "--workers", "1")
    finally:
        sock.close()
    assert rc == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0.png", "img1.png", "img2.png"]
    warnings = [ln for ln in err.splitlines() if ln.startswith("segstudio batch: warning:")]
    assert len(warnings) == len(EXPECTED_SKIPS)
    assert f"{src / 'loop.png'}: symbolic link loop; skipped" in err
    assert "3 images: 3 written" in out


def test_batch_zero_byte_and_broken_images_fail_alone(cli, tmp_path, tiny_model):
    src = tmp_path / "in"
    write_images(src, 2)
    (src / "zero.png").write_bytes(b"")
    good = (src / "img0.png").read_bytes()
    (src / "cut.png").write_bytes(good[: len(good) // 2])
    rc, out, err = cli("batch", src, "--out", tmp_path / "out", "--model", tiny_model, "--labels", "camvid",
                       "--quiet", "--workers", "1")
    assert rc == 1
    assert f"FAILED {src / 'zero.png'}: {src / 'zero.png'}: empty file (0 bytes), not an image" in out
    assert f"FAILED {src / 'cut.png'}: {src / 'cut.png'}: file is truncated" in out
    assert "cv::" not in out + err and "Assertion" not in out + err   # no OpenCV assertion text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0.png", "img1.png"]
    assert not temp_files(tmp_path / "out")


def test_crf_zero_byte_image_one_line(cli, tmp_path):
    (tmp_path / "zero.png").write_bytes(b"")
    np.save(tmp_path / "p.npy", np.full((11, 4, 4), 1 / 11, np.float32))
    rc, _, err = cli("crf", "--image", tmp_path / "zero.png", "--probs", tmp_path / "p.npy",
                     "--out", tmp_path / "m.png", "--quiet")
    assert rc == 1
    assert error_line(err, "crf") == f"segstudio crf: error: {tmp_path / 'zero.png'}: empty file (0 bytes), not an image"
    assert not (tmp_path / "m.png").exists()


def test_export_symlink_loop_listed_and_zero_byte_image_refused(cli, tmp_path, project_maker):
    project_maker(tmp_path / "p", 2)
    os.symlink("loop.png", tmp_path / "p" / "loop.png")
    before = tree(tmp_path / "p")
    rc, out, err = cli("export", tmp_path / "p", "--format", "voc", "--out", tmp_path / "voc", "--quiet")
    assert rc == 0, err
    assert f"warning: {tmp_path / 'p' / 'loop.png'}: symbolic link loop; skipped" in err
    assert "exported 2 image(s)" in out
    (tmp_path / "p" / "img1.png").write_bytes(b"")   # now one image of the project is empty
    rc, out, err = cli("export", tmp_path / "p", "--format", "voc", "--out", tmp_path / "voc2", "--quiet")
    assert rc == 1
    assert f"{tmp_path / 'p' / 'img1.png'}: empty file (0 bytes), not an image" in error_line(err, "export") + err
    assert not (tmp_path / "voc2").exists()
    after = tree(tmp_path / "p")
    assert {k: v for k, v in after.items() if k != "img1.png"} == {k: v for k, v in before.items() if k != "img1.png"}


def test_gui_loader_reports_a_zero_byte_image(tmp_path, project_maker):
    pytest.importorskip("PySide6")
    from segstudio.gui.loader import load

    project = project_maker(tmp_path / "p", 1)
    (tmp_path / "p" / "img0.png").write_bytes(b"")
    res = load(1, project, "img0", tmp_path / "p" / "img0.png", [])
    assert res.error == f"{tmp_path / 'p' / 'img0.png'}: empty file (0 bytes), not an image"
    assert res.image is None


# -- decoding ------------------------------------------------------------------------------------------

def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_header_only(path, w: int, h: int) -> None:
    """A PNG whose header claims w×h pixels (a decompression bomb: 1 KB on disk)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 1024))
                     + _chunk(b"IEND", b""))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("w, h", [(25_000, 25_000), (100_000, 100_000)])
def test_bomb_refused_from_the_header(tmp_path, w, h):
    _png_header_only(tmp_path / "bomb.png", w, h)
    with pytest.raises(ImageReadError, match=r"bomb\.png: image too large: its header claims .*refused before decoding"):
        read_image(tmp_path / "bomb.png")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_pixel_limit_is_configurable(tmp_path):
    write_images(tmp_path, 1, size=(40, 50))
    try:
        set_max_pixels(1000)
        with pytest.raises(ImageReadError, match=r"50×40 = 0 MP, above the limit"):
            read_image(tmp_path / "img0.png")
    finally:
        set_max_pixels(None)
    assert read_image(tmp_path / "img0.png").size == (40, 50)


def test_corrupt_chunk_and_garbage_refused(tmp_path):
    write_images(tmp_path, 1)
    data = bytearray((tmp_path / "img0.png").read_bytes())
    i = data.index(b"IDAT")
    data[i + 12] ^= 0xFF
    (tmp_path / "crc.png").write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match=r"crc\.png: file is corrupt"):
        read_image(tmp_path / "crc.png")
    (tmp_path / "junk.jpg").write_bytes(np.random.default_rng(1).bytes(700))
    with pytest.raises(ImageReadError, match=r"junk\.jpg: not an image file"):
        read_image(tmp_path / "junk.jpg")
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(ImageReadError, match=r"pipe\.png: is a FIFO .*not opened"):
        read_image(tmp_path / "pipe.png")


def test_unusual_valid_images_are_read(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb[..., 0] > 127).save(tmp_path / "bits.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
    Image.fromarray(rng.integers(0, 65536, (20, 30)).astype(np.uint16)).save(tmp_path / "grey16.png")
    cv2.imwrite(str(tmp_path / "rgb16.tif"), rng.integers(0, 65536, (20, 30, 3)).astype(np.uint16))
    Image.fromarray(rng.random((20, 30)).astype(np.float32)).save(tmp_path / "float.tif")
    Image.fromarray(rgb).save(tmp_path / "anim.gif", save_all=True, append_images=[Image.fromarray(255 - rgb)])
    Image.fromarray(rgb).save(tmp_path / "pages.tif", save_all=True, append_images=[Image.fromarray(255 - rgb)])
    for name in ("bits.png", "palette.png", "grey16.png", "rgb16.tif", "float.tif", "anim.gif", "pages.tif"):
        img = read_image(tmp_path / name)
        assert img.rgb.shape == (20, 30, 3) and img.rgb.dtype == np.uint8, name
    bits = read_image(tmp_path / "bits.png").rgb
    assert set(np.unique(bits)) <= {0, 255} and (bits[..., 0] == 255).tolist() == (rgb[..., 0] > 127).tolist()
    assert np.array_equal(read_image(tmp_path / "pages.tif").rgb, rgb)   # the first page
    assert int(np.abs(read_image(tmp_path / "anim.gif").rgb.astype(int) - rgb).mean()) < 40  # first frame, quantised


def test_crf_never_opens_a_fifo_as_probabilities(cli, tmp_path):
    write_images(tmp_path, 1)
    os.mkfifo(tmp_path / "p.npy")
    rc, _, err = cli("crf", "--image", tmp_path / "img0.png", "--probs", tmp_path / "p.npy",
                     "--out", tmp_path / "m.png", "--quiet")
    assert rc == 1
    assert error_line(err, "crf") == f"segstudio crf: error: {tmp_path / 'p.npy'}: not a regular file; not opened"
