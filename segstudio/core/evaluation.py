"""Folder-level evaluation: pair prediction and ground-truth masks by stem and score them.

Used by ``segstudio eval``, by training (val mIoU) and by the GUI's folder table.
All problems (missing pairs, size mismatches, unreadable files, ids outside the label set on
either side) are collected and reported together in one :class:`EvaluationError`. Colour (RGB)
masks are mapped to ids through the given label set. Folder entries that are not readable
files (FIFOs, symlink loops, …) are never opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from segstudio.core import masks
from segstudio.core.errors import ImageReadError, MaskError, SegStudioError
from segstudio.core.images import scan_files
from segstudio.core.labels import LabelSet
from segstudio.core.metrics import ConfusionMatrix, Scores


class EvaluationError(SegStudioError):
    pass


def _pngs_by_stem(folder: Path, skipped: list[str] | None = None) -> dict[str, Path]:
    if not folder.is_dir():
        raise EvaluationError(f"{folder}: not a folder")
    try:
        listing = scan_files(folder, (".png",))
    except ImageReadError as exc:
        raise EvaluationError(str(exc)) from None
    if skipped is not None:
        skipped += listing.messages()
    return {Path(n).stem: folder / n for n in sorted(listing.names)}


def read_ids(path: Path, labels: LabelSet, ignore: int | None) -> np.ndarray:
    """Class ids of a mask file: indexed/grey PNGs as stored, colour PNGs mapped through
    ``labels``; any value that is neither a class id, the void value nor ``ignore`` is refused."""
    try:
        with Image.open(path) as img:
            colour = img.mode in ("RGB", "RGBA")
    except (OSError, SyntaxError, ValueError):
        colour = False  # read_mask reports it
    if colour:
        return masks.read_mask(path, labels)
    arr = masks.read_mask(path)
    bad = [v for v in masks.invalid_ids(arr, labels) if v != ignore]
    if bad:
        shown = ", ".join(map(str, bad[:10])) + (" …" if len(bad) > 10 else "")
        raise MaskError(f"{path}: ids {shown} are outside label set {labels.name!r} "
                        f"(classes 0..{labels.num_classes - 1}, void {labels.ignore_index})")
    return arr


@dataclass
class FolderEvaluation:
    labels: LabelSet
    confusion: ConfusionMatrix
    per_image_miou: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)   # folder entries that are not readable files

    @property
    def scores(self) -> Scores:
        return self.confusion.scores()

    def to_json(self) -> dict:
        out = self.scores.to_dict(self.labels.names)
        out["images"] = len(self.per_image_miou)
        out["confusion"] = self.confusion.matrix.tolist()
        out["unassigned"] = self.confusion.unassigned.tolist()
        out["per_image_miou"] = {k: (None if np.isnan(v) else v) for k, v in self.per_image_miou.items()}
        return out

    def table(self) -> str:
        s = self.scores
        width = max(12, *(len(n) for n in self.labels.names))
        lines = [f"{'class':<{width}}  {'IoU':>7}  {'GT pixels':>12}"]
        for name, iou, px in zip(self.labels.names, s.iou, s.gt_pixels):
            lines.append(f"{name:<{width}}  {'   n/a' if np.isnan(iou) else f'{100 * iou:6.2f}%'}  {px:>12,}")
        lines.append("-" * (width + 23))
        lines.append(f"{'mIoU':<{width}}  {100 * s.miou:6.2f}%   over {len(self.per_image_miou)} images")
        lines.append(f"{'pixel acc':<{width}}  {100 * s.pixel_accuracy:6.2f}%")
        lines.append(f"{'mean acc':<{width}}  {100 * s.mean_class_accuracy:6.2f}%")
        lines.append(f"{'FWIoU':<{width}}  {100 * s.fwiou:6.2f}%")
        return "\n".join(lines)


def evaluate_folders(pred_dir: str | Path, gt_dir: str | Path, labels: LabelSet,
                     ignore_index: int | None = None) -> FolderEvaluation:
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    skipped: list[str] = []
    preds, gts = _pngs_by_stem(pred_dir, skipped), _pngs_by_stem(gt_dir, skipped)
    if not gts:
        raise EvaluationError("\n  ".join([f"{gt_dir}: no PNG masks found", *skipped]))
    problems: list[str] = []
    missing = sorted(set(gts) - set(preds))
    extra = sorted(set(preds) - set(gts))
    if missing:
        problems.append(f"{len(missing)} ground-truth mask(s) have no prediction in {pred_dir}: "
                        + ", ".join(missing[:20]) + (" …" if len(missing) > 20 else ""))
    if extra:
        problems.append(f"{len(extra)} prediction(s) have no ground truth in {gt_dir}: "
                        + ", ".join(extra[:20]) + (" …" if len(extra) > 20 else ""))
    ignore = labels.ignore_index if ignore_index is None else ignore_index
    total = ConfusionMatrix(labels.num_classes, ignore)
    result = FolderEvaluation(labels, total, skipped=skipped)
    for stem in sorted(set(gts) & set(preds)):
        try:
            gt = read_ids(gts[stem], labels, ignore)
            pred = read_ids(preds[stem], labels, ignore)
        except MaskError as exc:
            problems.append(str(exc))
            continue
        if gt.shape != pred.shape:
            problems.append(f"{preds[stem]}: size {pred.shape[1]}×{pred.shape[0]} differs from ground truth "
                            f"{gts[stem]} ({gt.shape[1]}×{gt.shape[0]})")
            continue
        one = ConfusionMatrix(labels.num_classes, ignore).update(pred, gt)
        total.merge(one)
        result.per_image_miou[stem] = one.scores().miou
    if problems:
        raise EvaluationError("\n  ".join([f"cannot evaluate ({len(problems)} problem(s)):", *problems]))
    return result
