"""PredictionController: the model side of the main window (one per window, ``window.prediction``).

Owns the loaded model, the class mapping, the probability cache, the prediction / heat
layers on the canvas and the Model menu's actions (built by :mod:`.menu`: Run Ctrl+R, Cancel,
Accept Enter, Show prediction, CRF). Every slow step runs on a :class:`~segstudio.gui.workers.Workers` pool whose results
come back as callbacks on the GUI thread: model loading and inference on ``workers`` (one
thread: one forward at a time), CRF / uncertainty / prediction writes on ``aux``.

Flow: :meth:`run_current` predicts the open image (cache hit: instant) and shows the result as
a hatched layer; it is written to ``predictions/<key>.png`` (status "predicted" if the image
was unlabelled). :meth:`accept` copies it into the editable mask as ONE undo step, keeping
every pixel the user painted this session (``document.fixed_pixels()``), and optionally every
already-labelled pixel (``fill_void_only``). While the user works, the next image in the list
is predicted in the background (``prefetch``); opening an image with a cached prediction shows
it at once. :meth:`cancel` discards a running request's result (a forward pass cannot be
interrupted; it finishes in the background, except that a tiled image stops at the next tile).
A tiled image reports its tiles from the worker through a queued signal: the awaited request's
show as "Predicting <key>: NN % (tile i of n)" (status bar, ``tileProgress`` for the Model
panel). CRF re-runs use the cached probabilities with the painted pixels as fixed constraints,
never the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal

from segstudio.core import attention, class_mapping, uncertainty
from segstudio.core.crf_params import CRFParams
from segstudio.gui.prediction import engine
from segstudio.gui.prediction.cache import CachedPrediction, ProbCache
from segstudio.gui.prediction.engine import LoadedPredictor, ModelSpec, default_crf_params, describe_error
from segstudio.gui.prediction.layers import HeatLayer, PredictionLayer
from segstudio.gui.prediction.menu import build_actions
from segstudio.gui.workers import Workers


def tiles_text(key: str, done: int, total: int) -> str:
    """How far a tiled image's prediction is, for the status bar and the Model panel."""
    return f"Predicting {key}: {100 * done // max(1, total)} % (tile {done} of {total})"


@dataclass(eq=False)
class Shown:
    """The prediction displayed for the open image."""
    key: str
    labels: np.ndarray                 # network labels (project ids)
    probs: np.ndarray | None           # float16 C×H×W
    crf_labels: np.ndarray | None = None
    crf_probs: np.ndarray | None = None
    crf_params: CRFParams | None = None
    saved: bool = False                # read back from predictions/<key>.png (no probabilities)


