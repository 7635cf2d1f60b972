"""``rgb``: colour masks, each colour a class of the source label set's palette.

The source is a folder of colour PNGs (or a SegStudio ``png`` export: its ``color/`` folder). The
palette is that of ``--labels``, else of a ``labels.json`` in or above the folder, else the
project's label set; the void colour is unlabelled. A colour the palette lacks is an error that
names the colour, its pixel count and the file; two classes sharing a colour are an error too.
"""

from __future__ import annotations

from pathlib import Path

from segstudio.core.importers.common import (UNLABELLED, Decoded, ReadContext, Scan, classes_of, colours_to_local,
                                             find_files, mask_items, read_rgb,
                                             source_label_set)


def read(ctx: ReadContext) -> Scan:
    scan = Scan()
    labels, where = source_label_set(ctx, ctx.source, ctx.project_labels)
    assert labels is not None
    scan.classes, scan.label_set, scan.label_set_source = classes_of(labels), labels, where
    table: dict = {}
    for c in labels.classes:
        if tuple(c.color) in table:
            scan.problems.append(f"label set {labels.name!r} ({where}): classes "
                                 f"{labels.classes[table[tuple(c.color)]].name!r} and {c.name!r} share colour "
                                 f"{tuple(c.color)}; colour masks cannot tell them apart")
        table.setdefault(tuple(c.color), c.id)
    table.setdefault(tuple(labels.void_color), UNLABELLED)
    folder = ctx.source / "color" if (ctx.source / "color").is_dir() else ctx.source
    what = f"the palette of label set {labels.name!r} ({where})"

    def decode(path: Path, _size=None) -> Decoded:
        return Decoded(colours_to_local(read_rgb(path), table, str(path), what))

    if not scan.problems:
        mask_items(scan, find_files(folder, ("*.png", "*.PNG", "*.bmp", "*.tif", "*.tiff")), ctx.index, decode)
    return scan

