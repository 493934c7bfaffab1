"""Issue 13: what a study's files and the reading commands count and show.

Metric columns follow the task (from the metric registry), a trial's time holds no start-up, an
interval of an accuracy stays within [0, 1], a stalled trial's reason states the margin, and an
attempt cut short and trained again is history: in trials.csv, out of the ranking and the counts.
"""

from __future__ import annotations

import csv
import math
import statistics

import pandas as pd
from conftest import sweepnn
from optuna.trial import TrialState, create_trial
from test_analysis import _distribution, add_study, recipe_text, storage_at

from sweepnn.outcomes import STALL_MARGIN, classify
from sweepnn.recipe.loading import load_text
from sweepnn.recipe.space import plan
from sweepnn.results import effects

TASKS = {
    "regression": (
        "data: {name: teacher, n_samples: 200}\n",
        ["val_loss", "val_r2", "train_r2", "train_loss", "train_time"],
    ),
    "classification": (
        "data: {name: blobs, n_samples: 200, classes: 3}\n",
        ["val_accuracy", "val_loss", "train_accuracy", "train_loss", "train_time"],
    ),
}
# A grid over the seed alone: four trials of one configuration, so each should take about as long.
SWEEP = """\
name: {name}
{data}model: {{name: mlp, depth: 1, width: 16}}
train: {{epochs: 2, batch_size: 32, optimizer: {{name: adam, lr: 0.01}}}}
search:
  sampler: grid
  space:
    train.seed: [1, 2, 3, 4]
"""


def _rows(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def test_trials_csv_has_the_metric_columns_of_its_task_and_trial_times_hold_no_start_up(tmp_path):
    procs = {}
    for task, (data, _) in TASKS.items():
        (tmp_path / f"{task}.yaml").write_text(SWEEP.format(name=task, data=data))
        procs[task] = sweepnn(
            "run", f"{task}.yaml", "--device", "cpu", "-q", "--storage", f"{task}.journal", cwd=tmp_path
        )
    for proc in procs.values():
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    metric_names = {m for _, cols in TASKS.values() for m in cols}
    for task, (_, expected) in TASKS.items():
        folder = tmp_path / "results" / task
        rows = _rows(folder / "trials.csv")
        assert [c for c in rows[0] if c in metric_names | {"val_r2", "train_r2"}] == expected
        assert all(r[m] != "" for r in rows for m in expected), rows
        # the process's start-up is said apart, and is in no trial's time
        summary = (folder / "summary.md").read_text()
        line = next(x for x in summary.splitlines() if x.startswith("- start-up: "))
        assert line.endswith(" s (the process's one-off set-up, in no trial's time)")
        assert float(line.split()[2]) > 0
        seconds = {int(r["number"]): float(r["seconds"]) for r in rows}
        others = statistics.median(seconds[n] for n in seconds if n != 0)
        assert seconds[0] < 3 * others, seconds


def test_stalled_reason_states_the_margin_it_applies():
    history = [{"val_accuracy": 0.558, "train_accuracy": 0.56}]
    assert classify(history, history[-1], chance=0.508) == (
        "stalled",
        f"validation accuracy 0.558 is within {STALL_MARGIN:g} of chance (0.508)",
    )
    history = [{"val_accuracy": 0.45, "train_accuracy": 0.46}]
    assert classify(history, history[-1], chance=0.508) == (
        "stalled",
        "validation accuracy 0.450 is no better than chance (0.508)",
    )


def test_a_confidence_interval_stays_within_the_metric_bounds():
    df = pd.DataFrame(
        {
            "study": ["s"] * 3,
            "trial": [0, 1, 2],
            "value": [0.97, 0.9, 0.05],
            "model.init": ["a", "b", "c"],
            "seeds": [(0.99, 0.95), (0.95, 0.85), (0.0, 0.1)],
        }
    )
    table = effects.marginal(df, "model.init", "maximize", "val_accuracy")
    assert table["ci high"].tolist()[0] == 1.0 and table["ci low"].tolist()[-1] == 0.0
    assert all(0 <= v <= 1 for v in [*table["ci low"], *table["ci high"]])
    loss = effects.marginal(df, "model.init", "minimize", "val_loss")
    assert min(loss["ci low"]) == 0.0 and max(loss["ci high"]) > 1  # a loss has no upper bound
    unbounded = effects.marginal(df, "model.init", "maximize")
    assert max(unbounded["ci high"]) > 1 and not math.isnan(max(unbounded["ci high"]))


def _with_retry(storage, name: str, retried: bool):
    """Trial 0 complete, trial 1 interrupted; with `retried`, trial 2 trained trial 1 again."""
    text = recipe_text()
    study = add_study(
        storage,
        name,
        text,
        [
            {"value": 0.8, "params": {"model.init": "he_normal", "train.optimizer.lr": 0.01}},
            {
                "state": "fail",
                "outcome": "interrupted",
                "reason": "interrupted by SIGINT",
                "params": {"model.init": "xavier_uniform", "train.optimizer.lr": 0.02},
            },
        ],
    )
    if retried:
        recipe = load_text(text, f"{name}.yaml", name)
        dists = {p.path: _distribution(p) for p in plan(recipe.search.space)}
        params = {"model.init": "xavier_uniform", "train.optimizer.lr": 0.02}
        attrs = {"params": params, "outcome": "ok", "retry_of": 1, "epochs": 3, "seconds": 1.0}
        attrs["metrics"] = {"val_accuracy": 0.7}
        study.add_trial(
            create_trial(
                state=TrialState.COMPLETE, value=0.7, params=params, distributions=dists, user_attrs=attrs
            )
        )
    return study


def test_an_attempt_trained_again_is_history_not_a_result(tmp_path):
    from sweepnn.results.files import write_results

    storage = storage_at(tmp_path / "results")
    again = _with_retry(storage, "again", retried=True)
    _with_retry(storage, "cut", retried=False)

    proc = sweepnn("list", cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    header = next(x for x in out.splitlines() if "study" in x)
    assert [c.strip() for c in header.strip("┃").split("┃")] == [
        "study", "trials", "complete", "pruned", "failed", "running", "interrupted", "objective", "best",
        "best trial",
    ]  # fmt: skip
    cells = {
        row.split("│")[1].strip(): [c.strip() for c in row.split("│")[2:8]]
        for row in out.splitlines()
        if "│" in row
    }
    # trials, complete, pruned, failed, running, interrupted: no interruption counts as a failure
    assert cells["again"] == ["2", "2", "0", "0", "0", "0"]
    assert cells["cut"] == ["2", "1", "0", "0", "0", "1"]

    recipe = load_text(recipe_text(), "again.yaml", "again")
    folder = write_results(again, recipe, tmp_path / "out").folder
    rows = _rows(folder / "trials.csv")
    assert [(r["number"], r["state"], r["rank"], r["retried_as"]) for r in rows] == [
        ("0", "complete", "1", ""),
        ("2", "complete", "2", ""),
        ("1", "interrupted", "", "2"),
    ]
    summary = (folder / "summary.md").read_text()
    assert "- trials: 2 (2 ok); 1 attempt(s) cut short and trained again, kept in trials.csv" in summary
    table = summary.split("## Ranked trials")[1]
    assert "interrupted" not in table and [
        line.split("|")[2].strip() for line in table.strip().splitlines()[2:]
    ] == [
        "0",
        "2",
    ]

    proc = sweepnn("show", "again", cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "2 trials (2 ok)" in out and "interrupted" not in out
