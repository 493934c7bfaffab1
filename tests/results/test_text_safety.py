"""Text sweepnn did not write is shown as text wherever it goes (sweepnn.untrusted).

A recipe's description and values, a trial's reason, a study name in a storage and an error quoting
any of these hold raw escape sequences here (colour, a window title, a carriage return, backspaces,
a C1 CSI, a bidi override, a tab) and markup-looking brackets. Every output of the real command is
checked: no control character reaches it (a newline only), `[bold]` and `[enforce fail at
alloc.cpp:1]` appear literally (rich markup would eat them), and each format stays whole (one
Markdown cell per column, JUnit XML that parses, CSV that reads back).

One real sweep makes the first study: a grid over `data.path`, whose choices are CSV files with
such names, one of them missing so that its trial fails with a reason quoting it. A second study
and a study sweepnn did not create are written into the same journal through Optuna's API, with the
text raw in their names, description and reasons, as a store from elsewhere may hold them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import optuna
import pytest
import yaml
from test_analysis import add_study, storage_at

ESC = "\x1b"
MARKS = ("[bold]", "[enforce fail at alloc.cpp:1]")
HOSTILE = (
    f"{ESC}[31mred{ESC}[0m {ESC}]0;pwned\x07 \x9b2J back\x08\x08 cr\r tab\t bidi\u202e"
    " [bold]bold[/bold] [enforce fail at alloc.cpp:1] pipe | end"
)
EXISTS = f"{ESC}[1m{ESC}]0;pwned\x07[bold] [enforce fail at alloc.cpp:1] | x.csv"  # CSV files the sweep reads
PLAIN = "[bold]b.csv"
MISSING = f"{ESC}]0;pwned\x07[enforce fail at alloc.cpp:1] missing.csv"  # its trial fails, quoting it
MATH = "$\\nope$ [enforce fail at alloc.cpp:1].csv"  # a value matplotlib would read as math
FOREIGN = f"foreign {ESC}]0;pwned\x07 [bold] [enforce fail at alloc.cpp:1] | x"  # a study of Optuna's own

# Everything a terminal or a file format acts on, but a newline. (Click drops colour codes, ESC [ ... m,
# from what it prints to a pipe, not to a terminal: so the values carry a window title and a BEL too.)
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def recipe(name: str, paths: list[str], sampler: str) -> str:
    return (
        f"name: {name}\n"
        f"description: {json.dumps(HOSTILE)}\n"  # JSON strings are YAML: \u001b and all
        f"data: {{name: csv, path: {json.dumps(PLAIN)}, target: y}}\n"
        "model: {name: mlp, depth: 1, width: 8}\n"
        "train: {epochs: 1, batch_size: 32}\n"
        f"search: {{sampler: {sampler}, n_trials: {len(paths)}, space: {{data.path: {json.dumps(paths)}}}}}\n"
    )


def write_csv(path: Path) -> None:
    lines = ["a,b,y"] + [f"{i % 7 / 7:.3f},{i % 5 / 5:.3f},{i % 2}" for i in range(60)]
    path.write_text("\n".join(lines) + "\n")


def command(folder: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """The real command in a process of its own; stdout and stderr decoded as the UTF-8 they must be."""
    done = subprocess.run(
        [sys.executable, "-m", "sweepnn", *args],
        cwd=folder,
        env={**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1", **(env or {})},
        capture_output=True,
        timeout=120,
    )
    return done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A sweep run for real over hostile file names, and two studies written through Optuna."""
    folder = tmp_path_factory.mktemp("hostile")
    for name in (EXISTS, PLAIN):
        write_csv(folder / name)
    path = folder / f"recipe{ESC}[7m.yaml"  # the file name is text too: it heads recipe.yaml
    path.write_text(recipe("hostile", [EXISTS, PLAIN, MISSING], "grid"))
    summary = folder / "step-summary.md"
    code, out, err = command(
        folder, "run", path.name, "--junit", "junit.xml", env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert code == 0, err
    (folder / "run-stdout.txt").write_text(out)
    storage = storage_at(folder / "results")
    reason = {"reason": HOSTILE}
    add_study(
        storage,
        "stored",
        recipe("stored", [EXISTS, PLAIN, MATH], "random").replace("name: stored\n", ""),
        [
            {"value": 0.9, "params": {"data.path": EXISTS}},
            {"value": 0.8, "params": {"data.path": MATH}},
            {"state": "fail", "outcome": "failed", "params": {"data.path": PLAIN}, **reason},
            {"state": "pruned", "value": 0.3, "params": {"data.path": MATH}, **reason},
        ],
    )
    optuna.create_study(study_name=FOREIGN, storage=storage).add_trial(
        optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE, value=1.0)
    )
    return folder


def assert_safe(text: str, marks: tuple[str, ...] = MARKS) -> None:
    leaked = sorted({repr(c) for c in UNSAFE.findall(text)})
    assert not leaked, f"control characters reach the output: {', '.join(leaked)}\n{text}"
    for mark in marks:
        assert mark in text, f"{mark!r} is not shown literally:\n{text}"


