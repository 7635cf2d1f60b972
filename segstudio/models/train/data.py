"""Training data: image/mask pairs matched by stem, cached decoded, augmented identically.

Augmentation (OpenCV): random scale, random crop (padding with void), horizontal flip and,
for orientation-free data, vertical flip and 90° rotations, colour jitter (brightness /
contrast / saturation) and, when asked, a colour cast (one random gain per channel, as a white
balance or a dusk tint shifts colours; never on grey images) — geometric ops apply to image and
mask alike, masks always with nearest-neighbour interpolation. Each DataLoader worker draws from its own random stream
(:func:`seed_worker`). The dataset keeps, per image, whether it was grey and its bit depth
(the facts :mod:`segstudio.models.train.plan` plans from).
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
    rot90: bool = False                         # vertical flips and 90° rotations (orientation-free data)
    jitter: float = 0.25                        # brightness/contrast/saturation amplitude
    colour_cast: float = 0.0                    # per-channel gain amplitude (colour images only); 0: off


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: a distinct augmentation stream per worker (not copies of one)."""
    info = torch.utils.data.get_worker_info()
    if info is not None and isinstance(info.dataset, SegDataset):
        info.dataset.rng = np.random.default_rng(torch.initial_seed() % 2 ** 32)


class SegDataset(torch.utils.data.Dataset):
    """Decoded pairs kept in memory (uint8); ``augment=None`` yields whole images (validation)."""

    def __init__(self, pairs: list[tuple[Path, Path]], labels: LabelSet, mean, std,
                 augment: AugmentConfig | None = None, seed: int = 0) -> None:
        self.labels = labels
        self.augment = augment
        self.set_norm(mean, std)
        self.rng = np.random.default_rng(seed)
        self.ignore = labels.ignore_index if labels.ignore_index is not None else 255
        self.items: list[tuple[np.ndarray, np.ndarray, str]] = []
        self.grey: list[bool] = []
        self.bit_depth: list[int] = []
        for img_path, mask_path in pairs:
            loaded = read_image(img_path)
            rgb = loaded.rgb
            self.grey.append(_is_grey(loaded.original_mode, rgb))
            self.bit_depth.append(16 if loaded.original_dtype == "uint16" else 8)
            mask = masks_mod.read_mask(mask_path, labels)
            if mask.shape != rgb.shape[:2]:
                raise DatasetError(f"{mask_path}: mask size {mask.shape[1]}×{mask.shape[0]} differs from image "
                                   f"{img_path} ({rgb.shape[1]}×{rgb.shape[0]})")
            self.items.append((rgb, mask, img_path.stem))

    def set_norm(self, mean, std) -> None:
        """The normalisation ``(rgb/255 - mean)/std`` (0..1 units), as stored in the checkpoint."""
        self.norm = (tuple(float(v) for v in mean), tuple(float(v) for v in std))
        self.mean = np.asarray(mean, np.float32) * 255.0
        self.inv_std = 1.0 / (np.asarray(std, np.float32) * 255.0)

    def subset(self, stems: list[str], augment: AugmentConfig | None) -> "SegDataset":
        """The same decoded images for ``stems`` (no re-reading), with another augmentation."""
        keep = set(stems)
        out = SegDataset.__new__(SegDataset)
        out.labels, out.augment, out.rng, out.ignore = self.labels, augment, np.random.default_rng(len(stems)), self.ignore
        out.set_norm(*self.norm)
        idx = [i for i, it in enumerate(self.items) if it[2] in keep]
        out.items = [self.items[i] for i in idx]
        out.grey = [self.grey[i] for i in idx]
        out.bit_depth = [self.bit_depth[i] for i in idx]
        return out

    def __len__(self) -> int:
        return len(self.items)

    def class_histogram(self) -> np.ndarray:
        hist = np.zeros(self.labels.num_classes, np.int64)
        for _, mask, _ in self.items:
            counts = np.bincount(mask.reshape(-1), minlength=self.labels.num_classes)
            hist += counts[: self.labels.num_classes]
        return hist

    def _augment(self, rgb: np.ndarray, mask: np.ndarray, is_grey: bool = False) -> tuple[np.ndarray, np.ndarray]:
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
        if a.rot90:
            if rng.random() < 0.5:
                rgb, mask = rgb[::-1], mask[::-1]
            k = int(rng.integers(0, 4))
            if k and (k == 2 or mask.shape[0] == mask.shape[1]):   # keeps the crop's shape
                rgb, mask = np.rot90(rgb, k), np.rot90(mask, k)
        rgb = rgb.astype(np.float32)
        if a.jitter > 0:   # grey stays grey: saturation jitter leaves equal channels equal
            j = a.jitter
            rgb *= rng.uniform(1 - j, 1 + j)                              # brightness
            mean = rgb.mean()
            rgb = (rgb - mean) * rng.uniform(1 - j, 1 + j) + mean         # contrast
            grey = rgb.mean(axis=2, keepdims=True)
            rgb = (rgb - grey) * rng.uniform(1 - j, 1 + j) + grey         # saturation
            np.clip(rgb, 0, 255, out=rgb)
        if a.colour_cast > 0 and not is_grey:
            c = a.colour_cast
            rgb *= rng.uniform(1 - c, 1 + c, size=3).astype(np.float32)   # one gain per channel
            np.clip(rgb, 0, 255, out=rgb)
        return rgb, np.ascontiguousarray(mask)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rgb, mask, _ = self.items[i]
        if self.augment is not None:
            rgb, mask = self._augment(rgb, mask, self.grey[i])
        x = (np.asarray(rgb, np.float32) - self.mean) * self.inv_std
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))), torch.from_numpy(mask.astype(np.int64))


def _is_grey(mode: str, rgb: np.ndarray) -> bool:
    if mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return True
    step = max(1, rgb.shape[0] // 64)
    sample = rgb[::step, ::step]
    return bool(np.array_equal(sample[..., 0], sample[..., 1]) and np.array_equal(sample[..., 1], sample[..., 2]))
