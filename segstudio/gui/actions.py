"""Actions, menus, tool bars and keyboard shortcuts of the main window.

Shortcuts: class keys (0–9, Shift+0–9 past ten, or the key set in the label editor; bound by
gui.class_keymap), B brush, E eraser, F fill, P polygon, R replace-in-rectangle,
I picker, L preserve labels, [ / ] brush size, Tab overlay, O outline, Ctrl+Z undo,
Ctrl+Shift+Z / Ctrl+Y redo, Ctrl+S save, PgDown / PgUp next / previous image,
Ctrl+Shift+R mark reviewed (Ctrl+R / Enter: run / accept the model, see
gui.prediction), Ctrl+0 fit, Ctrl+1 actual size, Ctrl+E export.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QMainWindow, QMenu, QSlider, QSpinBox, QToolBar

from segstudio.gui.canvas import smart_tools as S, tools as T

# The window is passed in (never imported here: main_window imports this module).
MainWindow = QMainWindow

TOOL_KEYS = {T.BRUSH: "B", T.ERASER: "E", T.FILL: "F", T.POLYGON: "P", T.REPLACE: "R", T.PICKER: "I",
             S.REGION: "N", S.SUPERPIXEL: "S", S.WAND: "W", S.GRABCUT: "G", S.SCRIBBLE: "C", S.SAM: "A",
             S.CLASS_SWAP: "X", S.LEARN: "K"}
TOOL_LABELS = {**T.TOOL_NAMES, **S.SMART_NAMES}
TOOL_SHORT = {**T.SHORT_NAMES, **S.SMART_SHORT}


class Actions:
    def __init__(self, win: MainWindow) -> None:
        self.win = win
        self.menus: dict[str, QMenu] = {}
        self.by_name: dict[str, QAction] = {}
        doc, state = win.document, win.tool_state
        a = self._add
        # file
        a("open", "&Open folder…", QKeySequence.StandardKey.Open, win.choose_folder)
        a("save", "&Save", "Ctrl+S", lambda: doc.save())
        a("close_folder", "&Close folder", None, win.close_folder)
        a("quit", "&Quit", "Ctrl+Q", win.close)
        # export / retrain / about (dialogs in segstudio.gui.dialogs, imported when first used)
        a("export", "&Export…", "Ctrl+E", lambda: _dialogs().open_export_dialog(win))
        a("import", "&Import labels…", None, lambda: _import_dialog(win))
        a("retrain", "&Retrain on my corrections…", None, lambda: _dialogs().open_train_dialog(win))
        a("about", "&About SegStudio", None, lambda: _about(win))
        a("learn", "&Learn while I label (retrain in the background)", None,
          lambda on: win.learning.set_enabled(on), checkable=True)
        a("accept_all", "&Accept all predictions…", None, lambda: _open("accept_dialog", "open_accept_dialog", win))
        a("shortcuts", "&Keyboard shortcuts", "F1", lambda: _open("shortcuts_dialog", "open_shortcuts_dialog", win))
        # edit
        a("undo", "&Undo", "Ctrl+Z", doc.undo)
        a("redo", "&Redo", ["Ctrl+Shift+Z", "Ctrl+Y"], doc.redo)
        a("edit_labels", "Edit &labels…", None, win.edit_labels)
        a("mark_reviewed", "Mark &reviewed", "Ctrl+Shift+R", win.mark_reviewed)  # Ctrl+R: run model (model panel)
        # view
        a("toggle_overlay", "Show &overlay", "Tab", win.canvas.set_overlay_visible, checkable=True, checked=True)
        a("outline", "Outline &only", "O", win.canvas.set_outline, checkable=True)
        a("fit", "&Fit to window", "Ctrl+0", win.canvas.fit)
        a("actual_size", "&Actual size (1:1)", "Ctrl+1", win.canvas.actual_size)
        a("zoom_in", "Zoom &in", ["Ctrl+=", "Ctrl++"], lambda: win.canvas.zoom_by(1.25))
        a("zoom_out", "Zoom o&ut", "Ctrl+-", lambda: win.canvas.zoom_by(0.8))
        # image
        a("next", "&Next image", "PgDown", lambda: win.step_image(1))
        a("previous", "&Previous image", "PgUp", lambda: win.step_image(-1))
        # tools: ToolState.tool is the one source of truth; a button only asks for its tool
        # (unchecking, as the exclusive group does to the others, asks for nothing) and
        # _sync_from_state checks the button of whatever tool the state holds.
        self.tool_group = QActionGroup(win)
        for name, key in TOOL_KEYS.items():
            act = a(f"tool_{name}", TOOL_LABELS[name], key,
                    lambda on, n=name: state.set_tool(n) if on else None, checkable=True)
            act.setIconText(TOOL_SHORT[name])
            act.setToolTip(f"{TOOL_LABELS[name]} ({key})")
            self.tool_group.addAction(act)
        self.by_name[f"tool_{state.tool}"].setChecked(True)
        a("snap_superpixels", "Snap region to &superpixels", None, state.set_snap, checkable=True)
        a("preserve", "&Preserve labels (paint over void only)", "L", state.set_preserve, checkable=True)
        a("smaller", "Brush smaller", "[", lambda: state.grow(-1))
        a("bigger", "Brush bigger", "]", lambda: state.grow(1))
        state.changed.connect(self._sync_from_state)
        self._build_menus()
        self._build_toolbars()

    def _add(self, name: str, text: str, shortcut, slot: Callable, checkable: bool = False,
             checked: bool = False) -> QAction:
        act = QAction(text, self.win)
        if shortcut is not None:
            if isinstance(shortcut, list):
                act.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                act.setShortcut(QKeySequence(shortcut))
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if checkable:
            act.setCheckable(True)
            act.setChecked(checked)
            act.toggled.connect(slot)
        else:
            act.triggered.connect(lambda _=False: slot())
        self.win.addAction(act)   # shortcuts work even when the action is in no visible menu
        self.by_name[name] = act
        return act

    def __getitem__(self, name: str) -> QAction:
        return self.by_name[name]

    def _pick_class(self, i: int) -> None:
        if i < self.win.document.labels.num_classes:
            self.win.tool_state.set_class(i)
            if self.win.tool_state.tool in (T.ERASER, T.PICKER):
                self.win.tool_state.set_tool(T.BRUSH)

    def _sync_from_state(self) -> None:
        state = self.win.tool_state
        act = self.by_name.get(f"tool_{state.tool}")
        if act is not None and not act.isChecked():
            act.setChecked(True)
        if self.by_name["preserve"].isChecked() != state.preserve:
            self.by_name["preserve"].setChecked(state.preserve)
        if self.size_box.value() != state.brush_size:
            self.size_box.setValue(state.brush_size)
        for box, value in ((getattr(self, "tolerance_box", None), state.tolerance),
                           (getattr(self, "sp_size_box", None), state.sp_size),
                           (getattr(self, "swap_ratio_box", None), state.swap_ratio)):
            if box is not None and box.value() != value:
                box.setValue(value)
        if self.by_name["snap_superpixels"].isChecked() != state.snap_superpixels:
            self.by_name["snap_superpixels"].setChecked(state.snap_superpixels)

    # -- menus ------------------------------------------------------------------------------
    def _menu(self, key: str, title: str, names: list[str | None]) -> QMenu:
        menu = self.win.menuBar().addMenu(title)
        for n in names:
            if n is None:
                menu.addSeparator()
            else:
                menu.addAction(self.by_name[n])
        self.menus[key] = menu
        return menu

    def _build_menus(self) -> None:
        f = self._menu("file", "&File", ["open"])
        self.recent_menu = f.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        for n in (None, "save", "import", "export", "close_folder", None, "quit"):
            f.addSeparator() if n is None else f.addAction(self.by_name[n])
        self._menu("edit", "&Edit", ["undo", "redo", None, "edit_labels", "mark_reviewed"])
        self._menu("view", "&View", ["toggle_overlay", "outline", None, "fit", "actual_size", "zoom_in", "zoom_out"])
        self.menus["panels"] = self.menus["view"].addMenu("&Panels")
        self._menu("image", "&Image", ["next", "previous", None, "mark_reviewed"])
        self._menu("tools", "&Tools", [f"tool_{n}" for n in T.TOOL_NAMES] + [None] + [f"tool_{n}" for n in S.SMART_NAMES]
                   + ["snap_superpixels", None, "preserve", "smaller", "bigger"])
        # Model menu (panels add their own entries through win.menus["model"]) and Help menu
        self._menu("model", "&Model", ["retrain", "learn", "accept_all", None])
        self._menu("help", "&Help", ["shortcuts", "about"])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.win.settings.recent_folders():
            self.recent_menu.addAction(folder, lambda f=folder: self.win.open_folder(f))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)

    # -- tool bars ---------------------------------------------------------------------------
    def _build_toolbars(self) -> None:
        win, state = self.win, self.win.tool_state
        tb = self._tool_bar("Tools", "tools_toolbar", T.TOOL_NAMES)
        tb.addWidget(QLabel(" Size "))
        self.size_box = _spin_box(1, 1000, state.brush_size, state.set_brush_size, " px")
        tb.addWidget(self.size_box)
        self.preserve_box = QCheckBox("Preserve labels")
        self.preserve_box.toggled.connect(self.by_name["preserve"].setChecked)
        self.by_name["preserve"].toggled.connect(self.preserve_box.setChecked)
        tb.addWidget(self.preserve_box)
        tb.addWidget(QLabel(" Replace "))
        self.replace_source = QComboBox()
        self.replace_source.setToolTip("Class replaced by the rectangle tool")
        self.replace_source.currentIndexChanged.connect(self._replace_source_changed)
        tb.addWidget(self.replace_source)
        win.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)

        vb = QToolBar("View", win)
        vb.setObjectName("view_toolbar")
        vb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        # Fit and 1:1 first: a narrow window (1280 px) hides the last items in the overflow menu
        self.by_name["fit"].setIconText("Fit")
        self.by_name["actual_size"].setIconText("1:1")
        for n in ("fit", "actual_size", "toggle_overlay", "outline"):
            vb.addAction(self.by_name[n])
        vb.addWidget(QLabel(" Overlay "))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(win.canvas.overlay_layer.opacity() * 100))
        self.opacity.setFixedWidth(100)
        self.opacity.valueChanged.connect(lambda v: win.canvas.set_overlay_opacity(v / 100))
        vb.addWidget(self.opacity)
        win.addToolBar(Qt.ToolBarArea.TopToolBarArea, vb)
        self.toolbars = [tb, vb, self._build_smart_toolbar()]
        win.document.labelsChanged.connect(self.fill_replace_sources)
        self.fill_replace_sources()

    def _tool_bar(self, title: str, object_name: str, tools) -> QToolBar:
        """A text-only tool bar with the buttons of ``tools`` and a separator."""
        bar = QToolBar(title, self.win)
        bar.setObjectName(object_name)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for n in tools:
            bar.addAction(self.by_name[f"tool_{n}"])
        bar.addSeparator()
        return bar

    def _build_smart_toolbar(self) -> QToolBar:
        """Second tool-bar row: the smart tools and their settings (wand tolerance, superpixel size)."""
        win, state = self.win, self.win.tool_state
        win.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        sb = self._tool_bar("Smart tools", "smart_toolbar", S.SMART_NAMES)
        sb.addWidget(QLabel(" Tolerance "))
        self.tolerance_box = _spin_box(0, 255, state.tolerance, state.set_tolerance, "",
                                       "Magic wand colour tolerance (Shift+wheel over the image)")
        sb.addWidget(self.tolerance_box)
        sb.addWidget(QLabel(" Superpixels "))
        self.sp_size_box = _spin_box(4, 400, state.sp_size, state.set_sp_size, " px",
                                     "Superpixel size (Shift+wheel with the superpixel brush)")
        sb.addWidget(self.sp_size_box)
        sb.addWidget(QLabel(" Swap τ "))
        self.swap_ratio_box = _spin_box(0, 100, state.swap_ratio, state.set_swap_ratio, " %",
                                        "Class swap: pixels where the model gives the current class at least this "
                                        "share of its top class's probability (Shift+wheel over the image)")
        sb.addWidget(self.swap_ratio_box)
        snap = QCheckBox("Snap region")
        snap.setToolTip("Region relabel follows superpixel boundaries")
        snap.toggled.connect(self.by_name["snap_superpixels"].setChecked)
        self.by_name["snap_superpixels"].toggled.connect(snap.setChecked)
        sb.addWidget(snap)
        win.addToolBar(Qt.ToolBarArea.TopToolBarArea, sb)
        return sb

    def fill_replace_sources(self) -> None:
        labels = self.win.document.labels
        self.replace_source.blockSignals(True)
        self.replace_source.clear()
        self.replace_source.addItem("class under first corner", None)
        for c in labels.classes:
            self.replace_source.addItem(f"{c.id}: {c.name}", c.id)
        self.replace_source.addItem(f"{labels.void_name} (void)", labels.void_value)
        self.replace_source.blockSignals(False)
        self.win.tool_state.replace_source = None

    def _replace_source_changed(self) -> None:
        self.win.tool_state.replace_source = self.replace_source.currentData()
        if self.win.tool_state.tool != T.REPLACE:
            self.win.tool_state.set_tool(T.REPLACE)

    def set_editing_enabled(self, on: bool) -> None:
        for n in ("save", "close_folder", "undo", "redo", "edit_labels", "mark_reviewed", "next", "previous"):
            self.by_name[n].setEnabled(on)
        for tb in self.toolbars:
            tb.setEnabled(on)
        for n in ("export", "import", "retrain", "accept_all"):   # need an open folder
            self.by_name[n].setEnabled(on)


def _spin_box(lo: int, hi: int, value: int, slot: Callable, suffix: str = "", tip: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSuffix(suffix)
    box.setToolTip(tip)
    box.setValue(value)
    box.valueChanged.connect(slot)
    return box


def _dialogs():
    import segstudio.gui.dialogs as dialogs
    return dialogs


def _import_dialog(win):
    from segstudio.gui.dialogs.import_dialog import open_import_dialog
    return open_import_dialog(win)


def _open(module: str, fn: str, win) -> None:
    """Open a dialog of segstudio.gui.dialogs.<module> through its opener (imported when first used)."""
    import importlib
    getattr(importlib.import_module(f"segstudio.gui.dialogs.{module}"), fn)(win)


def _about(win) -> None:
    from segstudio.gui.about import show_about
    show_about(win)
