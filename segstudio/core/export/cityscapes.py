"""Cityscapes-style layout (train ids), without the per-city folders.

::

    images/<split>/<stem>_leftImg8bit<ext>              original image files, byte for byte
    gtFine/<split>/<stem>_gtFine_labelTrainIds.png      8-bit grey: class id, void -> 255
    gtFine/<split>/<stem>_gtFine_color.png              RGB view (label set colours)
    labels.json                                         the SegStudio label set

The Cityscapes ``leftImg8bit/<split>/<city>/`` nesting is left out (a project has no cities);
the file-name suffixes are kept, so loaders that pair ``_leftImg8bit`` images with
``_gtFine_labelTrainIds.png`` masks by suffix work. Class ids are written as train ids
unchanged, void (the label set's ignore index) as 255, so at most 255 classes fit.
"""

from __future__ import annotations

import numpy as np

from segstudio.core.export.common import Exporter, Item, Output, colour_view, png_ids, png_rgb
from segstudio.core.labels import LabelSet

VOID = 255


def train_id_lut(labels: LabelSet) -> np.ndarray:
    lut = np.full(labels.max_value + 1, VOID, np.uint8)
    lut[: labels.num_classes] = np.arange(labels.num_classes, dtype=np.uint8)
    return lut


class CityscapesExporter(Exporter):
    name = "cityscapes"
    description = "Cityscapes-style gtFine *_labelTrainIds.png (void 255) + *_color.png"

    def problems(self, labels: LabelSet) -> list[str]:
        if labels.num_classes > VOID:
            return [f"label set {labels.name!r} has {labels.num_classes} classes; Cityscapes train-id "
                    f"masks hold ids 0..254 with 255 as void"]
        return []

    def write(self, out: Output, item: Item, mask: np.ndarray) -> None:
        split, stem = item.split, item.stem
        out.copy(f"images/{split}/{stem}_leftImg8bit{item.image.suffix}", item.image)
        ids = train_id_lut(self.ctx.labels)[mask]
        out.bytes(f"gtFine/{split}/{stem}_gtFine_labelTrainIds.png", png_ids(ids))
        out.bytes(f"gtFine/{split}/{stem}_gtFine_color.png", png_rgb(colour_view(mask, self.ctx.labels)))
