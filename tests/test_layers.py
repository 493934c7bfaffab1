"""The layering of sweepnn's packages, read from the source: every import, those inside functions
too (a lazy import is still a dependency). Bottom to top:

    base      errors, registry, untrusted, atomic (the modules directly in sweepnn/)
    data      arrays, generated sets, file formats, downloads
    options   every registry of techniques and datasets (torch imported inside, never at the top)
    recipe    YAML -> a frozen Recipe: no torch, no Optuna
    training  torch: the trainer, the stacked path, diagnostics
    sweep     the only package that imports Optuna: studies, trials, storages, workers, reading back
    results   pandas: the tables, comparisons and plots of what sweep reads
    cli       the commands
    api       `sweepnn` itself (load, run, train) and `python -m sweepnn`

A module imports from its own layer or below, never above; no two modules import each other.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "sweepnn"
LAYERS = ["base", "data", "options", "recipe", "training", "sweep", "results", "cli", "api"]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    if module in ("sweepnn", "sweepnn.__main__"):
        return "api"
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "base"


def imports(path: Path) -> set[str]:
    """Every module `path` imports anywhere in it (top level, functions, TYPE_CHECKING blocks)."""
    out: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base])
            out.add(base)
            # `from sweepnn.data import generated` imports the module sweepnn.data.generated
            out.update(f"{base}.{a.name}" for a in node.names if MODULES.get(f"{base}.{a.name}"))
    return out


def _lazy_only(path: Path) -> set[str]:
    """Modules imported at the top level (not inside a function): what a cycle is made of."""
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
            names = (f"{node.module}.{a.name}" for a in node.names)
            out.update(n for n in names if n in MODULES)
    return out


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
GRAPH = {m: imports(p) for m, p in MODULES.items()}


def test_the_layers_are_every_package_and_nothing_else():
    packages = {p.parent.relative_to(ROOT).parts[0] for p in ROOT.rglob("*/__init__.py")}
    assert packages == set(LAYERS) - {"base", "api"}


def test_a_module_imports_only_from_its_own_layer_or_below():
    wrong = []
    for module, deps in GRAPH.items():
        for dep in deps:
            if (dep.startswith("sweepnn.") and dep in MODULES) or dep.rpartition(".")[0] in MODULES:
                target = dep if dep in MODULES else dep.rpartition(".")[0]
                if target.startswith("sweepnn") and LAYERS.index(layer(target)) > LAYERS.index(layer(module)):
                    wrong.append(f"{module} ({layer(module)}) imports {target} ({layer(target)})")
    assert not wrong, "\n".join(sorted(wrong))


@pytest.mark.parametrize(
    "library, allowed",
    [
        ("optuna", {"sweep"}),
        ("torch", {"options", "training", "sweep", "results", "cli", "data"}),
        ("pandas", {"data", "results", "sweep", "cli"}),
    ],
)
def test_a_library_is_imported_only_where_its_layer_allows(library, allowed):
    wrong = sorted(
        f"{m} imports {library}"
        for m, deps in GRAPH.items()
        if layer(m) not in allowed and any(d == library or d.startswith(f"{library}.") for d in deps)
    )
    assert not wrong, "\n".join(wrong)


def test_no_two_modules_import_each_other():
    """A cycle through top-level imports: a module that half-exists while the other one loads."""
    top = {m: {d for d in _lazy_only(p) if d in MODULES and d != m} for m, p in MODULES.items()}
    cycles = []

    def visit(m: str, stack: list[str]) -> None:
        for d in top[m]:
            if d in stack:
                cycles.append(" -> ".join([*stack[stack.index(d) :], d]))
            elif d not in done:
                visit(d, [*stack, d])
        done.add(m)

    done: set[str] = set()
    for m in top:
        if m not in done:
            visit(m, [m])
    assert not cycles, "\n".join(sorted(set(cycles)))


def test_loading_a_recipe_imports_neither_torch_nor_optuna(tmp_path):
    (tmp_path / "r.yaml").write_text("data: {name: spirals}\nsearch:\n  space:\n    model.width: [8, 16]\n")
    code = (
        "import sys, sweepnn; r = sweepnn.load(sys.argv[1]); import sweepnn.recipe.catalog;"
        " print(sorted(m for m in ('torch', 'optuna', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "r.yaml")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
