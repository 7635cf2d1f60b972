"""The Segment Anything canvas tool with a small random-init SAM in a temporary weights folder:
click → preview → Enter applies exactly the model's mask as one undo step; no weights → says where."""

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from guihelpers import click, key

pytest.importorskip("segment_anything")


@pytest.fixture
def sam_dir(tmp_path, monkeypatch):
    import torch

    from segstudio.models.promptable import sam_torch

    torch.manual_seed(0)
    sam = sam_torch.build({"embed_dim": 32, "depth": 1, "num_heads": 1, "global_attn_indexes": [0], "img_size": 128})
    folder = tmp_path / "sam_weights"
    folder.mkdir()
    torch.save(sam.state_dict(), folder / "tiny_sam.pth")
    monkeypatch.setenv("SEGSTUDIO_SAM_DIR", str(folder))
    return folder


@pytest.fixture
def sam_window(make_window, tmp_path, sam_dir):
    rgb = np.full((60, 80, 3), 40, np.uint8)
    rgb[15:40, 20:50] = (220, 60, 40)
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(rgb).save(folder / "a.png")
    return make_window(folder)


def test_sam_click_previews_and_enter_applies_the_model_mask(sam_window, qtbot):
    win = sam_window
    doc = win.document
    key(win, Qt.Key.Key_7)
    key(win, Qt.Key.Key_A)
    tool = win.canvas.tools["sam"]
    qtbot.waitUntil(lambda: tool.ready, timeout=20000)
    click(win, 30, 25)
    qtbot.waitUntil(lambda: tool.preview is not None, timeout=20000)
    assert tool.labels == [1] and abs(tool.points[0][0] - 30.5) < 0.2 and abs(tool.points[0][1] - 25.5) < 0.2
    expected, _ = tool.model.predict(tool.points, tool.labels)
    assert np.array_equal(tool.preview, expected)
    before = doc.mask.copy()
    key(win, Qt.Key.Key_Return)
    QApplication.processEvents()
    assert tool.preview is None
    assert np.array_equal(doc.mask == 7, expected)
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(doc.mask, before)


def test_sam_without_weights_says_where_to_put_them(make_window, demo_folder, tmp_path, monkeypatch, qtbot):
    monkeypatch.setenv("SEGSTUDIO_SAM_DIR", str(tmp_path / "empty"))
    win = make_window(demo_folder)
    key(win, Qt.Key.Key_A)
    tool = win.canvas.tools["sam"]
    qtbot.waitUntil(lambda: tool.error is not None, timeout=20000)
    assert str(tmp_path / "empty") in tool.error and "nothing is downloaded" in tool.error
    assert str(tmp_path / "empty") in win.statusBar().currentMessage()
