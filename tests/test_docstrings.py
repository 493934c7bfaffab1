"""Every module says what it is for, and every public function and class what it does: a newcomer
reads the package from its docstrings. Read from the source, so nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "sweepnn"


def _missing() -> list[str]:
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text())
        where = path.relative_to(ROOT.parent)
        if path.name != "__main__.py" and not ast.get_docstring(tree):
            out.append(f"{where}: the module")
        for node in tree.body:
            public = not node.name.startswith("_") if hasattr(node, "name") else False
            kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            if isinstance(node, kinds) and public and not ast.get_docstring(node):
                out.append(f"{where}:{node.lineno}: {node.name}")
    return out


def test_every_module_and_public_function_and_class_has_a_docstring():
    missing = _missing()
    assert not missing, "\n".join(missing)
