"""Segment Anything as an encoder + decoder ONNX pair (the layout X-AnyLabeling uses), on onnxruntime.

The encoder takes the preprocessed image (``1×3×S×S`` float32, S = 1024 for the official
models, read from the encoder's input shape: longest side resized to S, SAM's pixel mean/std,
zero padding) and returns the ``1×256×S/16×S/16`` embedding; the
decoder is segment-anything's ``SamOnnxModel`` export (inputs ``image_embeddings``,
``point_coords``, ``point_labels``, ``mask_input``, ``has_mask_input``, ``orig_im_size``;
outputs masks and IoU predictions). As ``SamPredictor`` does, one point alone gets the best of
the three multimask outputs, any other prompt the single-mask output.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from segstudio.models.promptable import PromptableModel, PromptError

SIZE = 1024
MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)


def preprocess(rgb: np.ndarray, size: int = SIZE) -> tuple[np.ndarray, tuple[float, float]]:
    """``1×3×size×size`` encoder input and the (x, y) resize scales (as segment-anything's ResizeLongestSide)."""
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
    img = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    img = (img - MEAN) / STD
    out = np.zeros((size, size, 3), np.float32)
    out[:nh, :nw] = img
    return np.ascontiguousarray(out.transpose(2, 0, 1)[None]), (nw / w, nh / h)


class SamOnnx(PromptableModel):
    name = "Segment Anything (ONNX)"

    def __init__(self, encoder: str | os.PathLike, decoder: str | os.PathLike, threads: int | None = None) -> None:
        super().__init__()
        try:
            import onnxruntime as ort
        except ImportError:
            raise PromptError("the ONNX SAM runner needs onnxruntime (pip install onnxruntime)") from None
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.sessions = []
        for path in (Path(encoder), Path(decoder)):
            if not path.is_file():
                raise PromptError(f"{path}: ONNX file not found")
            try:
                self.sessions.append(ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"]))
            except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
                raise PromptError(f"{path}: onnxruntime cannot load it ({exc})") from None
        self.encoder, self.decoder = self.sessions
        names = {i.name for i in self.decoder.get_inputs()}
        need = {"image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size"}
        if not need <= names:
            raise PromptError(f"{decoder}: not a SAM decoder (inputs {sorted(names)}, expected {sorted(need)})")
        shape = self.encoder.get_inputs()[0].shape
        self.size = shape[-1] if isinstance(shape[-1], int) else SIZE

    def _embed(self, rgb: np.ndarray):
        x, scale = preprocess(rgb, self.size)
        emb = self.encoder.run(None, {self.encoder.get_inputs()[0].name: x})[0]
        return emb, scale

    def _decode(self, emb, points, labels, box):
        embedding, scale = emb
        coords, labs = [], []
        if points is not None:
            coords.append(points)
            labs.append(labels)
        if box is not None:
            coords.append(box.reshape(2, 2))
            labs.append(np.array([2, 3], np.float32))
        else:
            coords.append(np.zeros((1, 2), np.float32))      # padding point, as SamPredictor adds
            labs.append(np.array([-1], np.float32))
        c = (np.concatenate(coords).astype(np.float32) * np.array(scale, np.float32))[None]
        lab = np.concatenate(labs).astype(np.float32)[None]
        h, w = self._shape
        masks, scores = self.decoder.run(None, {
            "image_embeddings": embedding, "point_coords": c, "point_labels": lab,
            "mask_input": np.zeros((1, 1, self.size // 4, self.size // 4), np.float32),
            "has_mask_input": np.zeros(1, np.float32), "orig_im_size": np.array([h, w], np.float32)})[:2]
        if masks.shape[1] == 1:
            i = 0
        elif points is not None and len(points) == 1 and box is None:
            i = 1 + int(np.argmax(scores[0, 1:]))     # best of the multimask outputs
        else:
            i = 0                                     # the single-mask output
        return masks[0, i] > 0.0, float(scores[0, i])
