"""Training data: image/mask pairs matched by stem, cached decoded, augmented identically.

Augmentation (OpenCV): random scale, random crop (padding with void), horizontal flip,
colour jitter (brightness / contrast / saturation) — geometric ops apply to image and mask
alike, masks always with nearest-neighbour interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from segstudio.core import masks as masks_mod
from segstudio.core.errors import SegStudioError
from segstudio.core.images import list_images, read_image
from segstudio.core.labels import LabelSet


class DatasetError(SegStudioError):
    pass


def pair_files(images_dir: Path, masks_dir: Path, keys: list[str] | None = None) -> list[tuple[Path, Path]]:
    """(image, mask) pairs by stem; ``keys`` restricts to those stems. Errors list what is missing."""
    images = {p.stem: p for p in list_images(images_dir)}
    if not masks_dir.is_dir():
        raise DatasetError(f"{masks_dir}: mask folder does not exist")
    masks = {p.stem: p for p in masks_dir.iterdir() if p.suffix.lower() == ".png"}
    wanted = sorted(keys) if keys is not None else sorted(set(images) & set(masks))
    missing = [k for k in wanted if k not in masks or k not in images]
    if keys is not None and missing:
        raise DatasetError(f"{len(missing)} image(s) lack an image or mask: {', '.join(missing[:10])}")
    pairs = [(images[k], masks[k]) for k in wanted if k in images and k in masks]
    if not pairs:
        raise DatasetError(f"no image/mask pairs: {images_dir} and {masks_dir} share no file stems")
    return pairs


@dataclass
class AugmentConfig:
    crop: tuple[int, int] | None = (288, 384)   # (H, W); None = whole image
    scale: tuple[float, float] = (0.6, 1.4)
    hflip: bool = True
    jitter: float = 0.25                        # brightness/contrast/saturation amplitude


class SegDataset(torch.utils.data.Dataset):
    """Decoded pairs kept in memory (uint8); ``augment=None`` yields whole images (validation)."""

    def __init__(self, pairs: list[tuple[Path, Path]], labels: LabelSet, mean, std,
                 augment: AugmentConfig | None = None, seed: int = 0) -> None:
        self.labels = labels
        self.augment = augment
        self.norm = (tuple(float(v) for v in mean), tuple(float(v) for v in std))  # stored in checkpoints
        self.mean = np.asarray(mean, np.float32) * 255.0
        self.inv_std = 1.0 / (np.asarray(std, np.float32) * 255.0)
        self.rng = np.random.default_rng(seed)
        self.ignore = labels.ignore_index if labels.ignore_index is not None else 255
        self.items: list[tuple[np.ndarray, np.ndarray, str]] = []
        for img_path, mask_path in pairs:
            rgb = read_image(img_path).rgb
            mask = masks_mod.read_mask(mask_path, labels)
            if mask.shape != rgb.shape[:2]:
                raise DatasetError(f"{mask_path}: mask size {mask.shape[1]}×{mask.shape[0]} differs from image "
                                   f"{img_path} ({rgb.shape[1]}×{rgb.shape[0]})")
            self.items.append((rgb, mask, img_path.stem))

    def __len__(self) -> int:
        return len(self.items)

    def class_histogram(self) -> np.ndarray:
        hist = np.zeros(self.labels.num_classes, np.int64)
        for _, mask, _ in self.items:
            counts = np.bincount(mask.reshape(-1), minlength=self.labels.num_classes)
            hist += counts[: self.labels.num_classes]
        return hist

    def _augment(self, rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, rng = self.augment, self.rng
        assert a is not None
        s = rng.uniform(*a.scale)
        if abs(s - 1.0) > 1e-3:
            h, w = mask.shape
            size = (max(1, round(w * s)), max(1, round(h * s)))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)
            mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
        if a.crop:
            ch, cw = a.crop
            h, w = mask.shape
            if h < ch or w < cw:
                ph, pw = max(0, ch - h), max(0, cw - w)
                rgb = cv2.copyMakeBorder(rgb, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=(0, 0, 0))
                mask = cv2.copyMakeBorder(mask, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=int(self.ignore))
                h, w = mask.shape
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            rgb, mask = rgb[y:y + ch, x:x + cw], mask[y:y + ch, x:x + cw]
        if a.hflip and rng.random() < 0.5:
            rgb, mask = rgb[:, ::-1], mask[:, ::-1]
        rgb = rgb.astype(np.float32)
        if a.jitter > 0:
            j = a.jitter
            rgb *= rng.uniform(1 - j, 1 + j)                              # brightness
            mean = rgb.mean()
            rgb = (rgb - mean) * rng.uniform(1 - j, 1 + j) + mean         # contrast
            grey = rgb.mean(axis=2, keepdims=True)
            rgb = (rgb - grey) * rng.uniform(1 - j, 1 + j) + grey         # saturation
            np.clip(rgb, 0, 255, out=rgb)
        return rgb, np.ascontiguousarray(mask)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rgb, mask, _ = self.items[i]
        if self.augment is not None:
            rgb, mask = self._augment(rgb, mask)
        x = (np.asarray(rgb, np.float32) - self.mean) * self.inv_std
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))), torch.from_numpy(mask.astype(np.int64))
