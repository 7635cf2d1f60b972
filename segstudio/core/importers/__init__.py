"""Import of labels made elsewhere: labelme, COCO, VOC, Cityscapes, CVAT, id PNGs, colour PNGs, YOLO-seg.

One module per source format (each a ``read(ctx) -> Scan``), :mod:`.matching` (label files to
images, class names to classes), :mod:`.labelset` (classes added, fresh projects) and
:mod:`.driver` (``plan_import`` / ``run_import`` / ``import_labels``, validate-first like export).
See ``docs/import.md``.
"""

from segstudio.core.importers.common import ImportCancelled, ImportFailed
from segstudio.core.importers.driver import (EXISTING, FORMATS, ImportPlan, ImportReport, import_labels,
                                             plan_import, run_import)

__all__ = ["EXISTING", "FORMATS", "ImportCancelled", "ImportFailed", "ImportPlan", "ImportReport",
           "import_labels", "plan_import", "run_import"]
