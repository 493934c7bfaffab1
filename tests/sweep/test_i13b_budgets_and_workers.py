"""Issue 13: budgets that are said and kept (grid, --smoke with explicit flags), and a run with
workers that shows, counts and logs every trial, met through the real `sweepnn run` command."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import time
from pathlib import Path

import optuna
import pytest
from conftest import TINY, sweepnn
from optuna.trial import TrialState

from sweepnn.options.search import SAMPLERS

# 3 x 2 x 2 x 2 = 24 points: more than the 20 trials a sampler without an end runs by default
GRID = """\
data: {name: blobs, n_samples: 120, classes: 2}
model: {name: mlp, depth: 1, width: 8}
train: {epochs: 1, batch_size: 64}
search:
  sampler: grid
  pruner: none
  test_top: 0
  space:
    train.optimizer.lr: [0.01, 0.03, 0.1]
    model.activation: [relu, tanh]
    model.depth: [1, 2]
    model.width: [4, 8]
"""


def journal_study(folder: Path, name: str) -> optuna.Study:
    from sweepnn.sweep.storage import open_storage

    journal = folder / "results" / "studies.journal"
    return optuna.load_study(study_name=name, storage=open_storage(str(journal), folder))


def rows(folder: Path, name: str) -> list[dict[str, str]]:
    with open(folder / "results" / name / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


def run(folder: Path, *args, timeout: float = 120) -> tuple[int, str, str]:
    proc = sweepnn("run", *args, "--device", "cpu", cwd=folder)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def test_a_grid_without_n_trials_runs_the_whole_grid_and_a_smaller_n_trials_is_said(write_recipe, tmp_path):
    path = write_recipe(GRID, "grid")
    code, out, err = run(tmp_path, path)
    assert code == 0, err
    first = out.splitlines()[0]
    assert "Study grid: 24 trials (grid sampler, the whole grid)." in first, out
    points = {
        tuple(r[k] for k in ("train.optimizer.lr", "model.activation", "model.depth", "model.width"))
        for r in rows(tmp_path, "grid")
    }
    assert len(rows(tmp_path, "grid")) == 24 and len(points) == 24  # every point, each once
    code, out, err = run(tmp_path, path)
    assert code == 0, err
    assert "24 of 24 trials done, 0 to run" in out.splitlines()[0], out

    code, out, err = run(tmp_path, write_recipe(GRID.replace("  pruner", "  n_trials: 5\n  pruner"), "part"))
    assert code == 0, err
    assert "5 trials (grid sampler, n_trials 5 of a 24-point grid: 19 points left out)" in out.splitlines()[0]
    assert len(rows(tmp_path, "part")) == 5


@pytest.mark.parametrize("sampler", list(SAMPLERS))
@pytest.mark.parametrize("timeout", [None, 60.0])
def test_every_samplers_default_budget_is_decided_in_one_place_and_said(sampler, timeout):
    from sweepnn.recipe.budget import budget, grid_size
    from sweepnn.recipe.config import Recipe
    from sweepnn.recipe.yaml_reading import parse_yaml

    raw = parse_yaml(GRID, "grid.yaml")[0]
    raw["name"], raw["search"]["sampler"], raw["search"]["timeout"] = "g", sampler, timeout
    if sampler == "nsga2":
        raw["search"]["objective"] = ["val_accuracy", "train_time"]
    recipe = Recipe.model_validate(raw)
    trials, why = budget(recipe)
    assert why, "a default budget is always said"
    if SAMPLERS[sampler].needs_grid:
        assert trials == grid_size(recipe) == 24
    else:
        assert trials == (None if timeout else 20)
    empty = Recipe.model_validate({**raw, "search": {**raw["search"], "space": {}}})
    assert budget(empty) == (1, "nothing is searched")


def test_a_budget_given_on_the_command_line_wins_over_smoke(write_recipe, tmp_path):
    code, out, err = run(tmp_path, write_recipe(), "--smoke", "--trials", "5", "--timeout", "90s")
    assert code == 0, err
    assert "Study tiny-smoke: 5 trials (random sampler) until 90s have passed." in out.splitlines()[0], out
    assert len(rows(tmp_path, "tiny-smoke")) == 5
    assert "5 trial(s) run" in out


# Trials long enough (two seconds or so) that the second worker, a few seconds to start, trains some.
WORKERS = TINY.replace("n_samples: 240", "n_samples: 1500").replace("epochs: 2", "epochs: 30")
WORKERS = WORKERS.replace("batch_size: 64", "batch_size: 16").replace(
    "n_trials: 3", "n_trials: 6\n  pruner: none"
)


def test_with_workers_the_command_shows_counts_and_logs_every_trial(write_recipe, tmp_path):
    proc = sweepnn("run", write_recipe(WORKERS, "w"), "--workers", "2", "--device", "cpu", cwd=tmp_path)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    ran = [t for t in journal_study(tmp_path, "w").trials if t.user_attrs.get("outcome") != "surplus"]
    assert len(ran) == 6
    theirs = [t.number for t in ran if not t.user_attrs["sweepnn:worker"].endswith(f":{proc.pid}")]
    assert theirs and len(theirs) < 6, "both workers should have trained trials"
    for t in ran:  # the command's output has a line for every trial, whichever worker trained it
        assert f"  trial {t.number:>3} " in out, out
    assert "6 trial(s) run" in out, out
    log = (tmp_path / "results" / "w" / "workers" / "worker-1.log").read_text()
    logged = [t.number for t in ran if f"  trial {t.number:>3} " in log]
    assert logged == theirs, log  # a line for each trial the worker trained, and only those


def test_an_interrupt_of_two_workers_counts_both_running_trials(write_recipe, tmp_path):
    slow = WORKERS.replace("epochs: 30", "epochs: 500")
    proc = sweepnn("run", write_recipe(slow, "w"), "--workers", "2", "--device", "cpu", cwd=tmp_path)
    journal = tmp_path / "results" / "studies.journal"
    deadline = time.monotonic() + 120
    running: list = []
    while len(running) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        if journal.exists():
            with contextlib.suppress(KeyError):
                running = [t for t in journal_study(tmp_path, "w").trials if t.state == TrialState.RUNNING]
    assert len(running) == 2, "two trials should be training"
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "the 2 running trials were recorded as interrupted" in err, err
    outcomes = [t.user_attrs.get("outcome") for t in journal_study(tmp_path, "w").trials]
    assert outcomes.count("interrupted") == 2
