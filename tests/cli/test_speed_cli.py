"""Convergence speed through the real commands: a sweep the test runs, then `sweepnn compare --by
PATH --target METRIC=VALUE` in a process of its own, its figures checked against the trials' curves
read back from the journal with Optuna."""

from __future__ import annotations

import csv
import json
import math
import statistics

import optuna
import pytest
from conftest import command_on, sweepnn

from sweepnn.outcomes import SLOW_GAIN, SLOW_HEADROOM

RECIPE = """\
name: speedy
data: {name: spirals, n_samples: 600, classes: 2}
model: {name: mlp, depth: 2, width: 32}
train: {epochs: 6, batch_size: 32}
search:
  sampler: grid
  pruner: none
  test_top: 0
  save_top: 0
  space:
    train.optimizer.name: [sgd, adam]
    train.optimizer.lr: [0.003, 0.03, 0.3]
"""
TARGET = 0.7


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The sweep, run once: (its folder, the trials as Optuna reads them back)."""
    tmp = tmp_path_factory.mktemp("speed")
    (tmp / "speedy.yaml").write_text(RECIPE)
    code, _, err = command_on(tmp, "run", tmp / "speedy.yaml", timeout=240)
    assert code == 0, err
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp / "results" / "studies.journal"))
    )
    study = optuna.load_study(study_name="speedy", storage=storage)
    return tmp, study.get_trials()


def run(tmp, *args) -> tuple[int, str, str]:
    process = sweepnn(*args, "--results", tmp / "results", cwd=tmp)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def first_epoch(history: list[dict], target: float) -> tuple[int, float] | None:
    """Written out here, apart from sweepnn.speed: the first epoch at the target, with its seconds."""
    for h in history:
        if h.get("val_accuracy", -1) >= target:
            return h["epoch"], h["train_time"]
    return None


def test_compare_target_counts_and_times_what_the_curves_show(swept):
    tmp, trials = swept
    by_target = ["--by", "train.optimizer.name", "--target", f"val_accuracy={TARGET}"]
    code, out, err = run(tmp, "compare", "speedy", *by_target, "-f", "json")
    assert (code, err) == (0, "")
    rows = {r["train.optimizer"]: r for r in json.loads(out)}
    assert set(rows) == {"sgd", "adam"}
    for name, row in rows.items():
        mine = [t for t in trials if t.params["train.optimizer.name"] == name]
        got = [g for t in mine if (g := first_epoch(t.user_attrs["history"], TARGET))]
        assert row["reached"] == f"{len(got)}/{len(mine)}"
        if got:
            assert row["epochs to"] == statistics.median(e for e, _ in got)
            assert row["s to"] == pytest.approx(statistics.median(s for _, s in got))
        else:
            assert row["epochs to"] is None and row["speed rank"] is None
    # the header says what the trials were timed to
    code, out, _ = run(tmp, "compare", "speedy", *by_target)
    assert code == 0 and f"timed to val_accuracy >= {TARGET} (seconds of training)" in out


def test_the_two_way_table_shows_mean_and_std_or_the_time(swept):
    tmp, trials = swept
    both = ["--by", "train.optimizer.name", "--by", "train.optimizer.lr"]
    code, out, err = run(tmp, "compare", "speedy", *both, "--cell", "mean", "-f", "markdown")
    assert (code, err) == (0, "")
    adam = [
        t.value
        for t in trials
        if t.params["train.optimizer.name"] == "adam" and t.params["train.optimizer.lr"] == 0.03
    ]
    assert "mean ± std of val_accuracy (maximize) and trials by train.optimizer" in out
    assert f"{adam[0]:.4g} (1)" in out  # one trial per cell: its value, no spread
    timed = ["--cell", "time", "--target", f"val_accuracy={TARGET}"]
    code, out, err = run(tmp, "compare", "speedy", *both, *timed, "-f", "markdown")
    assert (code, err) == (0, "")
    for t in trials:
        got = first_epoch(t.user_attrs["history"], TARGET)
        cell = f"{got[1]:.4g} s (1/1)" if got else "never (0/1)"
        assert cell in out


def test_trials_csv_has_every_trials_speed(swept):
    tmp, trials = swept
    with open(tmp / "results" / "speedy" / "trials.csv", newline="") as f:
        rows = {int(r["number"]): r for r in csv.DictReader(f)}
    best = max(t.value for t in trials)
    chance = trials[0].user_attrs["chance"]
    for t in trials:
        row, history = rows[t.number], t.user_attrs["history"]
        assert float(row["auc"]) == pytest.approx(statistics.fmean(h["val_accuracy"] for h in history))
        for share in (0.5, 0.9):
            got = first_epoch(history, chance + share * (best - chance))
            epochs, seconds = row[f"epochs_to_{share:.0%}"], row[f"seconds_to_{share:.0%}"]
            if got:
                assert (int(epochs), float(seconds)) == (got[0], pytest.approx(got[1]))
            else:
                assert epochs == seconds == ""
        # between a healthy run and a slow one: late_gain, and room left below a perfect score
        if row["outcome"] in ("ok", "slow"):
            room = 1 - float(row["val_accuracy"]) >= SLOW_HEADROOM * (1 - chance)
            assert (row["outcome"] == "slow") == (room and float(row["late_gain"]) >= SLOW_GAIN)


def test_a_bad_target_is_an_error_with_the_choices(swept):
    tmp, _ = swept
    code, out, err = run(tmp, "compare", "speedy", "--by", "train.optimizer.name", "--target", "val_accuracy")
    assert (code, out) == (2, "")
    assert "write METRIC=VALUE, e.g. val_accuracy=0.6" in err
    code, _, err = run(tmp, "compare", "speedy", "--metric", "val_acuracy", "--by", "train.optimizer.name")
    assert code == 2 and "did you mean 'val_accuracy'?" in err
    code, _, err = run(tmp, "compare", "speedy", "--metric", "val_loss")  # a table --metric does not change
    assert code == 2 and "--metric picks the metric of the --by tables" in err
    code, _, err = run(tmp, "compare", "speedy", "--by", "model.activation", "--cell", "mean")
    assert code == 2 and "--cell mean is what a two-way table's cells show: give --by twice" in err
    code, out, err = run(
        tmp, "compare", "speedy", "--by", "train.optimizer.name", "--metric", "val_loss", "-f", "json"
    )
    assert code == 0
    losses = {r["train.optimizer"]: r["best"] for r in json.loads(out)}
    for name, best in losses.items():
        mine = [t.user_attrs["metrics"]["val_loss"] for t in trials_named(swept, name)]
        assert math.isclose(best, min(mine))  # val_loss: lower is better


def trials_named(swept, name: str) -> list:
    return [t for t in swept[1] if t.params["train.optimizer.name"] == name]


def test_the_trial_record_holds_its_speed_to_the_recipes_target(tmp_path):
    (tmp_path / "timed.yaml").write_text(RECIPE.replace("name: speedy", "name: timed").replace(
        "  pruner: none\n", f"  pruner: none\n  target: {TARGET}\n"
    ).replace("[0.003, 0.03, 0.3]", "[0.03]"))  # fmt: skip
    code, _, err = command_on(tmp_path, "run", tmp_path / "timed.yaml", timeout=240)
    assert code == 0, err
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "results" / "studies.journal"))
    )
    for t in optuna.load_study(study_name="timed", storage=storage).get_trials():
        history, got = t.user_attrs["history"], t.user_attrs["speed"]
        assert got["auc"] == pytest.approx(statistics.fmean(h["val_accuracy"] for h in history))
        reached = first_epoch(history, TARGET)
        assert (got["epochs_to_target"], got["seconds_to_target"]) == (reached or (None, None))
    # the ranked table shows the seconds to the recipe's target
    with open(tmp_path / "results" / "timed" / "summary.md") as f:
        assert "to target (s)" in f.read()
