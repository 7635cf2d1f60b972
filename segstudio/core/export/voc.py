"""PASCAL VOC segmentation layout, readable by CVAT's "Segmentation mask 1.1" importer.

::

    JPEGImages/<stem><ext>                original image files, byte for byte
    SegmentationClass/<stem>.png          indexed PNG: value = class id, void = ignore index,
                                          palette = the label set's colours
    ImageSets/Segmentation/train.txt      stems, one a line (also val.txt, trainval.txt and any
                                          other split given with --split)
    labelmap.txt                          CVAT / Datumaro label map (see below)
    labels.json                           the SegStudio label set

``labelmap.txt`` follows Datumaro's VOC label map (``VocLabelMap.dump_to_file`` in
cvat-ai/datumaro, ``datumaro/plugins/voc_format/format.py``): a ``# label:color_rgb:parts:actions``
header, then one ``name:r,g,b:parts:actions`` line per label, here with parts and actions empty.
The background label (the one coloured 0,0,0, else one named "background") comes first; the
void value is written explicitly under the label set's void name and colour, so that every
colour in the masks is declared. Importers map mask colours to labels by colour, so colours
shared by two labels are reported as a warning.
"""

from __future__ import annotations

import numpy as np

from segstudio.core.export.common import Context, Exporter, Item, Output, png_indexed
from segstudio.core.labels import LabelSet

BLACK = (0, 0, 0)


def labelmap_entries(labels: LabelSet) -> list[tuple[str, tuple[int, int, int]]]:
    """(name, colour) lines of labelmap.txt: background first, classes by id, void explicit."""
    classes = [(c.name, tuple(c.color)) for c in labels.classes]
    taken = {n.lower() for n, _ in classes}
    void_name = labels.void_name or "void"
    while void_name.lower() in taken:
        void_name += "_void"
    void = (void_name, tuple(labels.void_color))
    bg = next((i for i, (_, col) in enumerate(classes) if col == BLACK), None)
    if bg is not None:
        return [classes[bg], *classes[:bg], *classes[bg + 1:], void]
    if void[1] == BLACK:
        return [void, *classes]
    bg = next((i for i, (n, _) in enumerate(classes) if n.lower() == "background"), None)
    if bg is not None:
        return [classes[bg], *classes[:bg], *classes[bg + 1:], void]
    return [*classes, void]


def labelmap_text(labels: LabelSet) -> str:
    lines = ["# label:color_rgb:parts:actions"]
    lines += [f"{name}:{r},{g},{b}::" for name, (r, g, b) in labelmap_entries(labels)]
    return "\n".join(lines) + "\n"


class VocExporter(Exporter):
    name = "voc"
    description = "PASCAL VOC / CVAT 'Segmentation mask 1.1' (indexed PNGs + labelmap.txt)"

    def problems(self, labels: LabelSet) -> list[str]:
        out = []
        if labels.dtype != np.uint8:
            out.append(f"label set {labels.name!r} uses values up to {labels.max_value}; VOC masks are "
                       "indexed PNGs, which hold values 0..255 only")
        for name in [*labels.names, labels.void_name]:
            if any(ch in name for ch in ":\n\r"):
                out.append(f"class name {name!r} contains ':' or a line break, which labelmap.txt cannot hold; "
                           "rename the class")
        return out

    def begin(self, out: Output, ctx: Context) -> None:
        super().begin(out, ctx)
        seen: dict[tuple[int, int, int], str] = {}
        for name, colour in labelmap_entries(ctx.labels):
            if colour in seen:
                self.warnings.append(
                    f"voc: {seen[colour]!r} and {name!r} share colour {colour}; tools that map mask colours "
                    "to labels (CVAT) cannot tell them apart")
            else:
                seen[colour] = name

    def write(self, out: Output, item: Item, mask: np.ndarray) -> None:
        out.copy(f"JPEGImages/{item.image_name}", item.image)
        out.bytes(f"SegmentationClass/{item.stem}.png", png_indexed(mask, self.ctx.labels))

    def finish(self, out: Output) -> None:
        splits = self.ctx.splits
        stems = {name: [it.stem for it in items] for name, items in splits.items()}
        for name in ("train", "val"):
            stems.setdefault(name, [])
        if "trainval" not in stems:
            trainval = sorted([*splits.get("train", []), *splits.get("val", [])], key=lambda it: it.index)
            stems["trainval"] = [it.stem for it in trainval]
        for name, lines in stems.items():
            out.lines(f"ImageSets/Segmentation/{name}.txt", lines)
        out.text("labelmap.txt", labelmap_text(self.ctx.labels))
        super().finish(out)
