"""Metrics panel: numbers equal ``segstudio eval`` on the same files, live incremental updates
after strokes and undo, error overlay counts, folder table (worst first, double-click opens)."""

import shutil

import numpy as np
import pytest
from PySide6.QtCore import Qt

from guihelpers import drag, key
from segstudio.core.error_map import error_codes, error_counts
from segstudio.core.evaluation import evaluate_folders
from segstudio.core.labels import preset
from segstudio.core.masks import write_mask
from segstudio.core.metrics import ConfusionMatrix
from segstudio.core.project import Project


@pytest.fixture
def labelled(demo_folder, tmp_path):
    """demo images with random user masks (coarse blocks) and random ground truth."""
    labels = preset("camvid")
    rng = np.random.default_rng(7)
    gt_dir = tmp_path / "gt"
    proj = Project(demo_folder)
    for k in proj.keys():
        gt = np.kron(rng.integers(0, 12, (6, 8)), np.ones((10, 10), np.int64)).astype(np.uint8)  # 11 = void
        write_mask(gt_dir / f"{k}.png", gt, labels)
        noisy = gt.copy()
        flip = rng.random(gt.shape) < (0.2 + 0.2 * int(k[-1]))
        noisy[flip] = rng.integers(0, 11, int(flip.sum()))
        proj.write_mask(k, noisy)
    return demo_folder, gt_dir


def _attach(win, qtbot, gt_dir):
    panel = win.metrics_panel
    assert panel.attach_ground_truth(gt_dir)
    qtbot.waitUntil(lambda: panel.live.ready, timeout=5000)
    return panel


def test_numbers_equal_eval_and_stay_exact_while_painting(make_window, labelled, tmp_path, qtbot):
    folder, gt_dir = labelled
    win = make_window(folder)
    panel = _attach(win, qtbot, gt_dir)
    k = win.document.key
    one_pred, one_gt = tmp_path / "one_pred", tmp_path / "one_gt"
    one_pred.mkdir()
    one_gt.mkdir()
    shutil.copy(win.project.mask_path(k), one_pred / f"{k}.png")
    shutil.copy(gt_dir / f"{k}.png", one_gt / f"{k}.png")
    ref = evaluate_folders(one_pred, one_gt, preset("camvid")).scores      # what `segstudio eval` prints
    s = panel.scores()
    assert panel.source_used == "mask"
    assert s.miou == pytest.approx(ref.miou)
    assert s.pixel_accuracy == pytest.approx(ref.pixel_accuracy)
    np.testing.assert_allclose(s.iou, ref.iou, equal_nan=True)
    assert f"mIoU {100 * ref.miou:.2f} %" in panel.summary.text()
    # live: strokes, a fill, an undo — always equal to a full recompute
    gt = panel.gt
    for cls, pts in ((3, [(5, 5), (60, 40)]), (7, [(70, 5), (10, 55)]), (0, [(40, 0), (40, 59)])):
        key(win, getattr(Qt.Key, f"Key_{cls}"))
        drag(win, pts)
        full = ConfusionMatrix(11).update(win.document.mask, gt)
        np.testing.assert_array_equal(panel.live.full, full.full)
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(panel.live.full, ConfusionMatrix(11).update(win.document.mask, gt).full)
    qtbot.waitUntil(lambda: f"{100 * panel.scores().miou:.2f} %" in panel.summary.text(), timeout=2000)
    assert panel.bars.values[:11] == pytest.approx(list(panel.scores().iou), nan_ok=True)


def test_error_overlay_counts(make_window, labelled, qtbot):
    folder, gt_dir = labelled
    win = make_window(folder)
    panel = _attach(win, qtbot, gt_dir)
    panel.error_box.setCurrentIndex(panel.error_box.findData("all"))
    assert panel.error_layer.isVisible()
    codes = error_codes(win.document.mask, panel.gt, 11)
    assert panel.error_counts() == error_counts(codes)
    panel.error_box.setCurrentIndex(panel.error_box.findData(3))
    key(win, Qt.Key.Key_3)
    drag(win, [(0, 30), (79, 30)])                       # a stroke updates the overlay's box
    codes = error_codes(win.document.mask, panel.gt, 11, cls=3)
    assert panel.error_counts() == error_counts(codes)
    fp = (panel.error_layer.buffer != 0)
    np.testing.assert_array_equal(fp, codes != 0)
    panel.error_box.setCurrentIndex(0)
    assert not panel.error_layer.isVisible()


def test_prediction_is_scored_when_there_is_no_mask(make_window, demo_folder, tmp_path, qtbot):
    labels = preset("camvid")
    proj = Project(demo_folder)
    rng = np.random.default_rng(1)
    gt_dir = tmp_path / "gt"
    for k in proj.keys():
        write_mask(gt_dir / f"{k}.png", rng.integers(0, 12, (60, 80)).astype(np.uint8), labels)
        proj.write_prediction(k, rng.integers(0, 11, (60, 80)).astype(np.uint8))
    win = make_window(demo_folder)
    # the loader shows the saved prediction as the (unedited) mask; blank it so "auto" falls back
    win.document.apply_mask(np.full((60, 80), labels.void_value, np.uint8), "clear")
    panel = _attach(win, qtbot, gt_dir)
    assert panel.source_used == "prediction"
    pred = proj.read_prediction(win.document.key)
    ref = ConfusionMatrix(11).update(pred, panel.gt).scores()
    assert panel.scores().miou == pytest.approx(ref.miou)


def test_auto_scores_nothing_when_there_is_neither_mask_nor_prediction(make_window, demo_folder, tmp_path, qtbot):
    """Not 0 %: an image nobody labelled or predicted yet has no score; the first stroke gives one."""
    labels = preset("camvid")
    proj = Project(demo_folder)
    gt_dir = tmp_path / "gt"
    for k in proj.keys():
        write_mask(gt_dir / f"{k}.png", np.zeros((60, 80), np.uint8), labels)
    win = make_window(demo_folder)
    assert not (win.document.mask < 11).any()
    panel = win.metrics_panel
    assert panel.attach_ground_truth(gt_dir)
    qtbot.waitUntil(lambda: panel.gt is not None, timeout=5000)
    assert panel.source_used is None and panel.scores() is None
    assert "Nothing to score yet" in panel.summary.text()
    key(win, Qt.Key.Key_0)
    drag(win, [(10, 10), (30, 10)])
    qtbot.waitUntil(lambda: panel.live.ready and panel.source_used == "mask", timeout=5000)
    s = panel.scores()
    painted = np.count_nonzero(win.document.mask == 0)
    assert s.valid_pixels == 4800 and painted > 0 and s.pixel_accuracy == pytest.approx(painted / 4800)


def test_folder_table_matches_eval_worst_first_and_opens(make_window, labelled, qtbot):
    folder, gt_dir = labelled
    win = make_window(folder)
    panel = _attach(win, qtbot, gt_dir)
    table = panel.folder
    table.evaluate()
    qtbot.waitUntil(lambda: table.result is not None, timeout=10000)
    ref = evaluate_folders(win.project.store / "masks", gt_dir, preset("camvid"))
    got = {r.key: r.miou for r in table.result.rows}
    assert got == pytest.approx(ref.per_image_miou)
    assert table.result.total.scores().miou == pytest.approx(ref.scores.miou)
    first = table.proxy.index(0, 0).data(Qt.ItemDataRole.UserRole)
    assert first == min(ref.per_image_miou, key=ref.per_image_miou.get)     # worst image first
    table.view.doubleClicked.emit(table.proxy.index(0, 2))
    qtbot.waitUntil(lambda: win.document.key == first, timeout=5000)
