"""Label editor and label changes: rename/recolour keep ids, merge rewrites masks (undoably)."""

import numpy as np
from PySide6.QtCore import Qt

from guihelpers import drag, key
from segstudio.core.labels import LabelSet, preset
from segstudio.core.project import Project, Status
from segstudio.gui import label_changes
from segstudio.gui.panels.label_editor import LabelEditor


def test_build_and_inverse_lut_for_merge():
    old = preset("camvid")
    ed_rows = [c for c in old.classes if c.name != "Pole"]
    new = old.with_classes(ed_rows)
    sources = [{c.id} for c in ed_rows]
    sources[0] |= {2}                       # Pole merged into Sky
    lut = label_changes.build_lut(old, new, sources)
    assert lut[2] == 0 and lut[3] == 2 and lut[10] == 9 and lut[11] == 11
    inv = label_changes.inverse_lut(old, new, lut)
    assert inv[0] == 0 and inv[2] == 3 and inv[9] == 10 and inv[11] == 11
    assert label_changes.build_lut(old, old, [{i} for i in range(11)]) is None


def test_editor_rename_recolour_add_keeps_ids(qtbot):
    ed = LabelEditor(preset("camvid"))
    qtbot.addWidget(ed)
    ed.rename(0, "Heaven")
    ed.recolour(1, (1, 2, 3))
    i = ed.add_class("Bollard", (9, 9, 9))
    labels, sources = ed.result()
    assert labels.classes[0].name == "Heaven" and labels.classes[1].color == (1, 2, 3)
    assert labels.classes[i].name == "Bollard" and sources[i] == set()
    assert labels.ignore_index == 255          # class 11 would collide with void 11: void moved
    lut = label_changes.build_lut(preset("camvid"), labels, sources)
    assert lut[11] == 255 and lut[5] == 5


def test_editor_presets_one_click(qtbot):
    ed = LabelEditor(preset("camvid"))
    qtbot.addWidget(ed)
    ed.preset_buttons["voc"].click()
    labels, _ = ed.result()
    assert labels.name == "voc" and labels.num_classes == 21 and labels.ignore_index == 255


def test_rename_applies_without_rewriting(window):
    labels, sources = _edit(window, lambda ed: ed.rename(3, "Street"))
    assert window.labels.apply(labels, sources)
    assert window.project.labels.classes[3].name == "Street"
    assert LabelSet.load(window.project.labels_path).classes[3].name == "Street"
    assert window.label_panel.model.index(3, 0).data() == "Street"


def _edit(window, fn):
    ed = LabelEditor(window.document.labels, window)
    fn(ed)
    out = ed.result()
    ed.deleteLater()
    return out


def test_merge_rewrites_open_mask_undoably_and_saved_masks(window, qtbot):
    doc, project = window.document, window.project
    other = np.full((60, 80), 11, np.uint8)
    other[0:10] = 2      # Pole
    other[10:20] = 5     # Tree
    project.write_mask("img2", other, Status.EDITED)
    key(window, Qt.Key.Key_2)
    drag(window, [(10, 10), (60, 10)])
    key(window, Qt.Key.Key_5)
    drag(window, [(10, 40), (60, 40)])
    before = doc.mask.copy()
    asked = []
    window.labels.confirm = lambda text: asked.append(text) or True
    labels, sources = _edit(window, lambda ed: ed.merge([2, 0], 0))   # Pole -> Sky
    assert window.labels.apply(labels, sources, "Merge Pole into Sky")
    assert asked and "1 saved mask" in asked[0]
    assert doc.labels.num_classes == 10 and doc.labels.classes[2].name == "Road"
    assert doc.mask[10, 30] == 0 and doc.mask[40, 30] == 4          # Tree 5 -> 4
    on_disk = Project(project.folder).read_mask("img2")
    assert (on_disk[0:10] == 0).all() and (on_disk[10:20] == 4).all()
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)   # undo the merge
    assert np.array_equal(doc.mask, before)
    assert doc.labels.num_classes == 11 and doc.labels.classes[2].name == "Pole"
    back = Project(project.folder).read_mask("img2")
    assert (back[0:10] == 0).all() and (back[10:20] == 5).all()     # merged stay merged, ids restored
    key(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert doc.labels.num_classes == 10 and doc.mask[40, 30] == 4


def test_merge_cancelled_changes_nothing(window):
    window.project.write_mask("img2", np.full((60, 80), 2, np.uint8), Status.EDITED)
    window.labels.confirm = lambda text: False
    labels, sources = _edit(window, lambda ed: ed.merge([2, 0], 0))
    assert not window.labels.apply(labels, sources)
    assert window.document.labels.num_classes == 11
    assert (Project(window.project.folder).read_mask("img2") == 2).all()


def test_delete_class_makes_pixels_void(window):
    key(window, Qt.Key.Key_9)
    drag(window, [(10, 10), (60, 10)])
    labels, sources = _edit(window, lambda ed: ed.delete([9]))
    window.labels.apply(labels, sources, "Delete Pedestrian")
    assert window.document.mask[10, 30] == 11 and window.document.labels.num_classes == 10
