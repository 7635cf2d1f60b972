"""Issue 13 item 4: a saved prediction that was never accepted is shown as a prediction after
reopening, never loaded as the editable mask; the metrics panel scores it as a prediction and
export (core's rule: mask = masks/<key>.png) has no mask for it until it is accepted."""

import numpy as np
from PySide6.QtCore import Qt

from guihelpers import key
from segstudio.core.project import Project, Status


def _predicted_folder(demo_folder):
    proj = Project(demo_folder)
    key0 = proj.keys()[0]
    h, w = proj.read_image(key0).size
    pred = np.zeros((h, w), np.uint8)
    pred[:, w // 2:] = 3
    proj.write_prediction(key0, pred)
    return proj, key0, pred


def test_reopened_prediction_is_shown_as_prediction_not_as_mask(make_window, demo_folder):
    proj, key0, pred = _predicted_folder(demo_folder)
    win = make_window(demo_folder)
    doc, ctl = win.document, win.prediction
    assert doc.key == key0
    assert (doc.mask == doc.labels.void_value).all()                # the editable mask is empty
    assert ctl.current is not None and ctl.current.saved
    np.testing.assert_array_equal(ctl.display_labels(), pred)
    assert ctl.pred_layer.isVisible()                               # hatched, as a prediction
    assert Project(demo_folder).status(key0) == Status.PREDICTED
    assert not proj.mask_path(key0).exists()
    win.metrics_panel.source_box.setCurrentIndex(0)                # auto: mask if labelled, else prediction
    assert win.metrics_panel.resolve_source()[0] == "prediction"
    key(win, Qt.Key.Key_Return)                                     # accepting makes it the mask
    np.testing.assert_array_equal(doc.mask, pred)
    doc.save(wait=True)
    np.testing.assert_array_equal(Project(demo_folder).read_mask(key0), pred)


def test_editing_labels_keeps_the_shown_prediction(make_window, demo_folder):
    from dataclasses import replace

    _predicted_folder(demo_folder)
    win = make_window(demo_folder)
    ctl = win.prediction
    assert ctl.current is not None
    labels = win.document.labels
    renamed = replace(labels, classes=(replace(labels.classes[0], name="Heaven"),) + labels.classes[1:])
    win.labels.apply(renamed, [{i} for i in range(labels.num_classes)])
    assert win.document.labels.classes[0].name == "Heaven"
    assert ctl.current is not None and ctl.pred_layer.isVisible()


def test_an_image_with_the_users_mask_opens_with_its_mask_not_the_old_prediction(make_window, demo_folder, qtbot):
    proj, key0, pred = _predicted_folder(demo_folder)
    key1 = proj.keys()[1]
    h, w = proj.read_image(key1).size
    mine = np.full((h, w), 5, np.uint8)
    proj.write_mask(key1, mine)
    proj.write_prediction(key1, pred if pred.shape == (h, w) else np.zeros((h, w), np.uint8))
    win = make_window(demo_folder)
    ctl = win.prediction
    assert ctl.pred_layer.isVisible()                               # key0: predicted only, shown
    win.open_image(key1)
    qtbot.waitUntil(lambda: win.document.key == key1 and ctl.current is not None, timeout=5000)
    assert ctl.current is not None and ctl.current.saved           # the old prediction is at hand…
    assert not ctl.pred_layer.isVisible() and not ctl.show_action.isChecked()   # …but the mask is what shows
    np.testing.assert_array_equal(win.document.mask, mine)
    ctl.show_action.setChecked(True)                                # asked for: the old prediction shows
    assert ctl.pred_layer.isVisible()
    win.open_image(key0)                                            # a predicted-only image shows it again
    qtbot.waitUntil(lambda: win.document.key == key0 and ctl.current is not None, timeout=5000)
    assert ctl.pred_layer.isVisible()
