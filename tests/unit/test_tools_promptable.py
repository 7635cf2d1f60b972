"""Promptable models (segstudio.models.promptable) with a small SAM built here with random weights:
checkpoint loading (weights only, config read from the state dict), the embedding cache, prompts,
and the encoder + decoder ONNX pair exported from the same model."""

import numpy as np
import pytest
import torch

pytest.importorskip("segment_anything")

from segstudio.models import promptable  # noqa: E402
from segstudio.models.promptable import PromptError, sam_torch  # noqa: E402


@pytest.fixture(scope="module")
def small_sam(tmp_path_factory):
    torch.manual_seed(0)   # width 64, 2 blocks (the 2nd global), 256 px input: a small SAM, random weights
    sam = sam_torch.build({"embed_dim": 64, "depth": 2, "num_heads": 2, "global_attn_indexes": [1], "img_size": 256})
    folder = tmp_path_factory.mktemp("sam")
    path = folder / "small_sam.pth"
    torch.save(sam.state_dict(), path)
    return sam, path


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    rgb = np.full((96, 128, 3), 40, np.uint8)
    rgb[20:70, 30:90] = (200, 80, 60)
    return np.clip(rgb + rng.integers(0, 20, rgb.shape), 0, 255).astype(np.uint8)


def test_config_is_read_from_the_state_dict(small_sam):
    sd = torch.load(small_sam[1], weights_only=True)
    assert sam_torch.vit_config(sd) == {"embed_dim": 64, "depth": 2, "num_heads": 2, "global_attn_indexes": [1],
                                        "img_size": 256}


def test_checkpoint_runner_matches_segment_anything_and_caches_embeddings(small_sam, image, monkeypatch):
    from segment_anything import SamPredictor

    sam, path = small_sam
    model = promptable.load(path)
    calls = []
    real = model._embed
    monkeypatch.setattr(model, "_embed", lambda rgb: calls.append(1) or real(rgb))
    model.set_image(image, key="a")
    model.set_image(image, key="a")
    assert len(calls) == 1 and model.has_embedding("a")
    mask, score = model.predict([(60, 45)], [1])
    assert mask.shape == image.shape[:2] and mask.dtype == bool and np.isfinite(score)
    ref = SamPredictor(sam)
    ref.set_image(image)
    masks, scores, _ = ref.predict(np.array([[60, 45]], np.float32), np.array([1]), multimask_output=True)
    # same mask as SamPredictor's (which scales via 1024×1024 first): equal but for edge pixels
    assert (mask == masks[int(np.argmax(scores))]).mean() > 0.99
    box_mask, _ = model.predict(box=(30, 20, 90, 70))
    rmask, _, _ = ref.predict(box=np.array([30, 20, 90, 70], np.float32), multimask_output=False)
    assert (box_mask == rmask[0]).mean() > 0.99


def test_onnx_pair_agrees_with_the_checkpoint(small_sam, image, tmp_path):
    pytest.importorskip("onnxruntime")
    from segment_anything.utils.onnx import SamOnnxModel

    sam, path = small_sam

    class Encoder(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m.image_encoder(x)

    enc, dec = tmp_path / "small_encoder.onnx", tmp_path / "small_decoder.onnx"
    torch.onnx.export(Encoder(sam), (torch.zeros(1, 3, 256, 256),), str(enc), dynamo=False, opset_version=17,
                      input_names=["images"], output_names=["image_embeddings"])
    onnx_model = SamOnnxModel(sam, return_single_mask=False)
    dummy = {"image_embeddings": torch.zeros(1, 256, 16, 16), "point_coords": torch.zeros(1, 2, 2),
             "point_labels": torch.zeros(1, 2), "mask_input": torch.zeros(1, 1, 64, 64),
             "has_mask_input": torch.zeros(1), "orig_im_size": torch.tensor([96.0, 128.0])}
    torch.onnx.export(onnx_model, tuple(dummy.values()), str(dec), dynamo=False, opset_version=17,
                      input_names=list(dummy), output_names=["masks", "iou_predictions", "low_res_masks"],
                      dynamic_axes={"point_coords": {1: "n"}, "point_labels": {1: "n"}})
    onnx_runner = promptable.load(tmp_path)            # the folder: finds the *encoder* / *decoder* pair
    assert isinstance(onnx_runner, promptable.sam_onnx.SamOnnx)
    torch_runner = promptable.load(path)
    for m in (onnx_runner, torch_runner):
        m.set_image(image, key="a")
    for prompt in ({"box": (30, 20, 90, 70)}, {"points": [(60, 45)], "labels": [1]},
                   {"points": [(60, 45), (10, 10)], "labels": [1, 0]}):
        a, _ = onnx_runner.predict(**prompt)
        b, _ = torch_runner.predict(**prompt)
        assert a.shape == b.shape == image.shape[:2] and (a == b).mean() > 0.99, prompt


def test_no_weights_says_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_SAM_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(PromptError, match="nowhere.*nothing is downloaded"):
        promptable.load()
    (tmp_path / "nowhere").mkdir()
    with pytest.raises(PromptError, match="no SAM weights in"):
        promptable.load()


def test_unsafe_or_foreign_checkpoints_are_refused(tmp_path):
    bad = tmp_path / "pickle.pth"
    torch.save({"model": object.__new__(type("X", (), {}))}, bad) if False else torch.save({"x": {1, 2}}, bad)
    with pytest.raises(PromptError, match="weights-only|state dict"):
        promptable.load(bad)
    mobile = tmp_path / "mobile_sam.pt"
    torch.save({"image_encoder.patch_embed.seq.0.c.weight": torch.zeros(1),
                "image_encoder.layers.0.x": torch.zeros(1)}, mobile)
    with pytest.raises(PromptError, match="mobile_sam"):
        promptable.load(mobile)
    sam2 = tmp_path / "sam2.pt"
    torch.save({"image_encoder.trunk.patch_embed.proj.weight": torch.zeros(1)}, sam2)
    with pytest.raises(PromptError, match="sam2"):
        promptable.load(sam2)


def test_prompts_are_checked(small_sam, image):
    model = promptable.load(small_sam[1])
    with pytest.raises(PromptError, match="no image set"):
        model.predict([(1, 1)], [1])
    model.set_image(image)
    with pytest.raises(PromptError, match="at least one point or a box"):
        model.predict()
    with pytest.raises(PromptError, match="2 points but 1 labels"):
        model.predict([(1, 1), (2, 2)], [1])
