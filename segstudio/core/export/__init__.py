"""Export of a project's labels to training formats: VOC, COCO, Cityscapes, CamVid, YOLO-seg, PNG.

One module per format, :mod:`.validate` (all checks before any write) and :mod:`.driver`
(``export_project``, the entry point for the CLI and the GUI). See ``docs/export.md``.
"""

from segstudio.core.export.common import ExportCancelled, ExportError
from segstudio.core.export.driver import FORMATS, ONLY, ExportReport, export_project

__all__ = ["ExportCancelled", "ExportError", "ExportReport", "FORMATS", "ONLY", "export_project"]