class PredictionController(QObject):
    modelChanged = Signal()           # .state changed: none / loading / ready / failed
    devicesProbed = Signal(object)    # doctor report (dict)
    predictionChanged = Signal(str)   # key whose displayed prediction changed ("" when cleared)
    busyChanged = Signal(bool)
    mappingNeeded = Signal()          # the loaded model's classes differ from the project's
    mappingChanged = Signal()
    optionsChanged = Signal()         # crf / show / uncertainty toggles (sync widgets)
    message = Signal(str)
    tileProgress = Signal(str, int, int)   # key, tiles done, tiles: the awaited tiled image (GUI thread)
    _tiles = Signal(object, str, int, int)  # the same from the worker thread (queued to _on_tiles)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.win, self.doc = window, window.document
        self.workers = Workers(self, threads=1)
        self.aux = Workers(self, threads=2)
        self.cache = ProbCache()
        self.spec: ModelSpec | None = None
        self.model: LoadedPredictor | None = None
        self.state, self.error = "none", ""
        self.mapping: list[int] | None = None
        self.current: Shown | None = None
        self.crf_enabled = False
        self.crf_params, self.crf_source = default_crf_params()
        self.uncertainty_mode: str | None = None
        self.show_prediction = True
        self.prefetch = True
        self.fill_void_only = False
        self.device_report: dict[str, Any] | None = None
        self._probing = False
        self._want: tuple | None = None
        self._inflight: set[tuple] = set()
        self._discard: set[tuple] = set()
        self._pending_run = False
        self._load_gen = self._crf_gen = self._unc_gen = 0
        self._crf_busy = False
        self._busy = False
        scene = window.canvas.scene()
        self.pred_layer, self.heat_layer = PredictionLayer(), HeatLayer()
        scene.addItem(self.pred_layer)
        scene.addItem(self.heat_layer)
        build_actions(self)              # the Model menu (gui.prediction.menu)
        self.doc.imageChanged.connect(self._image_changed)
        self.doc.labelsChanged.connect(self._labels_changed)
        self.doc.labelsRenumbered.connect(lambda: setattr(self, "_renumbered", True))
        self._renumbered = False
        self.message.connect(lambda text: window.status.showMessage(text, 10000))
        self._tiles.connect(self._on_tiles, Qt.ConnectionType.QueuedConnection)

    # -- model --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._want is not None or self._pending_run or self._crf_busy

    def _sync_busy(self) -> None:
        if self.busy != self._busy:
            self._busy = self.busy
            self.cancel_action.setEnabled(self._busy)
            self.busyChanged.emit(self._busy)

    def set_spec(self, spec: ModelSpec | None) -> None:
        """The model the user chose (loaded on :meth:`load` or on the first run)."""
        self.spec = spec

    def load(self, spec: ModelSpec | None = None) -> None:
        spec = spec or self.spec
        if spec is None:
            self.message.emit("Choose a model file in the Model panel first")
            return
        self.spec = spec
        self._load_gen += 1
        gen = self._load_gen
        self.state, self.error = "loading", ""
        self.modelChanged.emit()
        self.message.emit(f"Loading model {spec.name} …")
        self.workers.submit(engine.load_predictor, spec, on_done=lambda m: self._loaded(gen, m),
                            on_error=lambda e: self._load_failed(gen, e))

    def _loaded(self, gen: int, model: LoadedPredictor) -> None:
        if gen != self._load_gen:
            return
        self.model, self.state = model, "ready"
        self._setup_mapping()
        self.modelChanged.emit()
        info = model.info
        self.message.emit(f"Model ready: {info.get('arch') or info.get('kind')}, {info['num_classes']} classes "
                          f"on {info['device']} ({info['engine']})")
        if self._pending_run:
            self._pending_run = False
            self.run_current()
        else:
            self._prefetch_next()
        self._sync_busy()

    def _load_failed(self, gen: int, exc: BaseException) -> None:
        if gen != self._load_gen:
            return
        self.model, self.state, self.error = None, "failed", describe_error(exc)
        self._pending_run = False
        self.modelChanged.emit()
        self._sync_busy()
        self.message.emit(f"Cannot load the model: {self.error}")

    def probe_devices(self) -> None:
        """Fetch the doctor report in the background (imports torch); emits devicesProbed."""
        if self.device_report is not None:
            self.devicesProbed.emit(self.device_report)
            return
        if self._probing:
            return
        self._probing = True

        def done(rep: dict) -> None:
            self._probing, self.device_report = False, rep
            self.devicesProbed.emit(rep)

        def failed(exc: BaseException) -> None:
            self._probing = False
            self.devicesProbed.emit({"why": f"device check failed: {describe_error(exc)}", "cuda_devices": []})

        self.aux.submit(engine.device_report, on_done=done, on_error=failed)

    # -- class mapping ------------------------------------------------------------------------
    def _setup_mapping(self) -> None:
        if self.model is None:
            return
        names, labels = self.model.class_names, self.doc.labels
        if class_mapping.is_identity(names, labels):
            self.mapping = None
            self.mappingChanged.emit()
        else:
            self.mapping = class_mapping.auto_match(names, labels)
            self.mappingChanged.emit()
            self.message.emit("Model classes differ from the project's labels: "
                              + class_mapping.describe(self.mapping, names, labels))
            self.mappingNeeded.emit()

    def set_mapping(self, mapping: list[int] | None) -> None:
        if mapping == self.mapping:
            return
        self.mapping = list(mapping) if mapping is not None else None
        self.mappingChanged.emit()
        if self.current is not None:
            self._clear_shown()
            self.run_current()

    def _labels_changed(self) -> None:
        """A rename, recolour or added class keeps the shown prediction (redrawn in the new colours);
        a renumbering shows the stored prediction again, rewritten into the new ids."""
        renumbered, self._renumbered = self._renumbered, False
        if not renumbered:
            self._setup_mapping()
            self._display_changed(save=False)
            return
        self.cache.clear()
        self._clear_shown()
        self._setup_mapping()
        key, project = self.doc.key, self.win.project
        if key is None or project is None:
            return

        def shown_again(pred) -> None:
            if pred is not None and key == self.doc.key and self.current is None:
                self.doc.extras["prediction"] = pred
                self._show_saved(key)

        self.aux.submit(project.read_prediction, key, on_done=shown_again,
                        on_error=lambda e: self.message.emit(f"Cannot read the prediction of {key}: "
                                                             f"{describe_error(e)}"))

    # -- predicting -----------------------------------------------------------------------------
    def _ck(self, key: str) -> tuple:
        folder = str(self.win.project.folder) if self.win.project is not None else ""
        assert self.model is not None
        return (folder, key, self.model.identity, tuple(self.mapping) if self.mapping is not None else None)

    def run_current(self) -> None:
        """Predict the open image (Ctrl+R); loads the chosen model first when needed."""
        key, doc = self.doc.key, self.doc
        if key is None or doc.image is None:
            self.message.emit("Open an image first")
            return
        if self.model is None or (self.spec is not None and self.model.spec != self.spec):
            if self.spec is None:
                self.message.emit("Choose a model file in the Model panel first")
                return
            self._pending_run = True
            if self.state != "loading":
                self.load()
            self._sync_busy()
            return
        ck = self._ck(key)
        hit = self.cache.get(ck)
        if hit is not None:
            self._show(key, hit)
            return
        self._discard.discard(ck)
        self._want = ck
        self._sync_busy()
        self.message.emit(f"Predicting {key} …")
        if ck not in self._inflight:
            self._submit(ck, key, rgb=doc.image.rgb)

    def _submit(self, ck: tuple, key: str, rgb: np.ndarray | None = None, path=None) -> None:
        assert self.model is not None
        self._inflight.add(ck)
        fn, arg = (engine.predict, rgb) if rgb is not None else (engine.predict_file, path)
        self.workers.submit(fn, self.model, arg, self.mapping, self.doc.labels, self._tile_reporter(ck, key),
                            on_done=lambda r: self._done(ck, key, r), on_error=lambda e: self._failed(ck, key, e))

    def _tile_reporter(self, ck: tuple, key: str):
        """The request's ``progress(done, total)``: runs on the worker, never touches widgets."""
        def report(done: int, total: int) -> None:
            if ck in self._discard:                # cancelled: stop at this tile boundary
                raise engine.PredictionCancelled(f"{key}: prediction cancelled")
            try:
                self._tiles.emit(ck, key, done, total)
            except RuntimeError:
                pass                               # the window is gone
        return report

    def _on_tiles(self, ck: tuple, key: str, done: int, total: int) -> None:
        if ck != self._want:                       # a prefetch, or a request no longer awaited
            return
        self.message.emit(tiles_text(key, done, total))    # status bar first: both agree in tileProgress slots
        self.tileProgress.emit(key, done, total)

    def _done(self, ck: tuple, key: str, result: tuple[np.ndarray, np.ndarray | None]) -> None:
        self._inflight.discard(ck)
        if ck in self._discard:
            self._discard.discard(ck)
            self._prefetch_next()
            return
        item = self.cache.put(ck, *result)
        if ck == self._want:
            self._want = None
            self._sync_busy()
            if key == self.doc.key:
                self._show(key, item)
                self.message.emit(f"{key}: prediction ready — Enter accepts it into the mask")
        self._prefetch_next()

    def _failed(self, ck: tuple, key: str, exc: BaseException) -> None:
        self._inflight.discard(ck)
        self._discard.discard(ck)
        if isinstance(exc, engine.PredictionCancelled):
            if ck == self._want:                   # asked for again before the worker stopped
                self._want = None
                self.run_current()
            else:
                self._prefetch_next()
            return
        if ck == self._want:
            self._want = None
            self._sync_busy()
        self.message.emit(f"Prediction failed for {key}: {describe_error(exc)}")

    def cancel(self) -> None:
        """Stop waiting: the running request's result (and any CRF run) is discarded."""
        if self._want is not None:
            self._discard.add(self._want)
            self._want = None
        self._pending_run = False
        if self._crf_busy:
            self._crf_gen += 1
            self._crf_busy = False
        self._sync_busy()
        self.message.emit("Cancelled (a forward pass already running finishes in the background; "
                          "its result is discarded)")

    def _prefetch_next(self) -> None:
        if (not self.prefetch or self.model is None or self.state != "ready" or self.win.project is None
                or self._inflight or self.doc.key is None):
            return
        nxt = self.win.file_model.neighbour(self.doc.key, 1)
        path = self.win.file_model.path_of(nxt) if nxt is not None else None
        if nxt is None or path is None:
            return
        ck = self._ck(nxt)
        if ck not in self.cache:
            self._submit(ck, nxt, path=path)

    # -- showing ------------------------------------------------------------------------------
    def _image_changed(self, key: str) -> None:
        self._want = None
        self._crf_gen += 1
        self._crf_busy = False
        self._clear_shown()
        self._sync_busy()
        if key and self.model is not None and self.state == "ready":
            hit = self.cache.get(self._ck(key))
            if hit is not None and self.doc.mask is not None and hit.labels.shape == self.doc.mask.shape:
                self._show(key, hit)
            self._prefetch_next()
        if key and self.current is None:
            self._show_saved(key)

    def _show_saved(self, key: str) -> None:
        """Show the saved, never accepted prediction of the open image as a prediction (not as its
        mask). Forced visible when the image has no saved mask (status "predicted"); hidden when it
        has the user's own mask, which is what the image opens with (Show prediction brings the
        old prediction back, e.g. to compare or to accept it)."""
        pred = self.doc.extras.get("prediction")
        if pred is None or self.doc.mask is None or pred.shape != self.doc.mask.shape:
            return
        self.current = Shown(key, pred, None, saved=True)
        mask_saved = bool(self.doc.extras.get("mask_saved"))
        if mask_saved == self.show_prediction:
            self.show_action.setChecked(not mask_saved)
        self._display_changed(save=False)

    def _clear_shown(self) -> None:
        had = self.current is not None
        self.current = None
        self.pred_layer.clear()
        self.heat_layer.clear()
        if had:
            self.predictionChanged.emit("")

    def _show(self, key: str, item: CachedPrediction) -> None:
        self.current = Shown(key, item.labels, item.probs)
        if not self.show_prediction:
            self.show_action.setChecked(True)      # a new prediction is always shown
        self._display_changed()
        if self.crf_enabled:
            self.run_crf()

    def display_labels(self, key: str | None = None) -> np.ndarray | None:
        """The prediction shown for ``key`` (default: the open image), CRF-refined when enabled."""
        cur = self.current
        if cur is None or (key is not None and cur.key != key):
            return None
        if self.crf_enabled and cur.crf_labels is not None:
            return cur.crf_labels
        return cur.labels

    def display_probs(self) -> np.ndarray | None:
        cur = self.current
        if cur is None:
            return None
        return cur.crf_probs if self.crf_enabled and cur.crf_probs is not None else cur.probs

    def _display_changed(self, save: bool = True) -> None:
        cur = self.current
        if cur is None:
            return
        labels_arr = self.display_labels()
        self.pred_layer.show_labels(labels_arr, self.doc.labels, self.win.canvas.overlay_layer.hidden)
        self.pred_layer.setVisible(self.show_prediction)
        self.predictionChanged.emit(cur.key)
        if save and labels_arr is not None:
            self._save(cur.key, labels_arr, self.display_probs())
        self._update_uncertainty()

    def refresh_display(self) -> None:
        """Redraw the shown prediction (e.g. after classes were hidden), without saving it again."""
        self._display_changed(save=False)

    def _save(self, key: str, labels_arr: np.ndarray, probs: np.ndarray | None = None) -> None:
        project = self.win.project
        if project is None:
            return

        def write() -> str:
            project.write_prediction(key, labels_arr)
            if probs is not None:   # the score "Next image needing attention" ranks by
                attention.record_scores(project, {key: attention.image_uncertainty(probs)})
            return project.status(key).value

        def done(status: str) -> None:
            if self.win.project is project:
                self.doc.statusChanged.emit(key, status)

        self.aux.submit(write, on_done=done,
                        on_error=lambda e: self.message.emit(f"Cannot save the prediction of {key}: "
                                                             f"{describe_error(e)}"))

    def set_show_prediction(self, on: bool) -> None:
        self.show_prediction = bool(on)
        if self.show_action.isChecked() != self.show_prediction:
            self.show_action.setChecked(self.show_prediction)
        self.pred_layer.setVisible(self.show_prediction and self.current is not None)
        self.optionsChanged.emit()

    def set_prediction_opacity(self, value: float) -> None:
        self.pred_layer.setOpacity(max(0.0, min(1.0, value)))

    # -- accept -------------------------------------------------------------------------------
    def accept(self) -> bool:
        """Copy the shown prediction into the mask as ONE undo step (painted pixels are kept)."""
        cur, doc = self.current, self.doc
        if cur is None or cur.key != doc.key or doc.mask is None:
            self.message.emit("No prediction to accept: run the model first (Ctrl+R)")
            return False
        labels_arr = self.display_labels()
        assert labels_arr is not None
        new = engine.merge_accept(labels_arr, doc.mask, doc.fixed_pixels(), doc.labels.void_value,
                                  self.fill_void_only)
        changed = doc.apply_mask(new, "Accept prediction")
        self.set_show_prediction(False)
        self.message.emit(f"{cur.key}: prediction accepted (Ctrl+Z undoes it)" if changed
                          else f"{cur.key}: the mask already equals the prediction")
        return changed

    # -- CRF ----------------------------------------------------------------------------------
    def set_crf_enabled(self, on: bool) -> None:
        on = bool(on)
        if self.crf_action.isChecked() != on:
            self.crf_action.setChecked(on)
            return                                   # toggled() calls back here
        if on == self.crf_enabled:
            return
        self.crf_enabled = on
        self.optionsChanged.emit()
        cur = self.current
        if cur is None:
            return
        if on and (cur.crf_labels is None or cur.crf_params != self.crf_params):
            self.run_crf()
        else:
            if not on and self._crf_busy:
                self._crf_gen += 1
                self._crf_busy = False
                self._sync_busy()
            self._display_changed()

    def set_crf_params(self, params: CRFParams) -> None:
        if params == self.crf_params:
            return
        self.crf_params = params
        if self.crf_enabled and self.current is not None:
            self.run_crf()

    def run_crf(self) -> None:
        """Refine the cached probabilities of the open image (worker); painted pixels are fixed."""
        cur, doc = self.current, self.doc
        if cur is None or doc.image is None or cur.key != doc.key:
            return
        if cur.probs is None:
            self.message.emit("The prediction shown was read from disk without probabilities: run the model "
                              "(Ctrl+R) to refine it with the CRF" if cur.saved else
                              "No probabilities for this image (too large for the memory budget): CRF unavailable")
            return
        self._crf_gen += 1
        gen, params = self._crf_gen, self.crf_params
        fixed = engine.fixed_constraints(doc.mask, doc.fixed_pixels(), doc.labels.void_value)
        self._crf_busy = True
        self._sync_busy()
        self.message.emit(f"{cur.key}: refining with dense CRF …")
        self.aux.submit(engine.refine, doc.image.rgb, cur.probs, params, fixed, doc.labels.dtype,
                        on_done=lambda r: self._crf_done(gen, cur, params, r),
                        on_error=lambda e: self._crf_failed(gen, e))

    def _crf_done(self, gen: int, cur: Shown, params: CRFParams, result) -> None:
        if gen != self._crf_gen or self.current is not cur:
            return
        cur.crf_labels, cur.crf_probs = result
        cur.crf_params = params
        self._crf_busy = False
        self._sync_busy()
        if self.crf_enabled:
            self._display_changed()
        self.message.emit(f"{cur.key}: CRF refinement done")

    def _crf_failed(self, gen: int, exc: BaseException) -> None:
        if gen != self._crf_gen:
            return
        self._crf_busy = False
        self._sync_busy()
        self.message.emit(f"CRF failed: {describe_error(exc)}")

    # -- uncertainty --------------------------------------------------------------------------
    def set_uncertainty_mode(self, mode: str | None) -> None:
        if mode is not None and mode not in uncertainty.MODES:
            raise ValueError(f"unknown uncertainty mode {mode!r}")
        self.uncertainty_mode = mode
        self.optionsChanged.emit()
        self._update_uncertainty()

    def _update_uncertainty(self) -> None:
        self._unc_gen += 1
        probs, mode = self.display_probs(), self.uncertainty_mode
        if mode is None or probs is None:
            self.heat_layer.clear()
            return
        gen, cur = self._unc_gen, self.current

        def done(values: np.ndarray) -> None:
            if gen == self._unc_gen and self.current is cur:
                self.heat_layer.show_values(values)
                self.heat_layer.setVisible(True)

        self.aux.submit(uncertainty.uncertainty, probs, mode, on_done=done,
                        on_error=lambda e: self.message.emit(f"Uncertainty map failed: {describe_error(e)}"))

    # -- tests / shutdown -----------------------------------------------------------------------
    def wait(self, msecs: int = -1) -> None:
        """Tests: let running jobs finish (their callbacks are delivered by the event loop)."""
        self.workers.wait(msecs)
        self.aux.wait(msecs)
