"""Plain PNG masks: ids for training code, colours for looking at.

::

    masks/<stem>.png       grey id PNG (8-bit; 16-bit past 255): class id, void = void value
    color/<stem>.png       RGB view (label set colours, void colour for void)
    splits/<split>.txt     only with --split: stems of each split, one a line
    labels.json            the SegStudio label set

No images are copied: the masks pair with the project's images by stem.
"""

from __future__ import annotations

import numpy as np

from segstudio.core.export.common import Exporter, Item, Output, colour_view, png_ids, png_rgb


class PngExporter(Exporter):
    name = "png"
    description = "plain id PNGs + colour PNGs (no images)"

    def write(self, out: Output, item: Item, mask: np.ndarray) -> None:
        out.bytes(f"masks/{item.stem}.png", png_ids(mask))
        out.bytes(f"color/{item.stem}.png", png_rgb(colour_view(mask, self.ctx.labels)))

    def finish(self, out: Output) -> None:
        if self.ctx.explicit_split:
            for name, items in self.ctx.splits.items():
                out.lines(f"splits/{name}.txt", [it.stem for it in items])
        super().finish(out)
