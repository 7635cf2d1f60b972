"""Layering contract: core imports neither Qt nor torch; models never imports Qt; headless CLI never Qt.

Checked two ways: statically (AST of every module, including imports inside functions) and
dynamically (a fresh interpreter imports the package and we inspect sys.modules).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "segstudio"

FORBIDDEN = {
    "core": ("torch", "torchvision", "PySide6", "shiboken6", "segstudio.models", "segstudio.gui"),
    "models": ("PySide6", "shiboken6", "segstudio.gui"),
    "cli": ("PySide6", "shiboken6"),
}
# cli/gui_cmd.py is the one verb that launches Qt (lazily, after checking for a display).
EXEMPT = {PKG / "cli" / "gui_cmd.py"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append((node.lineno, "." * node.level + (node.module or "")))
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_static_imports_respect_layers(layer):
    bad = []
    for path in sorted((PKG / layer).rglob("*.py")):
        if path in EXEMPT:
            continue
        for line, mod in _imports(path):
            if any(mod == f or mod.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(PKG.parent)}:{line} imports {mod}")
    assert not bad, "layering violated:\n" + "\n".join(bad)


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_importing_core_pulls_in_neither_torch_nor_qt():
    core_modules = sorted(p.stem for p in (PKG / "core").glob("*.py") if p.stem != "__init__")
    code = "\n".join(f"import segstudio.core.{m}" for m in core_modules)
    loaded = _modules_after(code)
    assert not {m for m in loaded if m.split(".")[0] in ("torch", "PySide6", "torchvision")}


def test_cli_parser_and_eval_do_not_load_torch_or_qt():
    loaded = _modules_after("from segstudio.cli import build_parser; build_parser()\n"
                            "import segstudio.core.evaluation")
    assert "torch" not in loaded and "PySide6" not in loaded
