"""The app must survive many Python-side calls into PySide6 (guard for the 6.12.0 refcount bug)."""

from PySide6.QtCore import QObject, QRectF, Signal
from PySide6.QtWidgets import QGraphicsRectItem

from segstudio.gui import qtfix


class _O(QObject):
    sig = Signal(object)


def test_many_void_calls_and_emits_do_not_abort(qtbot):
    qtfix.install()
    o = _O()
    o.sig.connect(lambda v: None)
    item = QGraphicsRectItem(0, 0, 4, 4)
    for _ in range(20000):      # more than None/True have references in a fresh interpreter
        o.sig.emit((1, 2))
        item.update(QRectF(0, 0, 1, 1))
    assert not qtfix.drains_singletons() or qtfix._state["installed"]
