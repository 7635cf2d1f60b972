"""Ultralytics YOLO segmentation layout: one polygon per connected component and class.

::

    images/<split>/<stem><ext>     original image files, byte for byte
    labels/<split>/<stem>.txt      ``class x1 y1 x2 y2 ...`` per polygon, coordinates / width
                                   and / height (pixel-centre vertices, 6 decimals); an image
                                   with no polygon gets an empty file
    data.yaml                      train/val(/test) image folders, nc, names
    labels.json                    the SegStudio label set

Polygons come from :mod:`segstudio.core.export.polygons`: holes are bridged into the outer
ring by a zero-width cut; single pixels and 1-pixel-wide straight lines are dropped. The
exporter fills every polygon again and reports, as a warning, how many pixels differ from
the masks, plus the counts of dropped components and bridged holes. Class index = class id
(background included when the label set has it); void pixels are in no polygon.
``data.yaml`` has no ``path:`` line, so Ultralytics takes the folder holding it as the root.
"""

from __future__ import annotations

import json

import numpy as np

from segstudio.core.export.common import Exporter, Item, Output, present_classes
from segstudio.core.export.polygons import PolygonStats, polygons_with_check


def polygon_line(cid: int, poly: np.ndarray, w: int, h: int) -> str:
    xs = poly[:, 0] / w
    ys = poly[:, 1] / h
    coords = " ".join(f"{x:.6f} {y:.6f}" for x, y in zip(xs.tolist(), ys.tolist()))
    return f"{cid} {coords}"


class YoloSegExporter(Exporter):
    name = "yolo-seg"
    description = "Ultralytics YOLO segmentation (normalised polygons + data.yaml)"

    def begin(self, out: Output, ctx) -> None:
        super().begin(out, ctx)
        self.stats = PolygonStats()

    def write(self, out: Output, item: Item, mask: np.ndarray) -> None:
        out.copy(f"images/{item.split}/{item.image_name}", item.image)
        h, w = mask.shape
        lines = []
        for cid in present_classes(mask, self.ctx.labels):
            for poly in polygons_with_check(mask == cid, self.stats):
                lines.append(polygon_line(cid, poly, w, h))
        out.lines(f"labels/{item.split}/{item.stem}.txt", lines)

    def _yaml(self) -> str:
        labels = self.ctx.labels
        names = list(self.ctx.splits)
        train = "train" if "train" in names else names[0]
        val = "val" if "val" in names else train
        lines = [f"# Ultralytics YOLO segmentation data set: SegStudio export of {self.ctx.project_name}.",
                 "# No 'path:' key: Ultralytics then uses the folder holding this file as the root.",
                 f"train: images/{train}"]
        lines.append(f"val: images/{val}" + ("" if val != train else "  # no val split: validates on train"))
        if "test" in names:
            lines.append("test: images/test")
        lines.append(f"nc: {labels.num_classes}")
        lines.append("names:")
        lines += [f"  {c.id}: {json.dumps(c.name, ensure_ascii=False)}" for c in labels.classes]
        return "\n".join(lines) + "\n"

    def finish(self, out: Output) -> None:
        out.text("data.yaml", self._yaml())
        s = self.stats
        if s.dropped or s.holes or s.wrong_px:
            share = 100.0 * s.wrong_px / s.labelled_px if s.labelled_px else 0.0
            self.warnings.append(
                f"yolo-seg: polygons differ from the masks in {s.wrong_px} of {s.labelled_px} labelled pixels "
                f"({share:.2f}%): {s.dropped} component(s) too small or thin for a polygon dropped, "
                f"{s.holes} hole(s) bridged into their outer polygon by a zero-width cut")
        super().finish(out)
