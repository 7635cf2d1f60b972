"""``cvat``: CVAT "Segmentation mask 1.1" exports (a folder or the ``.zip`` CVAT downloads).

Layout (CVAT docs, format-smask; written by Datumaro's VOC plugin)::

    labelmap.txt                       # label:color_rgb:parts:actions, one name:r,g,b:: line a label
    SegmentationClass/<stem>.png       colour mask, each colour a label of labelmap.txt
    SegmentationObject/, ImageSets/    not read (instances, subsets)

Colours map to labels through ``labelmap.txt``; a colour it lacks is an error naming the colours
and files. The label coloured 0,0,0 (else one named ``background``) is CVAT's background: it
becomes the project class of that name if there is one, else unlabelled. A label named like the
project's void (or ``void`` / ``unlabelled``) is unlabelled.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from segstudio.core.importers.common import (Decoded, ImportFailed, ReadContext, Scan, SourceClass, SourceItem,
                                             colours_to_local, read_rgb)
from segstudio.core.importers.matching import VOID_NAMES
from segstudio.core.importers.common import norm_name

BLACK = (0, 0, 0)


class Tree:
    """Files of a folder or of a zip archive, by '/'-separated relative name."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.zip = zipfile.ZipFile(source) if source.is_file() else None
        if self.zip is not None:
            self.names = [n for n in self.zip.namelist() if not n.endswith("/")]
        else:
            self.names = sorted(str(p.relative_to(source).as_posix()) for p in source.rglob("*") if p.is_file())

    def read(self, name: str) -> bytes:
        if self.zip is not None:
            return self.zip.read(name)
        return (self.source / name).read_bytes()

    def label(self, name: str) -> str:
        return f"{self.source}!{name}" if self.zip is not None else str(self.source / name)


def parse_labelmap(text: str, origin: str) -> tuple[list[SourceClass], list[str]]:
    classes, problems = [], []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        try:
            name = fields[0]
            rgb = tuple(int(v) for v in fields[1].split(",")) if len(fields) > 1 and fields[1] else None
            if rgb is not None and (len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb)):
                raise ValueError(fields[1])
        except (ValueError, IndexError):
            problems.append(f"{origin}:{n}: not a 'name:r,g,b:parts:actions' line: {line!r}")
            continue
        classes.append(SourceClass(name, rgb, void=norm_name(name) in VOID_NAMES))  # type: ignore[arg-type]
    bg = next((c for c in classes if c.color == BLACK), None) or next(
        (c for c in classes if norm_name(c.name) == "background"), None)
    if bg is not None and not bg.void:
        bg.background = True
    return classes, problems


def read(ctx: ReadContext) -> Scan:
    scan = Scan()
    try:
        tree = Tree(ctx.source)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ImportFailed(f"{ctx.source}: not a folder or a readable zip archive ({exc})") from None
    maps = [n for n in tree.names if PurePosixPath(n).name == "labelmap.txt"]
    if not maps:
        scan.problems.append(f"{ctx.source}: no labelmap.txt (a CVAT 'Segmentation mask 1.1' export has one)")
        return scan
    lm = min(maps, key=len)
    root = str(PurePosixPath(lm).parent)
    root = "" if root == "." else root + "/"
    scan.classes, problems = parse_labelmap(tree.read(lm).decode("utf-8", "replace"), tree.label(lm))
    scan.problems += problems
    scan.label_set_source = tree.label(lm)
    if not scan.classes:
        scan.problems.append(f"{tree.label(lm)}: no labels")
        return scan
    table: dict = {}
    for i, c in enumerate(scan.classes):
        if c.color is None:
            continue
        if c.color in table and scan.classes[table[c.color]].name != c.name:
            scan.problems.append(f"{tree.label(lm)}: labels {scan.classes[table[c.color]].name!r} and {c.name!r} "
                                 f"share colour {c.color}; their pixels cannot be told apart")
        table.setdefault(c.color, i)
    prefix = f"{root}SegmentationClass/"
    files = sorted(n for n in tree.names if n.startswith(prefix) and n.lower().endswith(".png")
                   and "/" not in n[len(prefix):])
    what = f"labelmap {tree.label(lm)}"
    first: dict[str, str] = {}
    for name in files:
        stem = PurePosixPath(name).stem
        key = ctx.index.lookup(stem)  # type: ignore[attr-defined]
        if key is None:
            scan.unmatched.append(tree.label(name))
            continue
        if key in first:
            scan.problems.append(f"{tree.label(name)}: a second mask for image {key!r} ({first[key]})")
            continue
        first[key] = tree.label(name)

        def decode(_size, name=name) -> Decoded:
            rgb = read_rgb(Path(tree.label(name)), tree.read(name))
            return Decoded(colours_to_local(rgb, table, tree.label(name), what))

        scan.items.append(SourceItem(key, tree.label(name), None, decode))
    return scan


