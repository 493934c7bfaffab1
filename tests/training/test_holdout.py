"""The test split: held out from training and from choosing, scored once for the best trials."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sweepnn.options.datasets import DATASETS
from sweepnn.recipe.loading import load_text
from sweepnn.record import held_out_scores
from sweepnn.results.tables import trials_frame
from sweepnn.sweep.opening import open_study
from sweepnn.sweep.storage import open_storage
from sweepnn.sweep.study import run_sweep, score_test
from sweepnn.training.data import load_data

torch.set_num_threads(1)
CPU = torch.device("cpu")

RECIPE = """\
data: {name: blobs, n_samples: 400, classes: 3, spread: 2.5, test_fraction: 0.25}
model: {name: mlp, depth: 1, width: 16}
train: {epochs: 3, batch_size: 64}
search:
  sampler: random
  pruner: none
  n_trials: 4
  test_top: 2
  space:
    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}
"""


class Silent:
    def sweep_started(self, study, done, budget, resumed, best):
        pass

    def trial_started(self, number, params):
        pass

    def epoch_done(self, number, epoch, epochs, metrics):
        pass

    def trial_done(self, trial, done, budget):
        pass


def sweep(text: str, folder: Path, name: str = "t"):
    recipe = load_text(text, f"{name}.yaml", name)
    study, resumed = open_study(recipe, open_storage(None, folder))
    summary = run_sweep(recipe, study, CPU, Silent(), resumed=resumed)
    score_test(study, recipe, CPU, summary.leaders)  # as `sweepnn run` does once the workers are done
    return recipe, study


def test_test_fraction_holds_out_examples_that_train_and_validation_never_see():
    params = DATASETS.parse({"name": "blobs", "n_samples": 400, "test_fraction": 0.25})
    data = load_data(params, CPU)
    assert len(data.x_test) == 100 and len(data.x_train) + len(data.x_val) == 300
    seen = torch.cat([data.x_train, data.x_val])
    assert not (data.x_test[:, None, :] == seen[None]).all(-1).any()
    # the same examples whatever the validation share or the limit: test is cut first
    other = load_data(params.model_copy(update={"val_fraction": 0.5, "limit": 50}), CPU)
    assert torch.equal(other.x_test, data.x_test)


def test_only_the_best_trials_are_scored_on_test_and_only_after_the_sweep(tmp_path):
    recipe = load_text(RECIPE, "t.yaml", "t")
    data = load_data(recipe.data, CPU)
    calls: list[int] = []  # for each forward pass on the test split: trials finished by then

    def hook(module, args):
        test_split = args[0].shape == data.x_test.shape and torch.equal(args[0], data.x_test)
        if isinstance(module, nn.Sequential) and test_split:
            calls.append(sum(t.state.is_finished() for t in study.trials))

    study, _ = open_study(recipe, open_storage(None, tmp_path))
    handle = nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        summary = run_sweep(recipe, study, CPU, Silent())
        score_test(study, recipe, CPU, summary.leaders)
    finally:
        handle.remove()
    assert calls == [4, 4]  # two trials scored, once each, when all four had finished
    scores = held_out_scores(study)
    best_two = sorted(study.trials, key=lambda t: -t.value)[:2]
    assert set(scores) == {t.number for t in best_two}
    for t in study.trials:  # the objective is the validation score, never the test one
        assert t.value == t.user_attrs["metrics"]["val_accuracy"]
    df = trials_frame(study, recipe)
    assert df["test_accuracy"].notna().sum() == 2
    assert df.loc[df["rank"] <= 2, "test_accuracy"].notna().all()


def test_a_best_trial_from_an_earlier_run_is_trained_again_to_the_same_score(tmp_path):
    _, kept = sweep(RECIPE, tmp_path / "a")  # scored from the weights kept in memory
    # the same sweep scored nothing at first, then a later run scores what earlier runs trained
    no_test = RECIPE.replace("test_top: 2", "test_top: 0")
    _, first = sweep(no_test, tmp_path / "b")
    assert held_out_scores(first) == {}
    _, later = sweep(RECIPE, tmp_path / "b")  # the budget is spent: nothing trains but the scoring
    assert len(later.trials) == 4
    again = held_out_scores(later)
    assert len(again) == 2 and set(again) == set(held_out_scores(kept))
    for number, scores in held_out_scores(kept).items():
        assert again[number] == pytest.approx(scores, rel=1e-6)


def test_datasets_without_a_test_split_score_nothing(tmp_path):
    _, study = sweep(RECIPE.replace(", test_fraction: 0.25", ""), tmp_path)
    assert held_out_scores(study) == {}
    assert "test_accuracy" not in trials_frame(study, load_text(RECIPE, "t.yaml", "t")).columns


def test_a_dataset_with_its_own_test_split_refuses_test_fraction():
    from sweepnn.errors import RecipeError

    with pytest.raises(RecipeError, match="mnist1d has a test set of its own"):
        load_text("data: {name: mnist1d, test_fraction: 0.1}\n", "r.yaml", "r")
    assert np.isclose(DATASETS.parse({"name": "mnist1d"}).test_fraction, 0.0)


def test_the_run_command_scores_the_best_trials_on_test(cli, write_recipe, tmp_path):
    code, out, _ = cli("run", write_recipe(RECIPE, "t"), "--device", "cpu")
    assert code == 0 and re.search(r"Best: trial \d+, val_accuracy [\d.]+, test_accuracy [\d.]+", out)
    with open(tmp_path / "results" / "t" / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sum(bool(r["test_accuracy"]) for r in rows) == 2 and rows[0]["test_accuracy"]
