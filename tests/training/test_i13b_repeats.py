"""Issue 13: with seed repeats, the test score and the outcome are over every seed, not the first's."""

from __future__ import annotations

import re
import statistics

import optuna
import pytest
import torch
from conftest import sweepnn

from sweepnn.training.result import TrialResult

REPEATS = """\
data: {name: blobs, n_samples: 300, classes: 3, spread: 2.5, test_fraction: 0.3}
model: {name: mlp, depth: 1, width: 16}
train: {epochs: 2, batch_size: 64, seed: 5}
search:
  sampler: random
  pruner: none
  n_trials: 2
  repeats: 3
  test_top: 1
  space:
    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}
"""


def test_every_repeat_is_scored_on_test_and_the_run_shows_mean_and_spread(write_recipe, tmp_path):
    from sweepnn.recipe.space import apply
    from sweepnn.record import held_out_scores, held_out_seeds
    from sweepnn.sweep.storage import open_storage
    from sweepnn.training.holdout import score_seeds_on_test

    recipe_path = write_recipe(REPEATS, "rep")
    proc = sweepnn("run", recipe_path, "--device", "cpu", cwd=tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    for line in (ln for ln in out.splitlines() if ln.startswith("  trial ")):
        assert re.search(r"trial +\d+ \w+ \d/3 ", line), line  # the outcome over the three seeds
    journal = str(tmp_path / "results" / "studies.journal")
    study = optuna.load_study(study_name="rep", storage=open_storage(journal, tmp_path))
    [(best, seeds)] = held_out_seeds(study).items()
    assert [s["seed"] for s in seeds] == [5, 6, 7]
    mean = statistics.fmean(s["test_accuracy"] for s in seeds)
    assert held_out_scores(study)[best]["test_accuracy"] == pytest.approx(mean)
    spread = statistics.stdev(s["test_accuracy"] for s in seeds)
    assert re.search(rf"Best: trial {best}, .*test_accuracy {mean:.4f} ± {spread:.2g}", out), out
    # the table and trials.csv: the test score as mean ± std, the outcome over the seeds
    import csv

    with open(tmp_path / "results" / "rep" / "trials.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if int(r["number"]) == best)
    assert float(row["test_accuracy.std"]) == pytest.approx(spread)
    assert re.fullmatch(r"\w+ \d/3", row["outcome"]), row["outcome"]
    table_row = next(ln for ln in out.splitlines() if re.match(rf"│\s+\d+ │\s+{best} │", ln))
    assert f" ± {spread:.2g}" in table_row and "/3" in table_row
    # each seed's kept network is that seed's: trained again alone, it scores the same
    from sweepnn.recipe.loading import load

    cfg = apply(load(recipe_path), study.trials[best].user_attrs["params"])
    again = score_seeds_on_test(cfg, torch.device("cpu"), None)
    assert [s["test_loss"] for s in again] == pytest.approx([s["test_loss"] for s in seeds])
    assert len({s["test_loss"] for s in seeds}) > 1  # the seeds differ, or this shows nothing


@pytest.mark.parametrize(
    ("outcomes", "shown", "said"),
    [
        (["ok", "vanishing", "vanishing"], "vanishing 2/3", "vanishing 2/3 (ok 1/3)"),
        (["stalled", "ok", "ok"], "ok 2/3", "ok 2/3 (stalled 1/3)"),
        (["overfitting", "overfitting", "overfitting"], "overfitting 3/3", "overfitting 3/3"),
        (["saturated", "ok"], "saturated 1/2", "saturated 1/2 (ok 1/2)"),  # a tie: the first seed's
    ],
)
def test_the_outcome_of_a_repeated_trial_is_over_its_seeds(monkeypatch, outcomes, shown, said):
    import sweepnn.training.trainer
    from sweepnn.recipe.loading import load_text
    from sweepnn.training.repeats import outcome_over_seeds, train_repeats

    it = iter(outcomes)

    def fake_train(cfg, device, report=None, data=None):
        outcome = next(it)
        return TrialResult(
            outcome, {"val_accuracy": 0.5}, reason=f"{outcome} here", model=torch.nn.Linear(1, 1)
        )

    monkeypatch.setattr(sweepnn.training.trainer, "train", fake_train)
    recipe = load_text(REPEATS.replace("repeats: 3", f"repeats: {len(outcomes)}"), "r.yaml", "r")
    result = train_repeats(recipe, torch.device("cpu"), None, None)
    assert result.outcome == shown.split()[0]
    assert result.reason.startswith(said)
    assert f"{result.outcome} here" in result.reason  # the reason of a seed that had that outcome
    assert outcome_over_seeds(result.repeats, result.outcome) == shown
