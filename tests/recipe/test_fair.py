"""Budget-fair comparison: each value of one option tuned in its own study with an equal budget."""

from __future__ import annotations

import csv

import pytest

from sweepnn.errors import RecipeError
from sweepnn.recipe.fair import arms
from sweepnn.recipe.loading import load_text

FAIR = """\
data: {name: blobs, n_samples: 300, classes: 3, spread: 2.5}
model: {name: mlp, depth: 1, width: 16}
train: {epochs: 2, batch_size: 64, optimizer: {name: adam, lr: 0.01}}
search:
  sampler: random
  pruner: none
  n_trials: 7
  fair: train.optimizer.name
  space:
    train.optimizer.name: [sgd, momentum, adam]
    train.optimizer.lr: {low: 1e-3, high: 1, log: true}
    train.optimizer.momentum: {low: 0.5, high: 0.99}
"""


def test_each_arm_fixes_its_value_and_gets_an_equal_share():
    split = arms(load_text(FAIR, "f.yaml", "f"))
    assert [label for label, _ in split] == ["sgd", "momentum", "adam"]
    assert [r.name for _, r in split] == ["f-sgd", "f-momentum", "f-adam"]
    assert [r.search.n_trials for _, r in split] == [3, 2, 2]  # 7 trials: the remainder to the first
    assert [r.train.optimizer.name for _, r in split] == ["sgd", "momentum", "adam"]
    assert all(r.search.fair is None for _, r in split)
    # the option is fixed, not searched; momentum is searched only where it applies
    assert [sorted(r.search.space) for _, r in split] == [
        ["train.optimizer.lr"],
        ["train.optimizer.lr", "train.optimizer.momentum"],
        ["train.optimizer.lr"],
    ]
    assert split[2][1].train.optimizer.lr == 0.01  # what the recipe wrote carries over


def test_a_timeout_is_shared_too():
    split = arms(load_text(FAIR.replace("n_trials: 7", "timeout: 90s"), "f.yaml", "f"))
    assert [r.search.timeout for _, r in split] == [30.0, 30.0, 30.0]


@pytest.mark.parametrize("path", ["train.optimizer.lr", "model.init"])
def test_fair_takes_a_searched_choice(path):
    with pytest.raises(RecipeError) as e:
        load_text(FAIR.replace("fair: train.optimizer.name", f"fair: {path}"), "f.yaml", "f")
    assert str(e.value.problems[0]).endswith(
        f"search.fair: '{path}' is not a searched choice of several values; fair takes one of:"
        " train.optimizer.name"
    )


def test_a_fair_run_trains_each_arm_and_compares_them_at_their_best(cli, write_recipe, tmp_path):
    code, out, _ = cli("run", write_recipe(FAIR, "f"), "--device", "cpu")
    assert code == 0
    results = tmp_path / "results"
    counts = {}
    for arm in ("sgd", "momentum", "adam"):
        with open(results / f"f-{arm}" / "trials.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        counts[arm] = len(rows)
        assert "train.optimizer.name" not in rows[0]  # fixed in the arm, not searched
    assert counts == {"sgd": 3, "momentum": 2, "adam": 2}
    table = out.split("Each arm at its best (equal budgets)")[1]
    assert all(f"f-{arm}" in table for arm in counts)
    summary = (results / "f" / "summary.md").read_text()
    assert summary.startswith("# Fair comparison `f`: train.optimizer.name")
    assert summary.count("](../f-") == 3
