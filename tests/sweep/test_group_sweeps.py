"""`search.group_size`: the sweep asks several trials at once and trains those of one shape as one
stacked model; the study sees the same trials, values and outcomes as one at a time."""

from __future__ import annotations

import pytest
import torch
from optuna.trial import TrialState

from sweepnn.recipe.loading import load_text
from sweepnn.sweep.opening import open_study
from sweepnn.sweep.storage import open_storage
from sweepnn.sweep.study import run_sweep

torch.set_num_threads(1)
CPU = torch.device("cpu")

GRID = """\
data: {name: blobs, n_samples: 300, classes: 3, spread: 2.5}
model: {name: mlp, depth: 2, width: 16}
train: {epochs: 3, batch_size: 32, optimizer: {name: sgd, lr: 0.05}}
search:
  sampler: grid
  pruner: none
  test_top: 0
  space:
    train.optimizer.lr: [0.01, 0.03, 0.1, 0.3]
    model.init: [he_normal, xavier_uniform]
    model.depth: [1, 2]
"""


class Silent:
    def __getattr__(self, name):
        return lambda *a, **k: None


def sweep(text: str, folder):
    recipe = load_text(text, "g.yaml", "g")
    study, _ = open_study(recipe, open_storage(None, folder))
    summary = run_sweep(recipe, study, CPU, Silent())
    return study, summary


def by_config(study) -> dict[tuple, tuple]:
    return {
        tuple(sorted(t.params.items())): (t.state, t.value, t.user_attrs["outcome"]) for t in study.trials
    }


def test_grouped_trials_score_as_trials_trained_one_at_a_time(tmp_path):
    alone, _ = sweep(GRID, tmp_path / "alone")
    grouped, summary = sweep(
        GRID.replace("  test_top: 0\n", "  test_top: 0\n  group_size: 8\n"), tmp_path / "g"
    )
    assert summary.ran == 16 and len(grouped.trials) == 16
    one, many = by_config(alone), by_config(grouped)
    assert one.keys() == many.keys()
    for config, (state, value, outcome) in one.items():
        assert many[config][0] == state and many[config][2] == outcome
        assert many[config][1] == pytest.approx(value, abs=1e-6)
    # depth is part of a group's shape: each 8 asked trials split into a group per depth
    sizes = [t.user_attrs.get("group_size", 1) for t in grouped.trials]
    for first in (0, 8):
        asked = grouped.trials[first : first + 8]
        depths = [t.params["model.depth"] for t in asked]
        assert [t.user_attrs.get("group_size", 1) for t in asked] == [depths.count(d) for d in depths]
    assert max(sizes) > 1


def test_a_group_never_exceeds_the_budget(tmp_path):
    study, summary = sweep(
        GRID.replace("sampler: grid", "sampler: random").replace(
            "  test_top: 0\n", "  test_top: 0\n  n_trials: 5\n  group_size: 4\n"
        ),
        tmp_path,
    )
    assert summary.ran == 5 and len([t for t in study.trials if t.state == TrialState.COMPLETE]) == 5
