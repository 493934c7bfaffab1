"""Reading studies back and comparing them, on fixed studies built trial by trial (no training).

`add_study` is shared with test_results_cli.py and test_plots.py: a study exactly as `sweepnn run`
leaves it (recipe attribute, trial user attributes, Optuna distributions), with values chosen here.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from sweepnn import record
from sweepnn.errors import InputError
from sweepnn.recipe.loading import load_text
from sweepnn.recipe.space import plan
from sweepnn.results import analysis, effects
from sweepnn.sweep import reading
from sweepnn.sweep.storage import open_storage

BASE = """\
data: {{name: blobs, n_samples: 240, classes: 3}}
model: {{name: mlp, depth: 1, width: 16, norm: {norm}}}
train: {{epochs: 3, batch_size: 64, optimizer: {{name: adam, lr: 0.01}}}}
search:
  sampler: random
  space:
    {init}: [he_normal, xavier_uniform]
    train.optimizer.lr: {{low: 1e-3, high: 1e-1, log: true}}
"""


def recipe_text(norm: str = "none", init: str = "model.init", extra: str = "") -> str:
    return BASE.format(norm=norm, init=init) + extra  # extra: more lines, indented as in BASE


def storage_at(folder: Path):
    """The default journal storage of a results folder, as `sweepnn run --results folder` uses it."""
    return open_storage(None, folder)


def _distribution(p):
    s = p.spec
    if s.choices is not None:
        return CategoricalDistribution(s.choices)
    if p.kind == "int":
        return IntDistribution(int(s.low), int(s.high), log=s.log, step=int(s.step or 1))
    return FloatDistribution(s.low, s.high, log=s.log, step=s.step)


def add_study(storage, name: str, text: str, trials: list[dict[str, Any]]):
    """A study of fixed trials. Each trial: value, params, and optionally state (complete, pruned,
    fail), outcome, seconds, repeats (the objective per seed), history (objective per epoch)."""
    recipe = load_text(text, f"{name}.yaml", name)
    metric = recipe.search.objectives[0].metric
    study = optuna.create_study(
        study_name=name, storage=storage, directions=[o.direction for o in recipe.search.objectives]
    )
    study.set_user_attr(record.STUDY_RECIPE, recipe.model_dump(mode="json"))
    dists = {p.path: _distribution(p) for p in plan(recipe.search.space)}
    for t in trials:
        state = TrialState[t.get("state", "complete").upper()]
        value = t.get("value")
        curve = t.get("history") or ([value * 0.5, value * 0.8, value] if value is not None else [])
        lr = t["params"].get("train.optimizer.lr", 0.01)
        attrs: dict[str, Any] = {
            "params": t["params"],
            "outcome": t.get("outcome", {"COMPLETE": "ok", "FAIL": "diverged"}.get(state.name, "pruned")),
            "reason": t.get("reason", ""),
            "epochs": len(curve),
            "seconds": t.get("seconds", 1.5),
            "metrics": {metric: value, "val_loss": 1 - (value or 0), "dead_fraction": 0.125, "gap": 0.0625},
            "history": [{"epoch": i, metric: v, "lr": lr} for i, v in enumerate(curve, 1)],
        }
        if "repeats" in t:
            attrs["repeats"] = [{"seed": i, metric: v, "outcome": "ok"} for i, v in enumerate(t["repeats"])]
        study.add_trial(
            create_trial(
                state=state,
                value=value if state == TrialState.COMPLETE else None,
                params=t["params"],
                distributions={k: dists[k] for k in t["params"]},
                user_attrs=attrs,
                intermediate_values={i: v for i, v in enumerate(curve, 1)}
                if state == TrialState.PRUNED
                else {},
            )
        )
    return study


def two_studies(storage) -> None:
    """`plain` fixes norm none, `bn` fixes batchnorm and spells its init path with `.name`."""
    add_study(
        storage,
        "plain",
        recipe_text(),
        [
            {"value": 0.80, "params": {"model.init": "he_normal", "train.optimizer.lr": 0.01}},
            {"value": 0.70, "params": {"model.init": "he_normal", "train.optimizer.lr": 0.05}},
            {"value": 0.60, "params": {"model.init": "xavier_uniform", "train.optimizer.lr": 0.002}},
            {"value": 0.65, "params": {"model.init": "xavier_uniform", "train.optimizer.lr": 0.02}},
            {
                "state": "pruned",
                "value": 0.3,
                "params": {"model.init": "he_normal", "train.optimizer.lr": 0.09},
            },
        ],
    )
    add_study(
        storage,
        "bn",
        recipe_text(norm="batchnorm", init="model.init.name"),
        [
            {
                "value": 0.90,
                "params": {"model.init.name": "he_normal", "train.optimizer.lr": 0.03},
                "seconds": 2.0,
            },
            {"value": 0.85, "params": {"model.init.name": "xavier_uniform", "train.optimizer.lr": 0.004}},
            {"value": 0.75, "params": {"model.init.name": "xavier_uniform", "train.optimizer.lr": 0.07}},
        ],
    )


@pytest.fixture
def stored(tmp_path):
    storage = storage_at(tmp_path)
    two_studies(storage)
    return reading.load_studies(storage, ["plain", "bn"])


def test_canonical_drops_name_only_from_option_choices():
    assert analysis.canonical("model.init.name") == "model.init"
    assert analysis.canonical("train.optimizer.name") == "train.optimizer"
    assert analysis.canonical("train.optimizer.lr") == "train.optimizer.lr"
    assert analysis.canonical("data.name") == "data"


def test_values_not_searched_are_read_from_each_studys_recipe(stored):
    df = analysis.completed_frame(stored, ["model.init", "model.norm", "model.depth"])
    assert df[["study", "trial", "value", "model.init", "model.norm", "model.depth"]].values.tolist() == [
        ["plain", 0, 0.80, "he_normal", "none", 1],
        ["plain", 1, 0.70, "he_normal", "none", 1],
        ["plain", 2, 0.60, "xavier_uniform", "none", 1],
        ["plain", 3, 0.65, "xavier_uniform", "none", 1],
        ["bn", 0, 0.90, "he_normal", "batchnorm", 1],
        ["bn", 1, 0.85, "xavier_uniform", "batchnorm", 1],
        ["bn", 2, 0.75, "xavier_uniform", "batchnorm", 1],
    ]


def test_a_fixed_value_follows_the_option_a_trial_chose():
    text = """\
    model: {name: mlp, depth: 1, width: 16}
    train: {optimizer: {name: momentum, lr: 0.01, momentum: 0.8}}
    search: {space: {train.optimizer.name: [sgd, momentum, rmsprop]}}
    """
    recipe = load_text(textwrap.dedent(text), "m.yaml", "m")
    values = analysis.PathValues(recipe, ["train.optimizer.momentum", "train.optimizer"])
    assert values.of({"train.optimizer.name": "momentum"}) == {
        "train.optimizer.momentum": 0.8,
        "train.optimizer": "momentum",
    }
    assert values.of({"train.optimizer.name": "sgd"})["train.optimizer.momentum"] == analysis.NA
    # rmsprop takes a momentum too: the value the recipe wrote carries over, as in a real trial
    assert values.of({"train.optimizer.name": "rmsprop"})["train.optimizer.momentum"] == 0.8


def test_unknown_path_lists_the_searched_paths(stored):
    with pytest.raises(InputError) as e:
        analysis.check_paths(["model.intt"], stored)
    assert str(e.value) == (
        "--by 'model.intt' names no field of a recipe; did you mean 'model.init'? searched in these"
        " studies: model.init, train.optimizer.lr (any other recipe field works too, e.g. model.depth)"
    )
    with pytest.raises(InputError, match=r"'train\.regularization' is a section, not a value; name a field"):
        analysis.check_paths(["train.regularization"], stored)
    assert analysis.check_paths(["model.init.name", "train.optimizer.name"], stored) == [
        "model.init",
        "train.optimizer",
    ]


def test_study_name_typo_suggests_the_closest(tmp_path):
    storage = storage_at(tmp_path)
    two_studies(storage)
    with pytest.raises(InputError) as e:
        reading.load_studies(storage, ["plian"])
    assert str(e.value) == "no study 'plian'; did you mean 'plain'? studies in this storage: bn, plain"


def test_marginal_effect_pools_the_studies(stored):
    df, direction = effects.trials_for(stored, ["model.init"])
    table = effects.marginal(df, "model.init", direction)
    assert list(table.columns) == ["model.init", "trials", "mean", "std", "best", "median rank", "best trial"]
    assert table["model.init"].tolist() == ["he_normal", "xavier_uniform"]
    assert table["trials"].tolist() == [3, 4]
    assert table["mean"].tolist() == pytest.approx([0.8, 0.7125])
    # xavier: deviations -0.1125 -0.0625 0.1375 0.0375 -> sum of squares 0.036875 over 3
    assert table["std"].tolist() == pytest.approx([0.1, math.sqrt(0.036875 / 3)])
    assert table["best"].tolist() == [0.90, 0.85]
    assert table["median rank"].tolist() == [3.0, 5.0]  # ranks 1,3,5 and 2,4,6,7 among the 7 trials
    assert table["best trial"].tolist() == ["bn#0", "bn#1"]


def test_two_way_table_crosses_searched_and_fixed_values(stored):
    df, direction = effects.trials_for(stored, ["model.init", "model.norm"])
    long = effects.two_way(df, "model.init", "model.norm", direction)
    assert long[["model.init", "model.norm", "trials", "best"]].values.tolist() == [
        ["he_normal", "batchnorm", 1, 0.90],
        ["he_normal", "none", 2, 0.80],
        ["xavier_uniform", "batchnorm", 2, 0.85],
        ["xavier_uniform", "none", 2, 0.65],
    ]


def test_a_float_range_is_grouped_into_quartiles():
    column = pd.Series([0.001 * 2**i for i in range(12)] + ["n/a"])
    groups, order = analysis.levels(column)
    assert order == ["0.001..0.004", "0.008..0.032", "0.064..0.256", "0.512..2.048", "n/a"]
    assert groups.tolist()[:4] == ["0.001..0.004"] * 3 + ["0.008..0.032"]


# ---- seed repeats: intervals and the tie test -----------------------------------------------------

SEEDED = {
    "relu": (0.80, 0.82, 0.84),  # mean 0.82, sd 0.02
    "tanh": (0.78, 0.80, 0.82),  # 0.80, sd 0.02: Welch t = 1.22, df = 4, p = 0.288 -> tied
    "sigmoid": (0.50, 0.52, 0.54),  # far below: p < 0.0001 -> not tied
}


def seeded_study(storage):
    extra = "    model.activation: [relu, tanh, sigmoid]\n  repeats: 3\n"
    trials = [
        {"value": sum(v) / 3, "params": {"model.init": "he_normal", "model.activation": a}, "repeats": v}
        for a, v in SEEDED.items()
    ]
    trials.append(  # a worse relu trial: the interval belongs to each value's best trial only
        {
            "value": 0.6,
            "params": {"model.init": "he_normal", "model.activation": "relu"},
            "repeats": (0.6, 0.6, 0.6),
        }
    )
    return add_study(storage, "seeded", recipe_text(extra=extra), trials)


def test_repeats_give_intervals_and_a_welch_tie_test(tmp_path):
    storage = storage_at(tmp_path)
    seeded_study(storage)
    stored = reading.load_studies(storage, ["seeded"])
    df, direction = effects.trials_for(stored, ["model.activation"])
    table = effects.marginal(df, "model.activation", direction)
    assert table["model.activation"].tolist() == ["relu", "tanh", "sigmoid"]
    assert table["best trial"].tolist() == ["0", "1", "2"]
    assert table["seeds"].tolist() == [3, 3, 3]
    half = 4.302652729911275 * 0.02 / math.sqrt(3)  # t(0.975, df 2) * sd / sqrt(k)
    assert table["ci low"].tolist() == pytest.approx([0.82 - half, 0.80 - half, 0.52 - half])
    assert table["ci high"].tolist() == pytest.approx([0.82 + half, 0.80 + half, 0.52 + half])
    assert math.isnan(table["p vs best"][0])
    assert table["p vs best"][1] == pytest.approx(0.2878641, abs=1e-6)
    assert table["p vs best"][2] < 1e-4
    assert table["tied"].tolist() == ["best", "yes", "no"]


def test_welch_p_edge_cases():
    assert math.isnan(effects.welch_p((0.5,), (0.5, 0.6)))
    assert effects.welch_p((0.5, 0.5), (0.5, 0.5)) == 1.0  # no noise, same mean
    assert effects.welch_p((0.5, 0.5), (0.4, 0.4)) == 0.0  # no noise, different means


def test_list_counts_states_and_best(tmp_path):
    storage = storage_at(tmp_path)
    two_studies(storage)
    df = analysis.summaries(storage)
    assert df.drop(columns=["best"]).values.tolist() == [
        ["bn", 3, 3, 0, 0, 0, "val_accuracy (max)", 0],
        ["plain", 5, 4, 1, 0, 0, "val_accuracy (max)", 0],
    ]
    assert df["best"].tolist() == [0.90, 0.80]


def test_studies_with_different_objectives_are_not_pooled(tmp_path):
    storage = storage_at(tmp_path)
    two_studies(storage)
    add_study(storage, "loss", recipe_text(extra="  objective: val_loss\n"), [])
    stored = reading.load_studies(storage, ["plain", "loss"])
    with pytest.raises(InputError, match=r"these differ: plain: val_accuracy \(maximize\), loss: val_loss"):
        effects.trials_for(stored, ["model.init"])
