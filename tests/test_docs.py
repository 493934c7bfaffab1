"""The README and docs/ against the tool and the tree: the option reference in docs/options.md is what
`sweepnn options --markdown` prints, and every link to a local file resolves."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and ![alt](target); the target ends at whitespace or ')' (a title may follow)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def test_option_reference_matches_the_registries(cli):
    from sweepnn.recipe.catalog import FAMILIES

    reference = (ROOT / "docs" / "options.md").read_text()
    block = reference.split("<!-- options:begin -->\n")[1].split("<!-- options:end -->")[0]
    code, out, _ = cli("options", "--markdown")
    assert code == 0 and block == out, (
        "docs/options.md is stale: paste `sweepnn options --markdown` between its markers"
    )
    for reg in FAMILIES.values():  # sweepnn's own: options loaded from a user's code are not its to list
        for name in reg.builtins:
            assert f"| `{name}` |" in block


def local_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # links in code blocks are code
    targets = [m.group(1) for m in LINK.finditer(text)]
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def test_the_pages_have_links_to_check():
    links = {page.name: local_links(page) for page in PAGES}
    assert "docs/options.md" in links["README.md"] and "docs/operations.md" in links["README.md"]
    assert "reliability.md" in links["operations.md"]


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_local_link_resolves(page):
    missing = [
        target for target in local_links(page) if not (page.parent / unquote(target.split("#")[0])).exists()
    ]
    assert not missing, f"{page.relative_to(ROOT)} links to files that do not exist: {missing}"


def test_the_readmes_python_example_runs(tmp_path):
    """The README's Python snippet, as written, on a small recipe in place of the quickstart's (the
    API names, arguments and result fields it shows are the real ones)."""
    import subprocess
    import sys

    block = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "quickstart.yaml").write_text(
        "name: quickstart\ndata: {name: blobs, n_samples: 200}\nmodel: {depth: 1, width: 8}\n"
        "train: {epochs: 2}\nsearch:\n  n_trials: 2\n  space:\n    model.width: [8, 16]\n"
    )
    code = block + "\nprint('ran', summary.ran, sorted(p.name for p in written.files))\n"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "ran 2 ['best.yaml', 'recipe.yaml', 'summary.md', 'trials.csv']"
    outcome, accuracy = lines[-2].split()
    from sweepnn.outcomes import TRAINED

    assert outcome in TRAINED
    assert 0.0 <= float(accuracy) <= 1.0


def test_the_readmes_outcome_table_is_the_one_the_rules_write():
    """The thresholds live in sweepnn/outcomes.py; the README quotes the table it writes, so a changed
    threshold that the README does not show fails here (paste `rules_markdown()`'s text)."""
    from sweepnn.outcomes import RULES, TRAINED, rules_markdown

    assert rules_markdown() in (ROOT / "README.md").read_text()
    assert set(TRAINED) <= {r.name for r in RULES}  # every outcome a trained run can get has its row
