"""Label sets and mask files: presets, labels.json round trip, palette PNG round trips, RGB decoding."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from segstudio.core import labels as L, masks
from segstudio.core.errors import LabelSetError, MaskError


@pytest.mark.parametrize("name,n,ignore", [("voc", 21, 255), ("camvid", 11, 11), ("cityscapes", 19, 255),
                                           ("ade20k", 150, 255), ("binary", 2, 255)])
def test_presets_shape(name, n, ignore):
    ls = L.preset(name)
    assert ls.num_classes == n and ls.ignore_index == ignore
    assert ls.dtype == np.uint8


def test_voc_palette_bit_shuffle():
    # Known VOC colours: background black, aeroplane (128,0,0), person (192,128,128), void (224,224,192).
    ls = L.preset("voc")
    assert ls.classes[0].color == (0, 0, 0)
    assert ls.classes[1].color == (128, 0, 0)
    assert ls.classes[15].color == (192, 128, 128)
    assert L.voc_color(255) == (224, 224, 192) == ls.void_color


def test_camvid_colours_match_shared_classes_json(camvid_dir):
    data = json.loads((camvid_dir / "classes.json").read_text())
    ls = L.preset("camvid")
    for c in data["classes"]:
        if c["id"] == data["ignore_index"]:
            assert tuple(c["color"]) == ls.void_color
        else:
            assert ls.classes[c["id"]].name == c["name"] and ls.classes[c["id"]].color == tuple(c["color"])
    # classes.json itself loads as a label set
    assert L.LabelSet.load(camvid_dir / "classes.json").names == ls.names


def test_labels_json_round_trip(tmp_path):
    ls = L.preset("cityscapes")
    ls.save(tmp_path / "labels.json")
    back = L.LabelSet.load(tmp_path / "labels.json")
    assert back.classes == ls.classes and back.ignore_index == ls.ignore_index and back.void_color == ls.void_color


def test_bad_label_sets_are_refused(tmp_path):
    p = tmp_path / "labels.json"
    p.write_text("{not json")
    with pytest.raises(LabelSetError, match="labels.json"):
        L.LabelSet.load(p)
    with pytest.raises(LabelSetError, match="collides"):
        L.LabelSet((L.LabelClass(0, "a", (0, 0, 0)), L.LabelClass(1, "b", (1, 1, 1))), ignore_index=1)
    with pytest.raises(LabelSetError, match="duplicate"):
        L.LabelSet.from_dict({"classes": [{"id": 0, "name": "a", "color": [0, 0, 0]},
                                          {"id": 1, "name": "a", "color": [1, 1, 1]}]})
    with pytest.raises(LabelSetError, match="neither a label preset"):
        L.resolve("nope")


@pytest.mark.parametrize("name", L.PRESETS)
def test_palette_png_round_trip_every_preset(tmp_path, name):
    ls = L.preset(name)
    rng = np.random.default_rng(0)
    values = np.array(list(range(ls.num_classes)) + [ls.ignore_index], dtype=ls.dtype)
    mask = rng.choice(values, size=(37, 53)).astype(ls.dtype)
    path = tmp_path / f"{name}.png"
    masks.write_mask(path, mask, ls)
    with Image.open(path) as img:
        assert img.mode == "P"
        pal = np.array(img.getpalette()[:768]).reshape(-1, 3)
    for c in ls.classes:
        assert tuple(pal[c.id]) == c.color
    back = masks.read_mask(path, ls)
    assert back.dtype == ls.dtype and np.array_equal(back, mask)
    # colour view decodes back to the same ids
    rgb_path = tmp_path / f"{name}_rgb.png"
    Image.fromarray(masks.ids_to_rgb(mask, ls)).save(rgb_path)
    colours = [c.color for c in ls.classes]
    if len(set(colours)) == len(colours):
        assert np.array_equal(masks.read_mask(rgb_path, ls), mask)
    else:  # ADE20K's customary palette repeats a colour: decoding must refuse, not guess
        with pytest.raises(MaskError, match="shared by classes"):
            masks.read_mask(rgb_path, ls)


def test_uint16_masks_past_255_classes(tmp_path):
    ls = L.LabelSet(tuple(L.LabelClass(i, f"c{i}", (i % 256, i // 256, 7)) for i in range(300)), 65535)
    assert ls.dtype == np.uint16
    mask = np.random.default_rng(1).integers(0, 300, (20, 30)).astype(np.uint16)
    mask[0, 0] = 65535
    masks.write_mask(tmp_path / "m.png", mask, ls)
    back = masks.read_mask(tmp_path / "m.png", ls)
    assert back.dtype == np.uint16 and np.array_equal(back, mask)


def test_ids_outside_label_set_are_named(tmp_path):
    ls = L.preset("camvid")
    mask = np.zeros((4, 4), np.uint8)
    mask[0, 0] = 42
    with pytest.raises(MaskError, match=r"m\.png: ids 42 are outside label set 'camvid'"):
        masks.write_mask(tmp_path / "m.png", mask, ls)
    Image.fromarray(mask, "L").save(tmp_path / "grey.png")
    with pytest.raises(MaskError, match="grey.png"):
        masks.read_mask(tmp_path / "grey.png", ls)


def test_unknown_rgb_colour_and_non_png_refused(tmp_path):
    ls = L.preset("binary")
    Image.fromarray(np.full((3, 3, 3), 17, np.uint8)).save(tmp_path / "c.png")
    with pytest.raises(MaskError, match=r"colour\(s\) not in label set"):
        masks.read_mask(tmp_path / "c.png", ls)
    with pytest.raises(MaskError, match="PNG only"):
        masks.write_mask(tmp_path / "m.jpg", np.zeros((2, 2), np.uint8), ls)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nxx")
    with pytest.raises(MaskError, match="broken.png"):
        masks.read_mask(tmp_path / "broken.png")
