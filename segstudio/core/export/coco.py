"""COCO stuff-segmentation layout: image copies plus one ``annotations.json`` with RLE masks.

::

    images/<stem><ext>            original image files, byte for byte
    annotations.json              every exported image
    annotations_<split>.json      only with --split: the images of that split (same ids)
    labels.json                   the SegStudio label set

As in COCO-Stuff (cocodataset.org "Data format", section 3 "Stuff Segmentation"): one
annotation per (image, class present), its ``segmentation`` a compressed RLE of all that
class's pixels, ``iscrowd`` 0, ``area`` the pixel count and ``bbox`` the tight
``[x, y, width, height]`` box (both as ``pycocotools.mask.area`` / ``toBbox`` give them).
Category ids are ``class id + 1`` (COCO keeps 0 for "unlabelled"); void pixels are in no
annotation. The ``segstudio`` key maps category ids back to class ids and names the void.
"""

from __future__ import annotations

import numpy as np

from segstudio import __version__
from segstudio.core.export import rle
from segstudio.core.export.common import Context, Exporter, Item, Output, present_classes


class CocoExporter(Exporter):
    name = "coco"
    description = "COCO stuff segmentation (one RLE annotation per image and class)"

    def begin(self, out: Output, ctx: Context) -> None:
        super().begin(out, ctx)
        self.images: list[dict] = []
        self.annotations: list[dict] = []
        self.split_of: dict[int, str] = {}

    def write(self, out: Output, item: Item, mask: np.ndarray) -> None:
        out.copy(f"images/{item.image_name}", item.image)
        image_id = len(self.images) + 1
        h, w = mask.shape
        self.images.append({"id": image_id, "width": int(w), "height": int(h),
                            "file_name": item.image_name, "segstudio_key": item.key})
        self.split_of[image_id] = item.split
        for cid in present_classes(mask, self.ctx.labels):
            binary = mask == cid
            self.annotations.append({
                "id": len(self.annotations) + 1,
                "image_id": image_id,
                "category_id": cid + 1,
                "segmentation": rle.encode(binary),
                "area": float(np.count_nonzero(binary)),
                "bbox": rle.bbox(binary),
                "iscrowd": 0,
            })

    def _document(self, image_ids: set[int] | None) -> dict:
        labels = self.ctx.labels
        images = [im for im in self.images if image_ids is None or im["id"] in image_ids]
        anns = [a for a in self.annotations if image_ids is None or a["image_id"] in image_ids]
        return {
            "info": {"description": f"SegStudio export of {self.ctx.project_name}",
                     "version": "1.0", "contributor": f"SegStudio {__version__}"},
            "licenses": [],
            "images": images,
            "annotations": anns,
            "categories": [{"id": c.id + 1, "name": c.name, "supercategory": labels.name}
                           for c in labels.classes],
            "segstudio": {
                "category_to_class": {str(c.id + 1): c.id for c in labels.classes},
                "ignore_index": labels.ignore_index,
                "void_value": labels.void_value,
                "void_name": labels.void_name,
                "label_set": labels.name,
            },
        }

    def finish(self, out: Output) -> None:
        out.json("annotations.json", self._document(None), compact=True)
        if self.ctx.explicit_split:
            for name in self.ctx.splits:
                ids = {i for i, s in self.split_of.items() if s == name}
                out.json(f"annotations_{name}.json", self._document(ids), compact=True)
        super().finish(out)
