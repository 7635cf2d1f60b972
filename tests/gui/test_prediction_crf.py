"""CRF re-runs on cached probabilities (no network), painted pixels as constraints; class mapping
of a model whose classes differ from the project's; probability cache bounds."""

import numpy as np
from PySide6.QtCore import Qt

from guihelpers import drag, key
from predhelpers import load_and_wait, run_and_wait, tiny_checkpoint
from segstudio.core.labels import LabelClass, LabelSet
from segstudio.gui.prediction import engine
from segstudio.gui.prediction.cache import ProbCache
from segstudio.gui.prediction.engine import ModelSpec


def test_crf_reruns_on_cached_probs_with_painted_pixels_fixed(make_window, demo_folder, tmp_path, qtbot,
                                                               monkeypatch):
    calls = []
    real = engine.predict
    monkeypatch.setattr(engine, "predict", lambda *a: calls.append(1) or real(*a))
    win = make_window(demo_folder)
    ctl = win.prediction
    load_and_wait(win, qtbot, ModelSpec(str(tiny_checkpoint(tmp_path / "t.pt")), device="cpu"), prefetch=False)
    key(win, Qt.Key.Key_6)
    drag(win, [(5, 30), (70, 30)])                       # painted class 6 across the image
    painted = win.document.fixed_pixels()
    run_and_wait(win, qtbot)
    assert len(calls) == 1
    crf = win.crf_panel
    crf.enable.setChecked(True)
    assert ctl.crf_action.isChecked()
    qtbot.waitUntil(lambda: ctl.current.crf_labels is not None and not ctl.busy, timeout=20000)
    assert len(calls) == 1                                # the network did not run again
    cur = ctl.current
    assert (cur.crf_labels[painted] == 6).all()           # painted pixels are constraints
    np.testing.assert_array_equal(ctl.display_labels(), cur.crf_labels)
    first_params = cur.crf_params
    crf.spins["iterations"].setValue(2)
    crf.apply()                                           # (normally debounced)
    qtbot.waitUntil(lambda: cur.crf_params is not first_params and not ctl.busy, timeout=20000)
    assert cur.crf_params.iterations == 2 and len(calls) == 1
    crf.enable.setChecked(False)
    np.testing.assert_array_equal(ctl.display_labels(), cur.labels)
    crf.spins["bilateral_sxy"].setValue(crf.spins["bilateral_sxy"].minimum())
    crf.spins["fixed_confidence"].setValue(0.5)           # still valid: applies quietly
    crf.apply()
    assert crf.error.text() == ""


def test_model_with_other_classes_gets_a_mapping_by_name(make_window, demo_folder, tmp_path, qtbot):
    names = ["road", "SKY", "something else"]
    other = LabelSet(tuple(LabelClass(i, n, (i * 60, 0, 0)) for i, n in enumerate(names)), 255, name="other")
    win = make_window(demo_folder)
    ctl, panel = win.prediction, win.model_panel
    labels = win.document.labels
    load_and_wait(win, qtbot, ModelSpec(str(tiny_checkpoint(tmp_path / "o.pt", labels=other)), device="cpu"),
                  prefetch=False)
    ids = {c.name: c.id for c in labels.classes}
    assert ctl.mapping == [ids["Road"], ids["Sky"], labels.void_value]
    dlg = panel.mapping_dialog
    assert dlg is not None and dlg.isVisible()
    assert dlg.mapping() == ctl.mapping
    assert "to void: something else" in panel.mapping_label.text()
    dlg.combos[2].setCurrentIndex(dlg.combos[2].findData(ids["Car"]))
    dlg.accept()
    assert ctl.mapping == [ids["Road"], ids["Sky"], ids["Car"]]
    cur = run_and_wait(win, qtbot)
    assert set(np.unique(cur.labels)) <= {ids["Road"], ids["Sky"], ids["Car"]}
    assert cur.probs.shape[0] == labels.num_classes
    np.testing.assert_allclose(cur.probs.astype(np.float32).sum(axis=0), 1.0, atol=1e-2)


def test_prob_cache_is_lru_and_bounded_in_bytes():
    cache = ProbCache(max_bytes=3 * (2 * 10 * 10 * 2 + 100))
    lab = np.zeros((10, 10), np.uint8)
    for i in range(3):
        cache.put(i, lab, np.zeros((2, 10, 10), np.float32))
    assert len(cache) == 3 and cache.get(0).probs.dtype == np.float16     # stored as float16
    cache.put(3, lab, np.zeros((2, 10, 10), np.float32))                    # evicts the least recent: 1
    assert 1 not in cache and 0 in cache and 3 in cache
    assert cache.nbytes <= cache.max_bytes
    big = cache.put("big", lab, np.zeros((50, 10, 10), np.float16))         # larger than the budget
    assert big.probs is None and cache.nbytes <= cache.max_bytes


def test_crf_defaults_come_from_resources_when_present(tmp_path, monkeypatch):
    import json

    from segstudio.gui.prediction.controller import default_crf_params

    monkeypatch.setenv("SEGSTUDIO_RESOURCES", str(tmp_path))
    params, source = default_crf_params()
    assert source == "built-in defaults" and params.iterations == 5
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "crf_params.json").write_text(json.dumps({"iterations": 3, "bilateral_srgb": 7.5}))
    params, source = default_crf_params()
    assert params.iterations == 3 and params.bilateral_srgb == 7.5 and source.endswith("crf_params.json")
    (tmp_path / "models" / "crf_params.json").write_text(json.dumps({"bogus": 1}))
    params, source = default_crf_params()
    assert params.iterations == 5 and "bogus" in source            # a bad file falls back, with the reason
