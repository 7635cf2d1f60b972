"""``coco``: COCO instance or stuff annotations (polygons, RLE, crowd RLE), decoded with pycocotools.

``--source`` is the annotation JSON file, or a folder holding ``annotations.json`` (a SegStudio
export) or exactly one ``*.json`` (also looked for in ``annotations/``). Images match by
``segstudio_key`` (SegStudio exports), else ``file_name`` (folder part ignored); the declared
``height`` × ``width`` must be the image's. Category names are the class names.

Overlaps (a semantic mask holds one class a pixel) are settled by one rule: crowd regions
(``iscrowd`` 1) are painted first, then the other annotations from the largest area to the
smallest (ties in file order), each over what is below, so a small object lying on a large one
(a person on a road) stays visible. The pixels where annotations of different classes overlap are
counted in the summary. Annotations without a segmentation, or of an unknown category, are left
out and counted.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from segstudio.core.importers.common import UNLABELLED, Decoded, ImportFailed, ReadContext, Scan, SourceItem


def annotation_file(source: Path) -> Path:
    if source.is_file():
        return source
    if (source / "annotations.json").is_file():
        return source / "annotations.json"
    cands = sorted(source.glob("*.json")) + sorted((source / "annotations").glob("*.json"))
    cands = [c for c in cands if c.name not in ("labels.json", "segstudio-export.json")]
    if len(cands) == 1:
        return cands[0]
    if not cands:
        raise ImportFailed(f"{source}: no COCO annotation .json file found")
    raise ImportFailed(f"{source}: {len(cands)} .json files ({', '.join(c.name for c in cands[:5])}); "
                       "pass the annotation file itself as --source")


def _mask_api():
    try:
        from pycocotools import mask as mask_api
    except ImportError:
        raise ImportFailed("COCO import needs pycocotools (pip install pycocotools)") from None
    return mask_api


def decode_segmentation(seg, h: int, w: int, mask_api) -> np.ndarray:
    """Bool ``H×W`` mask of one COCO segmentation (polygon list, uncompressed or compressed RLE)."""
    if isinstance(seg, list):
        polys = [p for p in seg if isinstance(p, list) and len(p) >= 6]
        if not polys:
            return np.zeros((h, w), bool)
        rle = mask_api.merge(mask_api.frPyObjects(polys, h, w))
    elif isinstance(seg, dict) and isinstance(seg.get("counts"), list):
        rle = mask_api.frPyObjects(seg, h, w)
    elif isinstance(seg, dict):
        counts = seg["counts"]
        rle = {"size": seg["size"], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    else:
        raise ValueError("segmentation is neither polygons nor RLE")
    m = mask_api.decode(rle)
    if m.shape != (h, w):
        raise ValueError(f"RLE size {m.shape[1]}×{m.shape[0]} is not the image's {w}×{h}")
    return m.astype(bool)


def read(ctx: ReadContext) -> Scan:
    scan = Scan()
    path = annotation_file(ctx.source)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        images, anns, cats = doc["images"], doc.get("annotations", []), doc["categories"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ImportFailed(f"{path}: not a readable COCO annotation file ({type(exc).__name__}: {exc})") from None
    mask_api = _mask_api()
    scan.label_set_source = str(path)
    local_of = {}
    for c in cats:
        local_of[c["id"]] = scan.class_id(str(c["name"]), tuple(c["color"]) if isinstance(c.get("color"), list)
                                          and len(c["color"]) == 3 else None)
    by_image: dict = {}
    for a in anns:
        by_image.setdefault(a.get("image_id"), []).append(a)
    first: dict[str, str] = {}
    for im in images:
        name = str(im.get("file_name", ""))
        what = f"{path} image {name!r} (id {im.get('id')})"
        key = None
        if im.get("segstudio_key") is not None:
            key = ctx.index.lookup(str(im["segstudio_key"]))  # type: ignore[attr-defined]
        key = key or ctx.index.lookup(name)  # type: ignore[attr-defined]
        if key is None:
            scan.unmatched.append(what)
            continue
        if key in first:
            scan.problems.append(f"{what}: image {key!r} appears twice ({first[key]})")
            continue
        first[key] = what
        try:
            size = (int(im["height"]), int(im["width"]))
        except (KeyError, TypeError, ValueError):
            size = None
        scan.items.append(SourceItem(key, what, size, lambda image_size, im=im, what=what, size=size: _decode(
            by_image.get(im.get("id"), []), size or image_size, local_of, mask_api, what)))
    return scan


def _decode(anns: list, size: tuple[int, int], local_of: dict, mask_api, what: str) -> Decoded:
    h, w = size
    local = np.full(size, UNLABELLED, np.int32)
    out = Decoded(local)
    painted = []
    for n, a in enumerate(anns):
        if a.get("category_id") not in local_of:
            out.skipped["annotation of an unknown category"] = out.skipped.get("annotation of an unknown category", 0) + 1
            continue
        if not a.get("segmentation"):
            out.skipped["annotation without segmentation"] = out.skipped.get("annotation without segmentation", 0) + 1
            continue
        try:
            m = decode_segmentation(a["segmentation"], h, w, mask_api)
        except (ValueError, TypeError, KeyError) as exc:
            raise ImportFailed(f"{what}: annotation {a.get('id')}: cannot decode its segmentation ({exc})") from None
        painted.append((0 if a.get("iscrowd") else 1, -int(m.sum()), n, m, local_of[a["category_id"]]))
    painted.sort(key=lambda t: t[:3])
    covered = np.zeros(size, bool)
    for *_, m, cid in painted:
        out.overlap_px += int(np.count_nonzero(m & covered & (local != cid)))
        covered |= m
        local[m] = cid
    return out
