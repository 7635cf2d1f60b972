"""PASCAL VOC 2012 segmentation layout, as ``torchvision.datasets.VOCSegmentation`` and VOC training
code read it, and CVAT's "Segmentation mask 1.1" importer (``labelmap.txt``).

::

    VOCdevkit/VOC2012/JPEGImages/<stem>.jpg            JPEG originals byte for byte; other images
                                                       (PNG, TIFF, …) encoded as JPEG, quality 95,
                                                       4:4:4, EXIF orientation applied
    VOCdevkit/VOC2012/SegStudioOriginals/<stem><ext>   the original file of every re-encoded image
    VOCdevkit/VOC2012/SegmentationClass/<stem>.png     indexed PNG: value = class id, void = 255,
                                                       palette = label set colours, 255 = VOC's
                                                       void colour (224, 224, 192)
    VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt stems, one a line (also val.txt, trainval.txt
                                                       and any other split given with --split)
    VOCdevkit/VOC2012/labelmap.txt                     CVAT / Datumaro label map (see below)
    labels.json                                        the SegStudio label set

``labelmap.txt`` follows Datumaro's VOC label map (``VocLabelMap.dump_to_file`` in
cvat-ai/datumaro, ``datumaro/plugins/voc_format/format.py``): a ``# label:color_rgb:parts:actions``
header, then one ``name:r,g,b:parts:actions`` line per label, parts and actions empty. The
background label (the one coloured 0,0,0, else one named "background") comes first; the void is
written last under the label set's void name with VOC's void colour, the colour it has in the
masks. Importers map mask colours to labels, so colours shared by two labels are a warning.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from segstudio.core.export.common import Context, Exporter, Item, Output, png_indexed
from segstudio.core.images import read_image
from segstudio.core.labels import LabelSet

BLACK = (0, 0, 0)
ROOT = "VOCdevkit/VOC2012"
ORIGINALS = "SegStudioOriginals"
VOID = 255
VOID_COLOR = (224, 224, 192)
JPEG_QUALITY = 95


def labelmap_entries(labels: LabelSet) -> list[tuple[str, tuple[int, int, int]]]:
    """(name, colour) lines of labelmap.txt: background first, classes by id, void last."""
    classes = [(c.name, tuple(c.color)) for c in labels.classes]
    taken = {n.lower() for n, _ in classes}
    void_name = labels.void_name or "void"
    while void_name.lower() in taken:
        void_name += "_void"
    void = (void_name, VOID_COLOR)
    bg = next((i for i, (_, col) in enumerate(classes) if col == BLACK), None)
    if bg is None:
        bg = next((i for i, (n, _) in enumerate(classes) if n.lower() == "background"), None)
    if bg is not None:
        return [classes[bg], *classes[:bg], *classes[bg + 1:], void]
    return [*classes, void]


def labelmap_text(labels: LabelSet) -> str:
    lines = ["# label:color_rgb:parts:actions"]
    lines += [f"{name}:{r},{g},{b}::" for name, (r, g, b) in labelmap_entries(labels)]
    return "\n".join(lines) + "\n"


def voc_palette(labels: LabelSet) -> list[int]:
    pal = np.zeros((256, 3), np.uint8)
    for c in labels.classes:
        pal[c.id] = c.color
    pal[VOID] = VOID_COLOR
    return pal.reshape(-1).tolist()


def voc_values(labels: LabelSet) -> np.ndarray:
    """Mask value -> VOC value: class ids kept, the void value -> 255."""
    lut = np.arange(labels.max_value + 1, dtype=np.int64)
    lut[labels.void_value] = VOID
    return lut.clip(0, 255).astype(np.uint8)


def is_jpeg(path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(3) == b"\xff\xd8\xff"


def jpeg_bytes(path) -> bytes:
    """The image as displayed (EXIF orientation applied), as a high-quality JPEG without metadata."""
    buf = io.BytesIO()
    Image.fromarray(read_image(path).rgb).save(buf, format="JPEG", quality=JPEG_QUALITY, subsampling=0,
                                               optimize=False)
    return buf.getvalue()


class VocExporter(Exporter):
    name = "voc"
    description = "PASCAL VOC 2012 (VOCdevkit/VOC2012: JPEGImages, SegmentationClass, labelmap.txt)"

    def problems(self, labels: LabelSet) -> list[str]:
        out = []
        if labels.num_classes > VOID:
            out.append(f"label set {labels.name!r} has {labels.num_classes} classes; VOC masks are indexed PNGs "
                       "holding class ids 0..254 with 255 as void")
        for name in [*labels.names, labels.void_name]:
            if any(ch in name for ch in ":\n\r"):
                out.append(f"class name {name!r} contains ':' or a line break, which labelmap.txt cannot hold; "
                           "rename the class")
        return out

    def begin(self, out: Output, ctx: Context) -> None:
        super().begin(out, ctx)
        self.palette = voc_palette(ctx.labels)
        self.values = voc_values(ctx.labels)
        self.encoded = 0
        seen: dict[tuple[int, int, int], str] = {}
        for name, colour in labelmap_entries(ctx.labels):
            if colour in seen:
                self.warnings.append(
                    f"voc: {seen[colour]!r} and {name!r} share colour {colour}; tools that map mask colours "
                    "to labels (CVAT) cannot tell them apart")
            else:
                seen[colour] = name

    def write(self, out: Output, item: Item, mask: np.ndarray) -> None:
        if is_jpeg(item.image):
            out.copy(f"{ROOT}/JPEGImages/{item.stem}.jpg", item.image)
        else:
            out.bytes(f"{ROOT}/JPEGImages/{item.stem}.jpg", jpeg_bytes(item.image))
            out.copy(f"{ROOT}/{ORIGINALS}/{item.image_name}", item.image)
            self.encoded += 1
        out.bytes(f"{ROOT}/SegmentationClass/{item.stem}.png",
                  png_indexed(self.values[mask], self.ctx.labels, self.palette))

    def finish(self, out: Output) -> None:
        splits = self.ctx.splits
        stems = {name: [it.stem for it in items] for name, items in splits.items()}
        for name in ("train", "val"):
            stems.setdefault(name, [])
        if "trainval" not in stems:
            trainval = sorted([*splits.get("train", []), *splits.get("val", [])], key=lambda it: it.index)
            stems["trainval"] = [it.stem for it in trainval]
        for name, lines in stems.items():
            out.lines(f"{ROOT}/ImageSets/Segmentation/{name}.txt", lines)
        out.text(f"{ROOT}/labelmap.txt", labelmap_text(self.ctx.labels))
        if self.encoded:
            self.warnings.append(f"voc: {self.encoded} image(s) are not JPEG: encoded as JPEG (quality "
                                 f"{JPEG_QUALITY}) in JPEGImages/, originals kept in {ROOT}/{ORIGINALS}/")
        super().finish(out)
