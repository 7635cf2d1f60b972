"""``yolo-seg``: Ultralytics YOLO segmentation labels, ``class x1 y1 x2 y2 …`` polygons per line.

``--source`` is the data set root (``data.yaml`` with ``names``, ``labels/<split>/*.txt``; a
SegStudio ``yolo-seg`` export) or a folder of ``.txt`` files. Class names come from ``data.yaml``
(``names:`` as a mapping or a list), else from ``--labels``/``labels.json``. Vertices are scaled by
the image's width and height and rounded to pixels; each polygon is filled with ``cv2.fillPoly``
(even-odd, as Ultralytics does) in file order, later ones over earlier ones. Lines with fewer than
3 vertices are left out and counted. Pixels under no polygon are unlabelled.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from segstudio.core.importers.common import (UNLABELLED, Decoded, ImportFailed, ReadContext, Scan, classes_of,
                                             find_files, mask_items, source_label_set)

_ENTRY = re.compile(r"^\s+(\d+)\s*:\s*(.+?)\s*$")


def _unquote(text: str) -> str:
    text = text.split(" #")[0].strip()
    if text[:1] == '"':
        try:
            return str(json.loads(text))
        except json.JSONDecodeError:
            pass
    return text.strip("'\"")


def yaml_names(path: Path) -> list[str] | None:
    """``names`` of a data.yaml: ``names:`` followed by ``  0: name`` lines, or ``names: [a, b]``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("names:"):
            continue
        rest = line[len("names:"):].strip()
        if rest.startswith("["):
            return [_unquote(v) for v in rest.strip("[]").split(",") if v.strip()]
        found: dict[int, str] = {}
        for sub in lines[i + 1:]:
            m = _ENTRY.match(sub)
            if m:
                found[int(m.group(1))] = _unquote(m.group(2))
            elif sub.strip().startswith("- "):
                found[len(found)] = _unquote(sub.strip()[2:])
            elif sub.strip() and not sub.startswith((" ", "\t")):
                break
        return [found[k] for k in sorted(found)] if found else None
    return None


def read(ctx: ReadContext) -> Scan:
    import cv2

    scan = Scan()
    root = ctx.source
    names = yaml_names(root / "data.yaml") if (root / "data.yaml").is_file() else None
    if names is not None and ctx.given_labels is None:
        for n in names:
            scan.class_id(n)
        scan.label_set_source = str(root / "data.yaml")
    else:
        labels, where = source_label_set(ctx, root, ctx.project_labels)
        assert labels is not None
        scan.classes, scan.label_set, scan.label_set_source = classes_of(labels), labels, where
    n_classes = len(scan.classes)
    folder = root / "labels" if (root / "labels").is_dir() else root
    files = find_files(folder, ("*.txt",), recursive=folder != root)

    def decode_one(path: Path, size: tuple[int, int]) -> Decoded:
        h, w = size
        local = np.full(size, UNLABELLED, np.int32)
        out = Decoded(local)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            vals = line.split()
            if not vals:
                continue
            try:
                cid = int(vals[0])
                xy = np.array(vals[1:], float).reshape(-1, 2)
            except ValueError:
                raise ImportFailed(f"{path}:{n}: not a 'class x1 y1 x2 y2 …' line") from None
            if not 0 <= cid < n_classes:
                raise ImportFailed(f"{path}:{n}: class {cid} is not one of the {n_classes} names")
            if len(xy) < 3:
                out.skipped["polygon with fewer than 3 vertices"] = out.skipped.get(
                    "polygon with fewer than 3 vertices", 0) + 1
                continue
            pts = np.rint(xy * [w, h]).astype(np.int32).reshape(-1, 1, 2)
            one = np.zeros(size, np.uint8)
            cv2.fillPoly(one, [pts], 1)
            m = one.astype(bool)
            out.overlap_px += int(np.count_nonzero(m & (local != UNLABELLED) & (local != cid)))
            local[m] = cid
        return out

    mask_items(scan, files, ctx.index, decode_one)
    return scan
