"""`export` and `compare` of studies that differ in a fixed setting, and the precision floats print at
in every table and file a study makes, through real sweeps and real `sweepnn` processes.

The sweeps search `model.dropout` on a step grid, where Optuna's arithmetic stores values such as
0.30000000000000004; the journal is read back with Optuna to know which trials hold one.
"""

from __future__ import annotations

import csv
import io
import json
import re

import optuna
import pytest
from conftest import command_on, sweepnn

RECIPE = """\
name: NAME
description: dropout on a step grid
data: {name: blobs, n_samples: 240, classes: 3}
model: {name: mlp, depth: 1, width: 16}
train:
  epochs: 2
  batch_size: 64
  optimizer: {name: adam, lr: 0.01DECAY}
search:
  sampler: random
  n_trials: 6
  space:
    model.dropout: {low: 0.05, high: 0.45, step: 0.1}
    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}
"""
# name -> recipe: `decayed` fixes one setting apart from `fine`; `fixed_lr` fixes what `fine` searches
STUDIES = {
    "fine": RECIPE.replace("NAME", "fine").replace("DECAY", ""),
    "decayed": RECIPE.replace("NAME", "decayed").replace("DECAY", ", weight_decay: 0.0005"),
    "fixed_lr": RECIPE.replace("NAME", "fixed_lr")
    .replace("DECAY", "")
    .replace("n_trials: 6", "n_trials: 3")
    # the lr line of the space, removed: the recipe's lr (0.01) is fixed
    .replace("    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}\n", ""),
}
PEOPLE = 4  # significant digits of a number in a table people read (sweepnn.results.tables.fmt)
AS_SET = 12  # of a searched value in any file or table (sweepnn.results.values.SIGNIFICANT)
# a decimal number, also either end of a range (0.3..0.5); never part of a word (trial-0, e-04 alone)
NUMBER = re.compile(r"(?<![\w])(?<!\d\.)-?\d+\.\d+(?:e[-+]?\d+)?(?![\w])")


