"""``ids``: plain id PNGs (8/16-bit grey or palette indices), value = class id of the source label set.

The source is a folder of ``<stem>.png`` masks, or a SegStudio ``png`` / ``camvid`` export (its
``masks/`` or ``*annot/`` folders are used). The source label set is ``--labels``, else a
``labels.json`` in or above the folder, else the project's own; its void value is unlabelled.
"""

from __future__ import annotations

from pathlib import Path

from segstudio.core.importers.common import (Decoded, ReadContext, Scan, classes_of, find_files,
                                             mask_items, read_values, source_label_set, values_to_local)


def mask_folders(source: Path) -> list[Path]:
    if (source / "masks").is_dir():
        return [source / "masks"]
    annot = sorted(p for p in source.glob("*annot") if p.is_dir())
    return annot or [source]


def read(ctx: ReadContext) -> Scan:
    scan = Scan()
    labels, where = source_label_set(ctx, ctx.source, ctx.project_labels)
    assert labels is not None
    scan.classes, scan.label_set, scan.label_set_source = classes_of(labels), labels, where
    voids = (labels.void_value,)
    files = [f for folder in mask_folders(ctx.source) for f in find_files(folder, ("*.png", "*.PNG"))]

    def decode(path: Path, _size=None) -> Decoded:
        return Decoded(values_to_local(read_values(path), labels.num_classes, voids, str(path),
                                       f"label set {labels.name!r}"))

    mask_items(scan, files, ctx.index, decode)
    return scan
