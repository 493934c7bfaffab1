"""docs/findings.md quotes docs/findings/, which docs/run_recipes.sh wrote from sweepnn's output.

These tests keep the quotes honest: every row of a two-way table in docs/findings.md must be the row
of the same label in the findings file it names, cell for cell, and every recipe has its findings
files and a line in the table of findings.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FINDINGS = ROOT / "docs" / "findings"
SECTION = (ROOT / "docs" / "findings.md").read_text()


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def quoted_tables() -> list[tuple[str, list[list[str]]]]:
    """(findings file, its data rows) for each table introduced by a `docs/findings/X.md` line."""
    out = []
    for m in re.finditer(r"\(`docs/findings/(\w+)\.md`[^\n]*\n(?:[^\n|]*\n)*?\n((?:\|[^\n]*\n)+)", SECTION):
        rows = [cells(line) for line in m.group(2).splitlines()[2:]]  # past the header and its rule
        out.append((m.group(1), rows))
    return out


def test_the_findings_quote_two_way_tables():
    assert {name for name, _ in quoted_tables()} == {"init_deep_bn", "batchnorm", "batch_size", "clipping"}


@pytest.mark.parametrize(("name", "rows"), quoted_tables(), ids=[n for n, _ in quoted_tables()])
def test_each_quoted_row_is_the_tools_row(name, rows):
    printed = (FINDINGS / f"{name}.md").read_text()
    # the two-way table of the best values: the one after its command (`--by A --by B`, no --cell)
    commands = [m for m in re.finditer(r"^`\$ sweepnn compare [^`]*--by [^`]*--by [^`]*`$", printed, re.M)]
    after = next(m.end() for m in commands if "--cell" not in m.group(0))
    table = next(b for b in printed[after:].split("\n\n") if b.startswith("|")).splitlines()[2:]
    by_label = {cells(line)[0]: cells(line)[1:] for line in table}
    for row in rows:
        assert by_label.get(row[0]) == row[1:], f"{name}: row {row} of docs/findings.md is not sweepnn's"


@pytest.mark.parametrize("recipe", sorted(p.stem for p in (ROOT / "recipes").glob("*.yaml")))
def test_every_recipe_has_its_findings(recipe):
    run = (FINDINGS / f"{recipe}.txt").read_text()
    assert f"$ sweepnn run recipes/{recipe}.yaml" in run and "wall time:" in run
    assert "Best: trial" in run
    assert f"`{recipe}`" in SECTION  # and a line in the table of findings