def assert_markdown_tables_whole(text: str) -> None:
    """Each row of each Markdown table has as many cell borders as its header: no pipe of a value
    splits its cell, no newline breaks its row."""
    table: list[int] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            table.append(len(re.findall(r"(?<!\\)\|", line)))
        elif table:
            assert len(set(table)) == 1, f"a Markdown table is broken:\n{text}"
            table = []


FILES = {  # what `sweepnn run` wrote, and the text each shows
    "summary.md": ("results/hostile/summary.md", MARKS),
    "trials.csv": ("results/hostile/trials.csv", MARKS),
    "junit.xml": ("junit.xml", ("[enforce fail at alloc.cpp:1]",)),  # the failed trial's reason
    "step summary": ("step-summary.md", MARKS),
    "recipe.yaml": ("results/hostile/recipe.yaml", ()),  # its header names the recipe file
    "run stdout": ("run-stdout.txt", MARKS),  # each trial's line: its values, the failed one's reason
}


@pytest.mark.parametrize("name", FILES)
def test_what_a_run_writes_and_prints_shows_the_text_as_text(folder, name):
    path, marks = FILES[name]
    text = (folder / path).read_text(encoding="utf-8")
    assert_safe(text, marks)
    if path.endswith(".md"):
        assert_markdown_tables_whole(text)
    if name == "junit.xml":  # XML 1.0 cannot hold an ESC: a report with one does not parse
        cases = ET.fromstring(text.split("\n", 1)[1]).iter("testcase")
        failures = [f.get("message") for c in cases for f in c.iter("failure")]
        assert len(failures) == 1 and "missing.csv" in failures[0]
    if name == "recipe.yaml":  # written as YAML escapes: it reads back to the very text
        assert yaml.safe_load(text)["description"] == HOSTILE
    if name == "trials.csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["outcome"] for r in rows].count("failed") == 1 and len(rows) == 3


COMMANDS = {  # `sweepnn ...` reading the storage, and the text each shows
    "show table": (["show", "hostile"], MARKS),
    "show markdown": (["show", "hostile", "-f", "markdown"], MARKS),
    "show csv": (["show", "hostile", "-f", "csv"], MARKS),
    "show stored table": (["show", "stored"], MARKS),
    "show stored markdown": (["show", "stored", "-f", "markdown"], MARKS),
    "show stored csv": (["show", "stored", "-f", "csv"], MARKS),
    "list table": (["list"], MARKS),
    "list markdown": (["list", "-f", "markdown"], MARKS),
    "list csv": (["list", "-f", "csv"], MARKS),
    "compare table": (["compare"], MARKS),
    "compare markdown": (["compare", "-f", "markdown"], MARKS),
    "compare csv": (["compare", "-f", "csv"], MARKS),
    "export csv": (["export", "stored"], MARKS),
    "export markdown": (["export", "stored", "-f", "markdown"], MARKS),
    "plot": (["plot", "stored"], ()),  # titles, legends and ticks hold the values; `$` is no math
}


ROWS = {"show csv": 3, "show stored csv": 4, "list csv": 3, "compare csv": 2, "export csv": 4}


@pytest.mark.parametrize("name", COMMANDS)
def test_what_the_commands_print_shows_the_text_as_text(folder, name):
    args, marks = COMMANDS[name]
    code, out, err = command(folder, *args)
    assert code == 0, err
    assert_safe(out, marks)
    assert_safe(err, ())
    if "markdown" in name:
        assert_markdown_tables_whole(out)
    if name in ROWS:  # the CSV reads back: one row per trial or study
        assert len(list(csv.DictReader(io.StringIO(out)))) == ROWS[name]


def bad_recipe(folder: Path, name: str, line: str) -> str:
    (folder / name).write_text(line + "\n")
    return name


ERRORS = {  # an error message quoting the text: "Error: ..." on stderr, exit 2, and what it quotes
    "a study sweepnn did not create": (lambda folder: ["show", FOREIGN], MARKS),
    "a recipe value in a file so named": (  # `validate` prints file:line:col: path: message
        lambda folder: [
            "validate",
            bad_recipe(
                folder,
                f"value {ESC}]0;pwned\x07[enforce fail at alloc.cpp:1].yaml",
                f"model: {{activation: {json.dumps(f'{ESC}]0;pwned{chr(7)}[bold]relu')}}}",
            ),
        ],
        MARKS,
    ),
    "a file name": (
        lambda folder: [
            "run",
            bad_recipe(folder, "file.yaml", f"data: {{name: csv, path: {json.dumps(MISSING)}, target: y}}"),
        ],
        ("[enforce fail at alloc.cpp:1]",),
    ),
}


@pytest.mark.parametrize("name", ERRORS)
def test_an_error_quoting_the_text_shows_it_as_text(folder, name):
    args, marks = ERRORS[name]
    code, out, err = command(folder, *args(folder))
    assert code == 2, err
    assert "Traceback" not in err
    assert_safe(err, marks)
    assert_safe(out, ())
