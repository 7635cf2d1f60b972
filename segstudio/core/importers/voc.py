"""``voc``: PASCAL VOC ``SegmentationClass`` palette PNGs: index = class id, 255 = void (the border).

The source is a VOC root (``VOCdevkit/VOC2012``, or any folder holding ``SegmentationClass/``), or
a folder of such PNGs. Ids name the classes of ``--labels``, else of a ``labels.json`` in or above
the root (a SegStudio VOC export), else of the ``voc`` preset (background, aeroplane, …). Index
255 and the label set's own void value are unlabelled; other values outside the set are errors.
"""

from __future__ import annotations

from pathlib import Path

from segstudio.core.importers.common import (Decoded, ReadContext, Scan, classes_of, find_files,
                                             mask_items, read_values, source_label_set, values_to_local)
from segstudio.core.labels import preset

VOC_VOID = 255


def voc_root(source: Path) -> Path:
    for cand in (source / "VOCdevkit" / "VOC2012", source / "VOC2012", source):
        if (cand / "SegmentationClass").is_dir():
            return cand
    return source


def read(ctx: ReadContext) -> Scan:
    scan = Scan()
    root = voc_root(ctx.source)
    labels, where = source_label_set(ctx, root, preset("voc"))
    assert labels is not None
    scan.classes, scan.label_set, scan.label_set_source = classes_of(labels), labels, where
    folder = root / "SegmentationClass" if (root / "SegmentationClass").is_dir() else root
    voids = tuple(sorted({VOC_VOID, labels.void_value}))

    def decode(path: Path, _size=None) -> Decoded:
        return Decoded(values_to_local(read_values(path), labels.num_classes, voids, str(path),
                                       f"label set {labels.name!r}"))

    mask_items(scan, find_files(folder, ("*.png", "*.PNG")), ctx.index, decode)
    return scan
