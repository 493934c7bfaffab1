"""Seed repeats: each configuration trained with k seeds, scored by the mean, ties shown as ties."""

from __future__ import annotations

import statistics

import pandas as pd
import pytest
import torch

from sweepnn.recipe.loading import load_text
from sweepnn.results.tables import _tied_ranks, display_frame, trials_frame
from sweepnn.sweep.opening import open_study
from sweepnn.sweep.storage import open_storage
from sweepnn.sweep.study import run_sweep
from sweepnn.training.repeats import train_repeats
from sweepnn.training.trainer import train

torch.set_num_threads(1)
CPU = torch.device("cpu")

RECIPE = """\
data: {name: blobs, n_samples: 300, classes: 3, spread: 2.5}
model: {name: mlp, depth: 1, width: 16}
train: {epochs: 3, batch_size: 64, seed: 5}
search:
  sampler: grid
  pruner: none
  repeats: 3
  space:
    train.optimizer.lr: [0.003, 0.03]
"""


class Silent:
    def __getattr__(self, name):
        return lambda *a, **k: None


def test_a_repeated_trial_is_the_mean_of_its_seeds_each_trained_alone():
    recipe = load_text(RECIPE, "r.yaml", "r")
    result = train_repeats(recipe, CPU, None, None)
    alone = [
        train(recipe.model_copy(update={"train": recipe.train.model_copy(update={"seed": s})}), CPU)
        for s in (5, 6, 7)
    ]
    values = [r.metrics["val_accuracy"] for r in alone]
    assert [r["seed"] for r in result.repeats] == [5, 6, 7]
    assert [r["val_accuracy"] for r in result.repeats] == values
    assert result.metrics["val_accuracy"] == pytest.approx(statistics.fmean(values))
    assert result.metrics_std["val_accuracy"] == pytest.approx(statistics.stdev(values))
    assert len(set(values)) > 1  # the seeds differ, or the test shows nothing


def test_a_sweep_with_repeats_scores_trials_by_the_mean_and_shows_the_spread(tmp_path):
    recipe = load_text(RECIPE, "r.yaml", "r")
    study, _ = open_study(recipe, open_storage(None, tmp_path))
    run_sweep(recipe, study, CPU, Silent())
    for t in study.trials:
        seeds = t.user_attrs["repeats"]
        assert len(seeds) == 3
        assert t.value == pytest.approx(statistics.fmean(s["val_accuracy"] for s in seeds))
    df = trials_frame(study, recipe)
    assert df["objective.val_accuracy.std"].notna().all()
    shown = display_frame(df, recipe)["val_accuracy"].tolist()
    first = df.iloc[0]
    assert shown[0] == f"{first['objective.val_accuracy']:.4g} ± {first['objective.val_accuracy.std']:.2g}"


def test_ranks_within_the_noise_are_ties():
    mean = pd.Series([0.90, 0.89, 0.70, 0.69])
    std = pd.Series([0.01, 0.01, 0.01, 0.2])
    # 0.01 apart with se 0.008: tied; 0.19 apart: not; 0.01 apart with a noisy one: tied
    assert _tied_ranks(mean, std, k=3).tolist() == [1, 1, 3, 3]
    assert _tied_ranks(mean, pd.Series([0.0] * 4), k=3).tolist() == [1, 2, 3, 4]  # no noise, no ties
