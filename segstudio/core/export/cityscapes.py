"""Cityscapes layout, as ``torchvision.datasets.Cityscapes`` and cityscapesScripts read it.

::

    leftImg8bit/<split>/<city>/<stem>_leftImg8bit<ext>     original image files, byte for byte
    gtFine/<split>/<city>/<stem>_gtFine_labelIds.png       8-bit grey label ids (see below)
    gtFine/<split>/<city>/<stem>_gtFine_labelTrainIds.png  8-bit grey: class id, void -> 255
    gtFine/<split>/<city>/<stem>_gtFine_color.png          RGB view (label set colours)
    labels.json                                            the SegStudio label set

``<city>`` is the project folder's name (letters, digits, ``-`` and ``_`` kept; ``project`` if
nothing is left): a project is one "city". Train id = class id; void becomes 255, so at most 255
classes fit. ``labelIds`` (what ``torchvision.datasets.Cityscapes(target_type="semantic")`` loads):
for the Cityscapes label set (its 19 classes by name, in train-id order) the official Cityscapes
label ids (road 7, sidewalk 8, …; void 0 "unlabeled"), for any other label set the train ids
again (such a set has no Cityscapes label ids). A stem that already ends in ``_leftImg8bit`` (an
image taken from Cityscapes) loses that suffix, so image and targets pair up by name.
"""

from __future__ import annotations

import re

import numpy as np

from segstudio.core.export.common import Context, Exporter, Item, Output, colour_view, png_ids, png_rgb
from segstudio.core.labels import CITYSCAPES, LabelSet

VOID = 255
# cityscapesScripts helpers/labels.py: label id of each train id 0..18, and unlabeled (0) for void
TRAIN_TO_LABEL_ID = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33)
LABEL_ID_UNLABELED = 0
NUM_LABEL_IDS = 34   # label ids 0..33 (license plate, -1, never appears in a labelIds PNG)
SUFFIX = "_leftImg8bit"


def label_id_to_train_id() -> np.ndarray:
    """Official label id (0..33) -> train id (255 for the ids Cityscapes does not train on)."""
    lut = np.full(NUM_LABEL_IDS, VOID, np.int32)
    for train, label in enumerate(TRAIN_TO_LABEL_ID):
        lut[label] = train
    return lut


def _norm(name: str) -> str:
    return re.sub(r"[\W_]+", "", name).casefold()


def is_cityscapes_set(labels: LabelSet) -> bool:
    """The label set's classes are Cityscapes' 19 train classes, by name and in train-id order."""
    return [_norm(n) for n in labels.names] == [_norm(n) for n, _ in CITYSCAPES]


def train_id_lut(labels: LabelSet) -> np.ndarray:
    lut = np.full(labels.max_value + 1, VOID, np.uint8)
    lut[: labels.num_classes] = np.arange(labels.num_classes, dtype=np.uint8)
    return lut


def label_id_lut(labels: LabelSet) -> np.ndarray:
    if not is_cityscapes_set(labels):
        return train_id_lut(labels)
    lut = np.full(labels.max_value + 1, LABEL_ID_UNLABELED, np.uint8)
    lut[: labels.num_classes] = TRAIN_TO_LABEL_ID
    return lut


def city_name(project_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "", project_name) or "project"


def cityscapes_stem(stem: str) -> str:
    return stem[: -len(SUFFIX)] if stem.endswith(SUFFIX) and len(stem) > len(SUFFIX) else stem


class CityscapesExporter(Exporter):
    name = "cityscapes"
    description = "Cityscapes leftImg8bit/ + gtFine/ *_labelIds, *_labelTrainIds (void 255), *_color"

    def problems(self, labels: LabelSet) -> list[str]:
        if labels.num_classes > VOID:
            return [f"label set {labels.name!r} has {labels.num_classes} classes; Cityscapes train-id "
                    f"masks hold ids 0..254 with 255 as void"]
        return []

    def begin(self, out: Output, ctx: Context) -> None:
        super().begin(out, ctx)
        self.city = city_name(ctx.project_name)
        self.train_lut = train_id_lut(ctx.labels)
        self.label_lut = label_id_lut(ctx.labels)

    def write(self, out: Output, item: Item, mask: np.ndarray) -> None:
        stem = cityscapes_stem(item.stem)
        gt = f"gtFine/{item.split}/{self.city}/{stem}_gtFine"
        out.copy(f"leftImg8bit/{item.split}/{self.city}/{stem}{SUFFIX}{item.image.suffix}", item.image)
        out.bytes(f"{gt}_labelIds.png", png_ids(self.label_lut[mask]))
        out.bytes(f"{gt}_labelTrainIds.png", png_ids(self.train_lut[mask]))
        out.bytes(f"{gt}_color.png", png_rgb(colour_view(mask, self.ctx.labels)))
