"""Segment Anything (``segment_anything`` package) from a checkpoint file, loaded safely.

The ViT config (width, depth, heads, which blocks use global attention) is read from the
state dict itself, so the official vit_b / vit_l / vit_h files and any smaller config load
alike; the weights are read with ``torch.load(weights_only=True)``. Checkpoints of MobileSAM
(TinyViT encoder), EfficientSAM and SAM 2 are recognised by their keys and refused with the
package they need. The embedding is ``SamPredictor``'s feature map; prompts run its decoder.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segstudio.models.promptable import PromptableModel, PromptError

PATCH = 16


def _state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise PromptError(f"{path}: SAM checkpoint not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling / format error is reported the same way
        raise PromptError(f"{path}: cannot read as a weights-only torch checkpoint ({exc})") from None
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise PromptError(f"{path}: not a state dict of tensors")
    return obj


def _family(sd: dict[str, torch.Tensor]) -> str:
    keys = list(sd)
    if any(k.startswith("image_encoder.trunk.") for k in keys):
        return "sam2"
    if any(k.startswith("image_encoder.layers.") for k in keys) or "image_encoder.patch_embed.seq.0.c.weight" in sd:
        return "mobile_sam"
    if any(k.startswith("image_encoder.blocks.") for k in keys) and "image_encoder.neck.0.weight" not in sd:
        return "efficient_sam"
    if "image_encoder.patch_embed.proj.weight" in sd:
        return "sam"
    return "unknown"


NEEDS = {"sam2": "sam2 (pip install sam2)", "mobile_sam": "mobile_sam (MobileSAM's package)",
         "efficient_sam": "efficient_sam (EfficientSAM's package)"}


def vit_config(sd: dict[str, torch.Tensor]) -> dict[str, Any]:
    """``embed_dim``, ``depth``, ``num_heads``, ``global_attn_indexes`` and ``img_size`` of a SAM
    ViT state dict (the official checkpoints: 1024 px input)."""
    dim = int(sd["image_encoder.patch_embed.proj.weight"].shape[0])
    grid = int(sd["image_encoder.pos_embed"].shape[1]) if "image_encoder.pos_embed" in sd else 64
    blocks = sorted({int(m.group(1)) for k in sd if (m := re.match(r"image_encoder\.blocks\.(\d+)\.", k))})
    if not blocks:
        raise PromptError("SAM checkpoint has no image-encoder blocks")
    head_dim = int(sd[f"image_encoder.blocks.{blocks[0]}.attn.rel_pos_h"].shape[1])
    glob = [b for b in blocks if sd[f"image_encoder.blocks.{b}.attn.rel_pos_h"].shape[0] == 2 * grid - 1]
    return {"embed_dim": dim, "depth": len(blocks), "num_heads": dim // head_dim, "global_attn_indexes": glob,
            "img_size": grid * PATCH}


def build(cfg: dict[str, Any]):
    """An untrained ``segment_anything`` Sam of this ViT config (as its ``_build_sam``, any input size)."""
    from functools import partial

    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    size = int(cfg.get("img_size", 1024))
    grid = size // PATCH
    return Sam(
        image_encoder=ImageEncoderViT(depth=cfg["depth"], embed_dim=cfg["embed_dim"], img_size=size, mlp_ratio=4,
                                      norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=cfg["num_heads"],
                                      patch_size=PATCH, qkv_bias=True, use_rel_pos=True,
                                      global_attn_indexes=cfg["global_attn_indexes"], window_size=14, out_chans=256),
        prompt_encoder=PromptEncoder(embed_dim=256, image_embedding_size=(grid, grid), input_image_size=(size, size),
                                     mask_in_chans=16),
        mask_decoder=MaskDecoder(num_multimask_outputs=3,
                                 transformer=TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8),
                                 transformer_dim=256, iou_head_depth=3, iou_head_hidden_dim=256),
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375]).eval()


class SamTorch(PromptableModel):
    name = "Segment Anything (torch)"

    def __init__(self, sam: Any, device: str = "cpu", source: str = "") -> None:
        super().__init__()
        from segment_anything import SamPredictor
        self.device = torch.device(device)
        self.sam = sam.to(self.device).eval()
        self.predictor = SamPredictor(self.sam)
        self.source = source

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, device: str = "cpu") -> "SamTorch":
        path = Path(path)
        sd = _state_dict(path)
        fam = _family(sd)
        if fam in NEEDS:
            pkg = NEEDS[fam]
            try:
                importlib.import_module(pkg.split()[0])
            except ImportError:
                raise PromptError(f"{path}: a {fam} checkpoint; it needs the package {pkg}, "
                                  f"which is not installed") from None
            raise PromptError(f"{path}: {fam} checkpoints are not wired up yet; use a segment-anything "
                              f"checkpoint or an ONNX encoder/decoder pair")
        if fam != "sam":
            raise PromptError(f"{path}: not a Segment Anything checkpoint (no image_encoder.patch_embed)")
        try:
            importlib.import_module("segment_anything")
        except ImportError:
            raise PromptError("Segment Anything needs the package segment-anything "
                              "(pip install segment-anything)") from None
        cfg = vit_config(sd)
        sam = build(cfg)
        try:
            sam.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            raise PromptError(f"{path}: weights do not fit a SAM ViT {cfg} ({str(exc).splitlines()[0]})") from None
        return cls(sam, device, str(path))

    @torch.inference_mode()
    def _embed(self, rgb: np.ndarray) -> Any:
        p = self.predictor
        p.set_image(rgb)
        return (p.features, p.original_size, p.input_size)

    @torch.inference_mode()
    def _decode(self, emb, points, labels, box):
        """Prompt encoder + mask decoder; the chosen low-res mask is scaled to the image in one step
        (``SamPredictor`` goes through 1024×1024 first, the slowest part on a CPU)."""
        features, original, input_size = emb
        sam, tr, dev = self.sam, self.predictor.transform, self.device
        pts = None
        if points is not None:
            c = torch.as_tensor(tr.apply_coords(points, original), dtype=torch.float, device=dev)[None]
            pts = (c, torch.as_tensor(labels, dtype=torch.int, device=dev)[None])
        bx = torch.as_tensor(tr.apply_boxes(box, original), dtype=torch.float, device=dev) if box is not None else None
        sparse, dense = sam.prompt_encoder(points=pts, boxes=bx, masks=None)
        multi = points is not None and len(points) == 1 and box is None
        low, iou = sam.mask_decoder(image_embeddings=features, image_pe=sam.prompt_encoder.get_dense_pe(),
                                    sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                    multimask_output=multi)
        i = int(torch.argmax(iou[0]))
        side, (lh, lw) = sam.image_encoder.img_size, low.shape[-2:]
        h, w = -(-input_size[0] * lh // side), -(-input_size[1] * lw // side)   # the unpadded part
        logits = torch.nn.functional.interpolate(low[:, i:i + 1, :h, :w], size=tuple(original), mode="bilinear",
                                                 align_corners=False)
        return (logits[0, 0] > sam.mask_threshold).cpu().numpy(), float(iou[0, i])
