"""``labelme``: labelme JSON files, rasterised as labelme's own ``shapes_to_label`` does.

``--source`` is one ``.json`` file or a folder of them (not recursive), beside the images or
apart from them. Each file's image is found by its ``imagePath`` (folder part ignored), else by the
JSON file's stem; its size is ``imageHeight`` × ``imageWidth`` (checked against the image), else the
image's. Shapes are drawn in file order with PIL, as labelme 5 draws them (later shapes over
earlier ones): ``polygon`` (``ImageDraw.polygon``, outline and fill), ``rectangle``, ``circle``
(centre and a point on the rim), and ``mask`` (a base64 PNG of the shape's box, placed at
``points[0]``). ``line``, ``linestrip`` and ``point`` shapes cover no area: they are left out and
counted, as are shapes with too few points. Pixels under no shape are unlabelled; a shape labelled
``_background_`` is the background (the project class of that name, else unlabelled).
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from segstudio.core.importers.common import UNLABELLED, Decoded, ImportFailed, ReadContext, Scan, SourceItem, find_files
from segstudio.core.jsonfile import read_json

NO_AREA = {"line", "linestrip", "point", "points"}


def _load(path: Path) -> dict:
    data = read_json(path, "labelme file", ImportFailed)
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise ImportFailed(f"{path}: not a labelme file (no 'shapes' list)")
    return data


def shape_mask(shape: dict, size: tuple[int, int], origin: str) -> np.ndarray | str:
    """Bool ``H×W`` mask of one shape, or the reason it has none."""
    h, w = size
    kind = shape.get("shape_type") or "polygon"
    try:
        pts = [(float(x), float(y)) for x, y in shape.get("points") or []]
    except (TypeError, ValueError):
        return "shape with malformed points"
    if kind in NO_AREA:
        return f"{kind} shape (no area)"
    if kind == "mask":
        data = shape.get("mask")
        if not isinstance(data, str) or len(pts) < 1:
            return "mask shape without a mask"
        try:
            with Image.open(io.BytesIO(base64.b64decode(data))) as im:
                part = np.array(im.convert("L") if im.mode not in ("1", "L") else im).astype(bool)
        except (OSError, ValueError) as exc:
            raise ImportFailed(f"{origin}: mask shape {shape.get('label')!r}: unreadable base64 PNG ({exc})") from None
        out = np.zeros((h, w), bool)
        x1, y1 = (int(v) for v in np.asarray(pts[0]).astype(int))
        ys, xs = slice(max(0, y1), min(h, y1 + part.shape[0])), slice(max(0, x1), min(w, x1 + part.shape[1]))
        out[ys, xs] = part[ys.start - y1: ys.stop - y1, xs.start - x1: xs.stop - x1]
        return out
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    if kind == "circle":
        if len(pts) != 2:
            return "circle shape without 2 points"
        (cx, cy), (px, py) = pts
        d = math.hypot(cx - px, cy - py)
        draw.ellipse([cx - d, cy - d, cx + d, cy + d], outline=1, fill=1)
    elif kind == "rectangle":
        if len(pts) != 2:
            return "rectangle shape without 2 points"
        (x0, y0), (x1, y1) = pts
        draw.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], outline=1, fill=1)
    elif kind == "polygon":
        if len(pts) < 3:
            return "polygon shape with fewer than 3 points"
        draw.polygon(pts, outline=1, fill=1)
    else:
        return f"{kind} shape (unknown type)"
    return np.array(canvas, dtype=bool)


def read(ctx: ReadContext) -> Scan:
    scan = Scan()
    src = ctx.source
    files = [src] if src.is_file() else find_files(src, ("*.json",))
    if not files:
        scan.problems.append(f"{src}: no labelme .json files")
    first: dict[str, str] = {}
    for f in files:
        try:
            data = _load(f)
        except ImportFailed as exc:
            scan.problems.append(str(exc))
            continue
        ref = str(data.get("imagePath") or "")
        key = (ctx.index.lookup(ref) if ref else None) or ctx.index.lookup(f.stem)  # type: ignore[attr-defined]
        if key is None:
            scan.unmatched.append(f"{f} (imagePath {ref!r})")
            continue
        if key in first:
            scan.problems.append(f"{f}: a second labelme file for image {key!r} ({first[key]})")
            continue
        first[key] = str(f)
        for shape in data["shapes"]:
            if isinstance(shape, dict):
                scan.class_id(str(shape.get("label", "")), background=str(shape.get("label")) == "_background_")
        size = None
        if data.get("imageHeight") and data.get("imageWidth"):
            size = (int(data["imageHeight"]), int(data["imageWidth"]))
        scan.items.append(SourceItem(key, str(f), size, lambda image_size, f=f, size=size: _decode(f, size or image_size, scan)))
    return scan


def _decode(path: Path, size: tuple[int, int], scan: Scan) -> Decoded:
    data = _load(path)
    local = np.full(size, UNLABELLED, np.int32)
    covered = np.zeros(size, bool)
    out = Decoded(local)
    for shape in data["shapes"]:
        if not isinstance(shape, dict):
            out.skipped["malformed shape"] = out.skipped.get("malformed shape", 0) + 1
            continue
        m = shape_mask(shape, size, str(path))
        if isinstance(m, str):
            out.skipped[m] = out.skipped.get(m, 0) + 1
            continue
        cid = scan.class_id(str(shape.get("label", "")))
        out.overlap_px += int(np.count_nonzero(m & covered & (local != cid)))
        covered |= m
        local[m] = cid
    return out