def significant(text: str) -> int:
    """Significant digits of a number as written: 0.30000000000000004 has 17, 5.00e-04 has 3."""
    return len(text.lstrip("-").split("e")[0].replace(".", "").lstrip("0"))


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The three studies, swept once into one results folder; (folder, trials of each from Optuna)."""
    tmp = tmp_path_factory.mktemp("exports")
    for name, text in STUDIES.items():
        (tmp / f"{name}.yaml").write_text(text)
        code, _, err = command_on(tmp, "run", tmp / f"{name}.yaml", timeout=240)
        assert code == 0, err
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp / "results" / "studies.journal"))
    )
    trials = {n: optuna.load_study(study_name=n, storage=storage).get_trials() for n in STUDIES}
    return tmp, trials


def run(tmp, *args) -> str:
    process = sweepnn(*args, "--results", tmp / "results", cwd=tmp)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out


def table_rows(out: str, title: str) -> list[list[str]]:
    """The body rows of the rich table printed under `title`, as cell texts."""
    lines = out[out.index(title) :].splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("└"))
    return [[c.strip() for c in line.strip("│").split("│")] for line in lines[:end] if line.startswith("│")]


SETTINGS = "Settings the studies set differently (n/a: not in that study's recipe)"


@pytest.mark.slow
def test_no_float_prints_past_its_precision_in_any_table_or_file(swept):
    tmp, trials = swept
    folder = tmp / "results" / "fine"
    # the class this test is about: Optuna stored values of more digits than anyone set
    # (0.05 + k * 0.1 gives 0.15000000000000002 and 0.35000000000000003)
    artefacts = {
        t.number: t.params["model.dropout"]
        for t in trials["fine"]
        if significant(repr(t.params["model.dropout"])) > AS_SET
    }
    assert artefacts, [t.params for t in trials["fine"]]
    # tables people read: every number at PEOPLE digits at most
    for where, text in {
        "summary.md": (folder / "summary.md").read_text(),
        "show": run(tmp, "show", "fine"),
        "show markdown": run(tmp, "show", "fine", "-f", "markdown"),
        "compare": run(tmp, "compare", "fine", "decayed"),
        "compare markdown": run(tmp, "compare", "fine", "decayed", "-f", "markdown"),
        "compare --by": run(tmp, "compare", "fine", "decayed", "--by", "model.dropout"),
        "export markdown": run(tmp, "export", "fine", "decayed", "-f", "markdown"),
        "list": run(tmp, "list"),
    }.items():
        numbers = NUMBER.findall(text)
        assert numbers, where
        assert [n for n in numbers if significant(n) > PEOPLE] == [], where
    # files and tables for programs: a searched value as set, never Optuna's arithmetic
    searched = {"model.dropout", "dropout", "train.optimizer.lr", "lr"}
    for where, text in {
        "trials.csv": (folder / "trials.csv").read_text(),
        "export csv": run(tmp, "export", "fine"),
        "export two csv": run(tmp, "export", "fine", "decayed"),
        "compare csv": run(tmp, "compare", "fine", "decayed", "-f", "csv"),
        "show csv": run(tmp, "show", "fine", "-f", "csv"),
    }.items():
        table = list(csv.DictReader(io.StringIO(text)))
        values = [r[c] for r in table for c in searched & set(r) if r[c]]
        assert values, where
        assert [v for v in values if significant(v) > AS_SET] == [], where
    shown = json.loads(run(tmp, "show", "fine", "-f", "json"))
    values = [*shown["best"]["params"].values(), *(r["model.dropout"] for r in shown["ranked"])]
    assert [v for v in values if significant(repr(v)) > AS_SET] == []
    best = json.loads(run(tmp, "compare", "fine", "decayed", "-f", "json"))
    assert [r["dropout"] for r in best if significant(repr(r["dropout"])) > AS_SET] == []
    for path in (folder / "best.yaml", folder / "recipe.yaml", *folder.glob("models/*/recipe.yaml")):
        numbers = NUMBER.findall(path.read_text())
        assert [n for n in numbers if significant(n) > AS_SET] == [], path
    # what full precision is kept in: trials.csv's measurements, and the JSON export whole
    rows = {int(r["number"]): r for r in csv.DictReader(io.StringIO((folder / "trials.csv").read_text()))}
    for t in trials["fine"]:
        assert rows[t.number]["objective.val_accuracy"] == repr(t.values[0])
    for number, value in artefacts.items():
        assert float(rows[number]["model.dropout"]) == float(f"{value:.12g}") != value
    # the trials trained with the value on the recipe's grid (0.35), which the trial's record holds,
    # and the JSON export gives that record exactly
    recorded = {t.number: t.user_attrs["params"]["model.dropout"] for t in trials["fine"]}
    assert {n: recorded[n] for n in artefacts} == {n: float(f"{v:.12g}") for n, v in artefacts.items()}
    exported = {r["number"]: r for r in json.loads(run(tmp, "export", "fine", "-f", "json"))}
    assert {n: exported[n]["model.dropout"] for n in recorded} == recorded
    assert all(exported[t.number]["objective.val_accuracy"] == t.values[0] for t in trials["fine"])


@pytest.mark.slow
def test_compare_shows_the_one_fixed_setting_two_studies_differ_in(swept):
    tmp, _ = swept
    out = run(tmp, "compare", "fine", "decayed")
    best = table_rows(out, "Best trial of each study")
    header = out.splitlines()[2]
    assert "weight_decay" in header and "dropout" in header and "lr" in header
    column = [c.strip() for c in header.strip("┃").split("┃")].index("weight_decay")
    assert {r[0]: r[column] for r in best} == {"fine": "0", "decayed": "5.00e-04"}
    # everything else the two recipes fix is alike, so it is the one row
    assert table_rows(out, SETTINGS) == [["train.optimizer.weight_decay", "0", "5.00e-04"]]
    markdown = run(tmp, "compare", "fine", "decayed", "-f", "markdown")
    assert markdown.endswith(
        f"**{SETTINGS}**\n\n"
        "| setting                      |   fine |   decayed |\n"
        "|:-----------------------------|-------:|----------:|\n"
        "| train.optimizer.weight_decay |      0 |  5.00e-04 |\n"
    )
    rows = list(csv.DictReader(io.StringIO(run(tmp, "compare", "fine", "decayed", "-f", "csv"))))
    assert {r["study"]: r["weight_decay"] for r in rows} == {"fine": "0.0", "decayed": "0.0005"}
    assert SETTINGS not in run(tmp, "compare", "fine")  # one study: nothing to tell apart


@pytest.mark.slow
def test_export_of_two_studies_has_the_setting_they_differ_in_as_a_column(swept):
    tmp, trials = swept
    rows = list(csv.DictReader(io.StringIO(run(tmp, "export", "fine", "decayed"))))
    assert list(rows[0])[:9] == [
        "study",
        "rank",
        "number",
        "state",
        "outcome",
        "objective.val_accuracy",
        "model.dropout",
        "train.optimizer.lr",
        "train.optimizer.weight_decay",
    ]
    by_study = {name: [r for r in rows if r["study"] == name] for name in ("fine", "decayed")}
    assert {n: len(r) for n, r in by_study.items()} == {n: len(trials[n]) for n in by_study}
    assert {n: {r["train.optimizer.weight_decay"] for r in rs} for n, rs in by_study.items()} == {
        "fine": {"0.0"},
        "decayed": {"0.0005"},
    }
    records = json.loads(run(tmp, "export", "fine", "decayed", "-f", "json"))
    assert {(r["study"], r["train.optimizer.weight_decay"]) for r in records} == {
        ("fine", 0.0),
        ("decayed", 0.0005),
    }
    markdown = run(tmp, "export", "fine", "decayed", "-f", "markdown")
    assert (
        "| study " in markdown.splitlines()[0] and "train.optimizer.weight_decay" in markdown.splitlines()[0]
    )
    # one study alone: its trials as before, with nothing to tell apart
    alone = list(csv.DictReader(io.StringIO(run(tmp, "export", "fine"))))
    assert "study" not in alone[0] and "train.optimizer.weight_decay" not in alone[0]
    assert len(alone) == len(trials["fine"])


@pytest.mark.slow
def test_a_setting_searched_in_one_study_and_fixed_in_the_other(swept):
    tmp, trials = swept
    out = run(tmp, "compare", "fine", "fixed_lr")
    assert table_rows(out, SETTINGS) == [
        ["train.optimizer.lr", "searched 0.001..0.1 log", "0.01"],
        ["search.n_trials", "6", "3"],
    ]
    # in the export, each trial's own value: the sampled one, or the recipe's where it was fixed
    rows = list(csv.DictReader(io.StringIO(run(tmp, "export", "fine", "fixed_lr"))))
    sampled = {t.number: t.params["train.optimizer.lr"] for t in trials["fine"]}
    got = {int(r["number"]): float(r["train.optimizer.lr"]) for r in rows if r["study"] == "fine"}
    assert got == pytest.approx(sampled, rel=1e-11)
    assert [r["train.optimizer.lr"] for r in rows if r["study"] == "fixed_lr"] == ["0.01"] * 3


def test_parquet_of_several_studies_needs_a_file(tmp_path):
    process = sweepnn("export", "a", "b", "-f", "parquet", "--results", tmp_path, cwd=tmp_path)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out) == (2, "")
    assert err == "Error: parquet of several studies is one file: give it with --output FILE.parquet\n"
