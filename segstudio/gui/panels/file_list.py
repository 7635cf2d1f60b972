"""File list panel: the folder's images with a coloured status marker (on a thumbnail), a
status filter, sorting by what needs attention, and "mark reviewed".

:class:`FileListModel` lists the folder on a worker thread (``os.scandir`` + natural sort,
so 100,000 files never freeze the window), exposes rows in chunks through
``canFetchMore``/``fetchMore``, and learns all statuses in one background pass (visible rows
whose status is not known yet ask the project lazily). Thumbnails come from
:class:`~segstudio.gui.thumbnails.ThumbnailCache` (asked only by painted rows, made on a
worker, cached in memory and under ``segstudio/thumbs/``). Sorting by attention orders the
rows by a per-image score (``core.attention``: the model's mean entropy recorded when
predicting, or 1 − mIoU against the attached ground truth), unscored images last; Image ▸
"Next image needing attention" (Ctrl+J) jumps along that order.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDockWidget, QHBoxLayout, QLabel, QListView, QPushButton,
                               QVBoxLayout, QWidget)

from segstudio.core import attention
from segstudio.core.images import no_images_error, scan_image_names
from segstudio.core.project import Project, Status, keys_for_names
from segstudio.gui.theme import STATUS_COLORS
from segstudio.gui.thumbnails import ThumbnailCache
from segstudio.gui.workers import Workers

AREA = Qt.DockWidgetArea.LeftDockWidgetArea
BATCH = 500
STATUSES = list(Status)
KeyRole = Qt.ItemDataRole.UserRole + 1
StatusRole = Qt.ItemDataRole.UserRole + 2


class FolderScan(NamedTuple):
    keys: list[str]
    paths: list[Path]
    skipped: list[str]          # one message per skipped entry
    empty: str = ""             # without images: why, naming subfolders that hold some


def scan_folder(folder: Path) -> FolderScan:
    """Keys and paths of the folder's images, as ``Project.images`` has them (paths are built
    lazily for big folders), and one message per skipped entry (symlink loop, FIFO, …)."""
    folder = Path(folder)
    if not folder.is_dir():
        return FolderScan([], [], [], f"{folder}: not a folder")
    listing = scan_image_names(folder)
    names = listing.names
    keys = keys_for_names(names)
    paths = [folder / n for n in names] if len(names) < 5000 else _LazyPaths(folder, names)
    empty = "" if names else str(no_images_error(folder, len(listing.skipped)))
    return FolderScan(keys, paths, listing.messages(), empty)


class _LazyPaths(list):
    """Paths built on access (a list of names that answers ``[i]`` with ``folder / name``)."""

    def __init__(self, folder: Path, names: list[str]) -> None:
        super().__init__(names)
        self.folder = folder

    def __getitem__(self, i):  # type: ignore[override]
        return self.folder / super().__getitem__(i)


def bulk_statuses(project: Project, keys: list[str]) -> list[Status]:
    """``project.status`` for many keys (two directory listings, see ``Project.statuses``)."""
    found = project.statuses(keys)
    return [found[k] for k in keys]


def _status_icon(status: Status) -> QIcon:
    pm = QPixmap(12, 12)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(STATUS_COLORS[status.value]))
    p.drawEllipse(1, 1, 10, 10)
    p.end()
    return QIcon(pm)


THUMB = 48


def _thumb_icon(img: QImage, status: Status) -> QIcon:
    """The thumbnail centred in a THUMB×THUMB square with the status dot in its corner."""
    pm = QPixmap(THUMB, THUMB)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.drawImage((THUMB - img.width()) // 2, (THUMB - img.height()) // 2, img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QColor(0, 0, 0))
    p.setBrush(QColor(STATUS_COLORS[status.value]))
    p.drawEllipse(THUMB - 14, THUMB - 14, 12, 12)
    p.end()
    return QIcon(pm)


class FileListModel(QAbstractListModel):
    listed = Signal(int)       # number of images, when the scan finished
    scanFailed = Signal(str)
    skipped = Signal(list)     # "<path>: <why>" per folder entry that is not a readable image

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers = Workers(self, threads=1)
        self.project: Project | None = None
        self.keys: list[str] = []
        self.paths: list[Path] = []
        self._row_of: dict[str, int] = {}
        self._status = np.full(0, -1, np.int8)        # index into STATUSES, -1 unknown
        self._visible = np.zeros(0, np.int64)        # indices of keys passing the filter
        self._visible_pos: dict[int, int] = {}
        self._fetched = 0
        self._filter: set[Status] | None = None
        self._gen = 0
        self._icons: dict[Status, QIcon] = {}
        self._scores: dict[str, float] | None = None      # sort key (None: file order)
        self.thumbs: ThumbnailCache | None = None
        self.empty_reason = ""         # the last listing had no images: why (see scan_folder)
        self.show_thumbnails = True
        self._thumb_icons: dict[tuple[str, Status], QIcon] = {}

    # -- loading ---------------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        self._gen += 1
        self.beginResetModel()
        self.project = project
        self.keys, self.paths, self._row_of = [], [], {}
        self._status = np.full(0, -1, np.int8)
        self._visible = np.zeros(0, np.int64)
        self._visible_pos = {}
        self._fetched = 0
        self._scores = None
        self._thumb_icons = {}
        if self.thumbs is not None:
            self.thumbs.ready.disconnect(self._thumb_ready)
            self.thumbs.clear()
        self.thumbs = ThumbnailCache(project.store if project is not None else None, THUMB, parent=self)
        self.thumbs.ready.connect(self._thumb_ready)
        self.endResetModel()
        if project is not None:
            gen = self._gen
            self.workers.submit(scan_folder, project.folder, on_done=lambda r: self._listed(gen, r),
                                on_error=lambda e: self.scanFailed.emit(str(e)))

    def _listed(self, gen: int, result: FolderScan) -> None:
        if gen != self._gen:
            return
        self.beginResetModel()
        self.keys, self.paths, skipped, self.empty_reason = result
        self._row_of = {k: i for i, k in enumerate(self.keys)}
        self._status = np.full(len(self.keys), -1, np.int8)
        self._refilter()
        self.endResetModel()
        self.listed.emit(len(self.keys))
        if skipped:
            self.skipped.emit(skipped)
        project, keys = self.project, list(self.keys)
        self.workers.submit(bulk_statuses, project, keys, on_done=lambda st: self._statuses(gen, 0, st))

    def _statuses(self, gen: int, start: int, statuses: list[Status], overwrite: bool = False) -> None:
        if gen != self._gen:
            return
        codes = np.array([STATUSES.index(s) for s in statuses], np.int8)
        block = self._status[start:start + len(codes)]
        unknown = np.ones(len(block), bool) if overwrite else block < 0
        block[unknown] = codes[unknown]   # statuses set meanwhile on the GUI thread win
        if self._fetched:
            self.dataChanged.emit(self.index(0), self.index(self._fetched - 1), [Qt.ItemDataRole.DecorationRole])

    def refresh_statuses(self) -> None:
        """Read every status again (after a batch or an accept-all changed many of them)."""
        if self.project is None or not self.keys:
            return
        gen, project, keys = self._gen, self.project, list(self.keys)
        self.workers.submit(bulk_statuses, project, keys, on_done=lambda st: self._statuses(gen, 0, st, True))

    def wait(self) -> None:
        self.workers.wait()
        if self.thumbs is not None:
            self.thumbs.wait()

    # -- order -------------------------------------------------------------------------------
    def set_order(self, scores: dict[str, float] | None) -> None:
        """Rows by descending ``scores`` (unscored last, file order among equals); None: file order."""
        self.beginResetModel()
        self._scores = dict(scores) if scores is not None else None
        self._refilter()
        self.endResetModel()

    # -- thumbnails ----------------------------------------------------------------------------
    def set_show_thumbnails(self, on: bool) -> None:
        self.show_thumbnails = bool(on)
        if self._fetched:
            self.dataChanged.emit(self.index(0), self.index(self._fetched - 1), [Qt.ItemDataRole.DecorationRole])

    def _thumb_ready(self, key: str) -> None:
        i = self._row_of.get(key)
        if i is None:
            return
        if not self._visible_pos:
            self._visible_pos = {int(v): r for r, v in enumerate(self._visible)}
        row = self._visible_pos.get(i, -1)
        if 0 <= row < self._fetched:
            ix = self.index(row)
            self.dataChanged.emit(ix, ix, [Qt.ItemDataRole.DecorationRole])

    def _decoration(self, i: int) -> QIcon:
        st = self.status_of(i)
        if self.show_thumbnails and self.thumbs is not None:
            key = self.keys[i]
            icon = self._thumb_icons.get((key, st))
            if icon is not None:
                return icon
            img = self.thumbs.get(key, self.paths[i])
            if img is not None:
                if len(self._thumb_icons) > 4000:
                    self._thumb_icons.clear()
                icon = self._thumb_icons[(key, st)] = _thumb_icon(img, st)
                return icon
        if st not in self._icons:
            self._icons[st] = _status_icon(st)
        return self._icons[st]

    # -- filter ------------------------------------------------------------------------------
    def set_filter(self, statuses: set[Status] | None) -> None:
        self.beginResetModel()
        self._filter = set(statuses) if statuses else None
        self._refilter()
        self.endResetModel()

    def _refilter(self) -> None:
        n = len(self.keys)
        if self._filter is None:
            self._visible = np.arange(n)
        else:
            for i in np.flatnonzero(self._status < 0):   # still unknown: ask now
                self._status[i] = STATUSES.index(self.status_of(int(i)))
            wanted = np.array([STATUSES.index(s) for s in self._filter], np.int8)
            self._visible = np.flatnonzero(np.isin(self._status, wanted))
        if self._scores is not None and len(self._visible):
            sc = np.array([self._scores.get(self.keys[int(i)], -np.inf) for i in self._visible])
            self._visible = self._visible[np.argsort(-sc, kind="stable")]
        self._visible_pos = {}
        self._fetched = min(BATCH, len(self._visible))

    # -- Qt model API --------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._fetched

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        return not parent.isValid() and self._fetched < len(self._visible)

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:
        if parent.isValid():
            return
        extra = min(BATCH, len(self._visible) - self._fetched)
        if extra <= 0:
            return
        self.beginInsertRows(QModelIndex(), self._fetched, self._fetched + extra - 1)
        self._fetched += extra
        self.endInsertRows()

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= self._fetched:
            return None
        i = int(self._visible[index.row()])
        if role == Qt.ItemDataRole.DisplayRole or role == KeyRole:
            return self.keys[i]
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(i)
        if role == StatusRole:
            return self.status_of(i).value
        if role == Qt.ItemDataRole.ToolTipRole:
            score = self._scores.get(self.keys[i]) if self._scores else None
            return f"{self.paths[i]}\n{self.status_of(i).value}" + (f"\nscore {score:.3f}" if score is not None else "")
        return None

    # -- queries --------------------------------------------------------------------------------
    def status_of(self, i: int) -> Status:
        code = int(self._status[i])
        if code < 0:
            st = self.project.status(self.keys[i]) if self.project is not None else Status.UNLABELLED
            self._status[i] = STATUSES.index(st)
            return st
        return STATUSES[code]

    def path_of(self, key: str) -> Path | None:
        i = self._row_of.get(key)
        return None if i is None else self.paths[i]

    def row_of(self, key: str) -> int:
        """Row of ``key`` in the filtered list (fetching rows up to it), -1 when filtered out."""
        i = self._row_of.get(key)
        if i is None:
            return -1
        if not self._visible_pos:
            self._visible_pos = {int(v): r for r, v in enumerate(self._visible)}
        row = self._visible_pos.get(i, -1)
        while row >= self._fetched and self.canFetchMore():
            self.fetchMore()
        return row

    def key_at(self, row: int) -> str | None:
        if 0 <= row < len(self._visible):
            while row >= self._fetched and self.canFetchMore():
                self.fetchMore()
            return self.keys[int(self._visible[row])]
        return None

    def visible_count(self) -> int:
        return len(self._visible)

    def neighbour(self, key: str | None, step: int) -> str | None:
        if not len(self._visible):
            return None
        row = self.row_of(key) if key is not None else -1
        if row < 0:
            return self.key_at(0)
        return self.key_at(row + step)

    def set_status(self, key: str, status: Status | str) -> None:
        i = self._row_of.get(key)
        if i is None:
            return
        self._status[i] = STATUSES.index(Status(status))
        if not self._visible_pos:
            self._visible_pos = {int(v): r for r, v in enumerate(self._visible)}
        row = self._visible_pos.get(i, -1)
        if 0 <= row < self._fetched:
            ix = self.index(row)
            self.dataChanged.emit(ix, ix)


class FileListPanel(QWidget):
    activated = Signal(str)   # key chosen by the user

    def __init__(self, model: FileListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.view = QListView()
        self.view.setModel(model)
        self.view.setUniformItemSizes(True)
        self.view.setIconSize(QSize(THUMB, THUMB))
        self.view.setSelectionMode(QListView.SelectionMode.ExtendedSelection)   # Accept all ▸ selected
        self.workers = Workers(self, threads=1)
        self.sort = QComboBox()
        self.sort.setObjectName("attentionSort")
        self.sort.addItem("File order", None)
        self.sort.addItem("Most uncertain first", "uncertainty")
        self.sort.addItem("Worst mIoU vs ground truth first", "error")
        self.thumbs_box = QCheckBox("Thumbnails")
        self.thumbs_box.setChecked(model.show_thumbnails)
        self.thumbs_box.toggled.connect(self._thumbs_toggled)
        self.scores: dict[str, float] = {}
        self._sort_gen = 0
        self.filter = QComboBox()
        self.filter.addItem("All images", None)
        for st in Status:
            self.filter.addItem(st.value.capitalize(), st)
        self.filter.addItem("Needs work (unlabelled + predicted)", "todo")
        self.count_label = QLabel("")
        self.review_button = QPushButton("Mark reviewed")
        top = QHBoxLayout()
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.filter, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        sort_row = QHBoxLayout()
        sort_row.addWidget(QLabel("Sort:"))
        sort_row.addWidget(self.sort, 1)
        sort_row.addWidget(self.thumbs_box)
        layout.addLayout(sort_row)
        layout.addWidget(self.view, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label, 1)
        bottom.addWidget(self.review_button)
        layout.addLayout(bottom)
        self.filter.currentIndexChanged.connect(self._filter_changed)
        self.sort.currentIndexChanged.connect(lambda _i: self.load_scores())
        model.listed.connect(lambda _n: self.sort.currentData() and self.load_scores())
        self.view.clicked.connect(self._clicked)
        self.view.activated.connect(self._clicked)
        model.listed.connect(lambda _n: self._update_count())
        model.modelReset.connect(self._update_count)

    def _filter_changed(self) -> None:
        data = self.filter.currentData()
        if data is None:
            self.model.set_filter(None)
        elif data == "todo":
            self.model.set_filter({Status.UNLABELLED, Status.PREDICTED})
        else:
            self.model.set_filter({data})

    def _thumbs_toggled(self, on: bool) -> None:
        self.model.set_show_thumbnails(on)
        self.view.setIconSize(QSize(THUMB, THUMB) if on else QSize(12, 12))

    def selected_keys(self) -> list[str]:
        return [ix.data(KeyRole) for ix in self.view.selectionModel().selectedIndexes() if ix.data(KeyRole)]

    # -- attention ---------------------------------------------------------------------------
    def kind(self) -> str:
        return self.sort.currentData() or "uncertainty"

    def load_scores(self, then=None) -> None:
        """Scores of the chosen kind, computed on a worker; the list is re-sorted when they arrive."""
        project = self.model.project
        if project is None:
            return
        self._sort_gen += 1
        gen, kind = self._sort_gen, self.kind()
        fn = attention.read_scores if kind == "uncertainty" else attention.error_scores
        self.workers.submit(fn, project, on_done=lambda sc: self._scored(gen, sc, then))

    def _scored(self, gen: int, scores: dict[str, float], then) -> None:
        if gen != self._sort_gen:
            return
        self.scores = scores
        self.model.set_order(scores if self.sort.currentData() else None)
        self._update_count()
        if then is not None:
            then()

    def next_needing_attention(self, current: str | None) -> str | None:
        """The image after ``current`` in descending score order (None when there is none)."""
        return attention.next_key(self.model.keys, self.scores, current)

    def no_scores_text(self) -> str:
        if self.kind() == "error":
            return "No image can be scored against ground truth: attach a ground-truth folder (Metrics panel)."
        return ("No uncertainty scores yet: run `segstudio predict FOLDER` (it records each image's mean "
                "entropy), or sort by worst mIoU where ground truth is attached.")

    def _clicked(self, index: QModelIndex) -> None:
        key = index.data(KeyRole)
        if key:
            self.activated.emit(key)

    def _update_count(self) -> None:
        total, shown = len(self.model.keys), self.model.visible_count()
        self.count_label.setText(f"{shown} of {total} images" if shown != total else f"{total} images")
        self.count_label.setToolTip("" if total else self.model.empty_reason)

    def select(self, key: str | None) -> None:
        if key is None:
            self.view.clearSelection()
            return
        row = self.model.row_of(key)
        if row >= 0:
            ix = self.model.index(row)
            self.view.setCurrentIndex(ix)
            self.view.scrollTo(ix)


def create_panel(window) -> QDockWidget:
    panel = FileListPanel(window.file_model)
    dock = QDockWidget("Images", window)
    dock.setObjectName("images_dock")
    dock.setWidget(panel)
    panel.activated.connect(window.open_image)
    panel.review_button.clicked.connect(window.mark_reviewed)
    window.document.imageChanged.connect(lambda key: panel.select(key or None))
    window.file_panel = panel
    act = QAction("Next image needing &attention", window)
    act.setObjectName("next_attention")
    act.setShortcut("Ctrl+J")
    act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    act.setToolTip("Highest model uncertainty first (or worst mIoU against ground truth: Sort in the Images panel)")
    act.triggered.connect(lambda: _go_next(window, panel))
    window.addAction(act)
    if "image" in getattr(window, "menus", {}):
        window.menus["image"].addAction(act)
    return dock


def _go_next(window, panel: FileListPanel) -> None:
    def jump() -> None:
        if not panel.scores:
            window.status.showMessage(panel.no_scores_text(), 8000)
            return
        key = panel.next_needing_attention(window.document.key)
        if key is None:
            window.status.showMessage("No further image needs attention (end of the ranking).", 5000)
        else:
            window.open_image(key)
            window.status.showMessage(f"{key}: score {panel.scores[key]:.3f} ({panel.kind()})", 5000)
    if panel.scores and panel.kind() == "error":
        jump()                      # mIoU scores read every mask: reuse them (re-sorting reloads)
    else:
        panel.load_scores(then=jump)   # fresh (a predict may have run meanwhile), then jump
