"""Folder-level evaluation: pair prediction and ground-truth masks by stem and score them.

Used by ``segstudio eval``, by training (val mIoU) and by the GUI's folder table.
All problems (missing pairs, size mismatches, unreadable files) are collected and reported
together in one :class:`EvaluationError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segstudio.core import masks
from segstudio.core.errors import MaskError, SegStudioError
from segstudio.core.labels import LabelSet
from segstudio.core.metrics import ConfusionMatrix, Scores


class EvaluationError(SegStudioError):
    pass


def _pngs_by_stem(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise EvaluationError(f"{folder}: not a folder")
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() == ".png" and not p.name.startswith(".")}


@dataclass
class FolderEvaluation:
    labels: LabelSet
    confusion: ConfusionMatrix
    per_image_miou: dict[str, float] = field(default_factory=dict)

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
    preds, gts = _pngs_by_stem(pred_dir), _pngs_by_stem(gt_dir)
    if not gts:
        raise EvaluationError(f"{gt_dir}: no PNG masks found")
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
    result = FolderEvaluation(labels, total)
    for stem in sorted(set(gts) & set(preds)):
        try:
            gt = masks.read_mask(gts[stem])
            pred = masks.read_mask(preds[stem])
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
