"""``cityscapes``: ``*_gtFine_labelTrainIds.png`` / ``*_gtFine_labelIds.png`` (also ``gtCoarse``).

The source folder is searched recursively (``gtFine/<split>/<city>/``). Masks pair with images by
the part of the name before ``_gtFine_``/``_gtCoarse_`` (an image may keep Cityscapes'
``_leftImg8bit`` suffix). Where both files exist for an image, ``labelTrainIds`` is read.

* ``labelTrainIds``: train id = class id of the source label set, 255 void.
* ``labelIds``: with the Cityscapes label set (the default) the official label ids, mapped to train
  ids as cityscapesScripts does (road 7 -> 0, …; the 15 ids Cityscapes does not train on -> void).
  With another source label set (a SegStudio export's ``labels.json``, or ``--labels``) they hold
  class ids like train ids, as SegStudio writes them for such sets.
"""

from __future__ import annotations

import re
from pathlib import Path

from segstudio.core.export.cityscapes import NUM_LABEL_IDS, VOID, is_cityscapes_set, label_id_to_train_id
from segstudio.core.importers.common import (Decoded, ReadContext, Scan, classes_of, find_files, ids_to_local,
                                             mask_items, read_values, source_label_set, values_to_local)
from segstudio.core.labels import preset

_NAME = re.compile(r"^(?P<stem>.+)_(gtFine|gtCoarse)_(?P<kind>labelTrainIds|labelIds)\.png$", re.IGNORECASE)


def read(ctx: ReadContext) -> Scan:
    scan = Scan()
    labels, where = source_label_set(ctx, ctx.source, preset("cityscapes"))
    assert labels is not None
    scan.classes, scan.label_set, scan.label_set_source = classes_of(labels), labels, where
    official = is_cityscapes_set(labels)
    chosen: dict[str, Path] = {}
    for f in find_files(ctx.source, ("*_label*Ids.png",), recursive=True):
        m = _NAME.match(f.name)
        if not m:
            continue
        stem = str(f.parent / m.group("stem"))
        if stem not in chosen or m.group("kind").lower() == "labeltrainids":
            if stem in chosen:
                scan.skip("labelIds file not read (its labelTrainIds file is)", str(chosen[stem]))
            chosen[stem] = f
        else:
            scan.skip("labelIds file not read (its labelTrainIds file is)", str(f))
    lut = label_id_to_train_id()
    what = f"label set {labels.name!r}"

    def decode(path: Path, _size=None) -> Decoded:
        values = read_values(path)
        if "labelids" == _NAME.match(path.name).group("kind").lower() and official:  # type: ignore[union-attr]
            top = int(values.max(initial=0))
            if top >= NUM_LABEL_IDS:
                raise_bad(path, top)
            values = ids_to_local(values, lut).astype("int64")
            values[values < 0] = VOID
        return Decoded(values_to_local(values, labels.num_classes, (VOID,), str(path), what))

    mask_items(scan, sorted(chosen.values()), ctx.index, decode,
               stem_of=lambda p: _NAME.match(p.name).group("stem"))  # type: ignore[union-attr]
    return scan


def raise_bad(path: Path, top: int) -> None:
    from segstudio.core.importers.common import ImportFailed

    raise ImportFailed(f"{path}: value {top} is not a Cityscapes label id (0..{NUM_LABEL_IDS - 1})")
