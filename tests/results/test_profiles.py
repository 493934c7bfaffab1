"""Performance profiles and sensitivity curves (sweepnn.results.profiles): the ratios and rho(tau) of
hand-computed cases (ties, options that never reach the target, settings nobody reached, options
absent from a setting), sensitivity points of several trials at one x, fixed studies whose epochs to
the target are worked out here, and a real sweep read back."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from conftest import command_on
from test_analysis import add_study, storage_at

from sweepnn import speed
from sweepnn.errors import InputError
from sweepnn.results import profiles
from sweepnn.sweep import reading

INF = math.inf


def frame(times: dict[str, list[float]]) -> pd.DataFrame:
    """option -> its time in settings 0, 1, 2, ... (None: no trial of it ran there)."""
    rows = [
        {"option": o, "setting": i, "time": t}
        for o, ts in times.items()
        for i, t in enumerate(ts)
        if t is not None
    ]
    return pd.DataFrame(rows)


# ---- the ratios and rho(tau), by hand -----------------------------------------------------------------


def test_the_brief_example_by_hand():
    made = profiles.ratios(frame({"A": [1, 2, INF], "B": [2, 2, 3]}))
    assert made.unreached == 0
    assert made.ratios["A"].tolist() == [1, 1, INF]
    assert made.ratios["B"].tolist() == [2, 1, 1]
    assert made.rho("A", 1) == pytest.approx(2 / 3)
    assert [made.rho("A", tau) for tau in (1.5, 2, 100)] == pytest.approx([2 / 3] * 3)  # inf: never
    assert made.rho("B", 1) == pytest.approx(2 / 3)
    assert made.rho("B", 1.99) == pytest.approx(2 / 3)
    assert made.rho("B", 2) == 1
    # the step curve: corners at 1, at each ratio, and at the end of the axis (2 * 1.25)
    assert made.tau_max() == 2.5
    assert made.curve("A") == ([1.0, 2.5], pytest.approx([2 / 3, 2 / 3]))
    assert made.curve("B") == ([1.0, 2.0, 2.5], pytest.approx([2 / 3, 1, 1]))


def test_ties_are_each_the_fastest():
    made = profiles.ratios(frame({"A": [3, 5], "B": [3, 10], "C": [6, 5]}))  # epochs: ties are common
    assert made.ratios.to_dict("list") == {"A": [1, 1], "B": [1, 2], "C": [2, 1]}
    assert [made.rho(o, 1) for o in "ABC"] == [1, 0.5, 0.5]


def test_an_option_that_never_reached_the_target_stays_at_zero():
    made = profiles.ratios(frame({"fast": [1, 4], "never": [INF, INF]}))
    assert made.ratios["never"].tolist() == [INF, INF]
    assert made.curve("never", 10) == ([1.0, 10], [0.0, 0.0])
    assert made.tau_max() == 2.0  # the axis's least span: only ratios of 1 are finite


def test_settings_nobody_reached_are_left_out_and_counted():
    made = profiles.ratios(frame({"A": [INF, 2, INF, 1], "B": [INF, 4, INF, INF]}))
    assert made.unreached == 2
    assert made.ratios.index.tolist() == [1, 3]  # the settings as the frame named them
    assert made.ratios.to_dict("list") == {"A": [1, 1], "B": [2, INF]}
    assert made.rho("B", 2) == 0.5
    everyone_failed = profiles.ratios(frame({"A": [INF], "B": [INF]}))
    assert everyone_failed.ratios.empty and everyone_failed.unreached == 1


def test_the_fastest_trial_of_an_option_in_a_setting_counts():
    df = pd.DataFrame({"option": ["A", "A", "A", "B"], "setting": [0, 0, 0, 0], "time": [INF, 6.0, 3.0, 4.0]})
    made = profiles.ratios(df)
    assert made.ratios.to_dict("list") == {"A": [1.0], "B": [4 / 3]}


def test_an_option_is_a_share_of_the_settings_it_ran_in():
    made = profiles.ratios(frame({"A": [1, 1, 1, 1], "B": [2, None, None, 1]}), ["B", "A"])
    assert made.options == ["B", "A"]  # the order asked for
    assert made.ratios["B"].tolist()[:1] == [2] and math.isnan(made.ratios["B"][1])
    assert (made.settings_of("A"), made.settings_of("B")) == (4, 2)
    assert (made.rho("B", 1), made.rho("B", 2)) == (0.5, 1.0)


def test_a_single_setting_steps_up_at_each_options_ratio():
    made = profiles.ratios(frame({"A": [4.0], "B": [2.0], "C": [INF]}))
    assert made.ratios.to_dict("list") == {"A": [2.0], "B": [1.0], "C": [INF]}
    assert made.curve("A") == ([1.0, 2.0, 2.5], [0.0, 1.0, 1.0])
    assert made.curve("B") == ([1.0, 2.5], [1.0, 1.0])


def test_a_zero_time_only_ties_another_zero():
    made = profiles.ratios(frame({"A": [0.0, 1.0], "B": [0.0, 2.0], "C": [1.0, INF]}))
    assert made.ratios.to_dict("list") == {"A": [1, 1], "B": [1, 2], "C": [INF, INF]}


# ---- sensitivity points ---------------------------------------------------------------------------


def test_sensitivity_points_of_several_trials_at_one_x():
    trials = pd.DataFrame(
        {
            "curve": ["A", "A", "A", "A", "B", "B"],
            "x": [0.1, 0.1, 0.1, 0.01, 0.1, 0.001],
            "value": [0.5, 0.9, 0.7, 0.6, 0.4, 0.3],
        }
    )
    median = profiles.sensitivity_points(trials, "maximize", "median", ["B", "A"])
    assert median.values.tolist() == [
        ["B", 0.001, 0.3, 1],
        ["B", 0.1, 0.4, 1],
        ["A", 0.01, 0.6, 1],  # x ascending within a curve
        ["A", 0.1, 0.7, 3],
    ]
    best = profiles.sensitivity_points(trials, "maximize", "best")
    assert best[best["curve"] == "A"]["value"].tolist() == [0.6, 0.9]
    least = profiles.sensitivity_points(trials, "minimize", "best")  # a loss: the best is the least
    assert least[least["curve"] == "A"]["value"].tolist() == [0.6, 0.5]
    with pytest.raises(InputError, match="median or the best"):
        profiles.sensitivity_points(trials, "maximize", "mean")


# ---- the target -----------------------------------------------------------------------------------


def test_parse_target():
    assert profiles.parse_target("val_accuracy=0.6") == {"val_accuracy": 0.6}
    assert profiles.parse_target(" val_loss = 0.5") == {"val_loss": 0.5}
    with pytest.raises(InputError, match=r"write METRIC=VALUE, e\.g\. val_accuracy=0\.6"):
        profiles.parse_target("val_accuracy")
    with pytest.raises(InputError, match="unknown metric 'val_acuracy'; did you mean 'val_accuracy'"):
        profiles.parse_target("val_acuracy=0.6")
    with pytest.raises(InputError, match="'high' is not a number"):
        profiles.parse_target("val_accuracy=high")
    with pytest.raises(InputError, match="inf is not a value a run can reach"):
        profiles.parse_target("val_loss=inf")


# ---- fixed studies: epochs to the target worked out by hand ------------------------------------------

RECIPE = """\
data: {name: blobs, n_samples: 240, classes: 3}
model: {name: mlp, depth: 1, width: 16}
train: {epochs: 3, batch_size: 64, optimizer: {name: momentum, lr: 0.01, momentum: 0.9}}
search:
  sampler: random
  space:
    train.optimizer.name: [sgd, momentum, adam]
    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}
    train.optimizer.momentum: [0.8, 0.9]
    model.norm: [none, batchnorm]
    model.activation: [relu, tanh]
"""


def trial(opt, norm, act, history, lr=0.01, state="complete"):
    params = {
        "train.optimizer.name": opt,
        "train.optimizer.lr": lr,
        "model.norm": norm,
        "model.activation": act,
    }
    if opt == "momentum":
        params["train.optimizer.momentum"] = 0.9
    return {"value": history[-1], "history": history, "params": params, "state": state}


# Target val_accuracy >= 0.7. In epochs, per setting (norm, activation):
#   none, relu:       sgd 3 and 1 (the faster counts), momentum 2, adam 1 (a pruned trial: it got there)
#   batchnorm, relu:  sgd never, momentum 1, adam 2
#   none, tanh:       nobody reaches it: left out
TRIALS = [
    trial("sgd", "none", "relu", [0.5, 0.6, 0.7]),
    trial("sgd", "none", "relu", [0.7, 0.8, 0.8], lr=0.05),
    trial("momentum", "none", "relu", [0.6, 0.75, 0.8]),
    trial("adam", "none", "relu", [0.72], state="pruned"),
    trial("sgd", "batchnorm", "relu", [0.5, 0.5, 0.5]),
    trial("momentum", "batchnorm", "relu", [0.7, 0.8, 0.9]),
    trial("adam", "batchnorm", "relu", [0.6, 0.7, 0.75]),
    trial("sgd", "none", "tanh", [0.3, 0.4, 0.5]),
    trial("adam", "none", "tanh", [0.4, 0.5, 0.6], lr=0.002),
]
TARGET = speed.Target("val_accuracy", 0.7, True, "target")


@pytest.fixture
def fixed(tmp_path):
    storage = storage_at(tmp_path)
    add_study(storage, "opt", RECIPE, TRIALS)
    return reading.load_studies(storage, ["opt"])[0]


def test_a_studys_profile_in_epochs(fixed):
    made, timed = profiles.profile(fixed, "train.optimizer.name", TARGET, "epochs")
    # the range is tuned over, and momentum (which only one optimizer has) belongs to its option
    assert timed.tuned == ["train.optimizer.lr", "train.optimizer.momentum"]
    assert timed.setting_paths == ["model.norm", "model.activation"]
    assert made.options == ["adam", "momentum", "sgd"]
    assert made.unreached == 1
    assert made.ratios.index.tolist() == [("none", "relu"), ("batchnorm", "relu")]
    assert made.ratios.to_dict("list") == {"adam": [1, 2], "momentum": [2, 1], "sgd": [1, INF]}
    assert [made.rho(o, 1) for o in made.options] == [0.5, 0.5, 0.5]
    assert [made.rho(o, 2) for o in made.options] == [1, 1, 0.5]


def test_the_profile_of_another_choice_has_the_optimizer_in_its_settings(fixed):
    made, timed = profiles.profile(fixed, "model.norm", TARGET, "epochs")
    assert timed.setting_paths == ["train.optimizer", "train.optimizer.momentum", "model.activation"]
    # relu settings only: sgd (none 1, batchnorm never), momentum (none 2, batchnorm 1), adam (1, 2)
    assert made.ratios.index.tolist() == [
        ("sgd", "n/a", "relu"),
        ("momentum", 0.9, "relu"),
        ("adam", "n/a", "relu"),
    ]
    assert made.ratios.to_dict("list") == {"none": [1, 2, 1], "batchnorm": [INF, 1, 2]}
    assert made.unreached == 2  # sgd and adam with tanh


def test_no_recorded_training_time_says_to_count_epochs(fixed):
    assert profiles.profile(fixed, "train.optimizer", TARGET, "seconds") == (
        "no trial reached val_accuracy >= 0.7 with its training time recorded (6 reached it without:"
        " --time epochs)"
    )
    out_of_reach = speed.Target("val_accuracy", 0.95, True, "target")
    assert profiles.profile(fixed, "train.optimizer", out_of_reach, "epochs") == (
        "no trial reached val_accuracy >= 0.95"
    )
    with pytest.raises(InputError, match="time unit 'steps': one of seconds, epochs"):
        profiles.times(fixed, "train.optimizer", TARGET, "steps")


def test_the_sensitivity_of_a_fixed_study(fixed):
    made = profiles.sensitivity(fixed, "train.optimizer.lr", profiles.default_by(fixed))
    assert made.curves == ["adam", "momentum", "sgd"]  # the pruned adam trial is no completed one
    assert made.points.values.tolist() == [
        ["adam", 0.002, 0.6, 1],
        ["adam", 0.01, 0.75, 1],
        ["momentum", 0.01, pytest.approx(0.85), 2],  # the median of 0.8 and 0.9
        ["sgd", 0.01, 0.5, 3],  # the median of 0.7, 0.5 and 0.5
        ["sgd", 0.05, 0.8, 1],
    ]
    best = profiles.sensitivity(fixed, "train.optimizer.lr", "train.optimizer", how="best")
    assert best.points["value"].tolist() == [0.6, 0.75, 0.9, 0.7, 0.8]
    momentum = profiles.sensitivity(fixed, "train.optimizer.momentum", None)
    assert momentum.missing == 6  # of the 8 completed trials, it applies to the 2 momentum ones
    assert momentum.points.values.tolist() == [["", 0.9, pytest.approx(0.85), 2]]


def test_the_searched_paths_charts_are_drawn_along(fixed):
    assert profiles.choice_paths(fixed) == [
        "train.optimizer",
        "train.optimizer.momentum",
        "model.norm",
        "model.activation",
    ]
    assert profiles.numeric_paths(fixed) == ["train.optimizer.lr", "train.optimizer.momentum"]
    assert profiles.default_by(fixed) == "train.optimizer"


def test_the_target_given_the_recipes_or_the_default(tmp_path, fixed):
    assert profiles.target_of(fixed, {"val_accuracy": 0.6}) == speed.Target(
        "val_accuracy", 0.6, True, "target"
    )
    assert profiles.target_of(fixed, {"val_loss": 0.3}).maximize is False
    # no chance recorded: 90% of the best completed trial's 0.9 (the pruned trial's 0.72 is none)
    default = profiles.target_of(fixed)
    assert (default.metric, default.value, default.label) == ("val_accuracy", pytest.approx(0.81), "90%")
    storage = storage_at(tmp_path / "other")
    text = RECIPE.replace("  sampler: random\n", "  sampler: random\n  target: {val_accuracy: 0.75}\n")
    add_study(storage, "aimed", text, TRIALS[:2])
    aimed = reading.load_studies(storage, ["aimed"])[0]
    assert profiles.target_of(aimed).describe() == "val_accuracy >= 0.75"
    add_study(storage, "empty", RECIPE, [{"state": "fail", "params": {}}])
    assert profiles.target_of(reading.load_studies(storage, ["empty"])[0]).startswith("no trial completed")


# ---- a real sweep ---------------------------------------------------------------------------------

# Two optimizers at two learning rates, with and without batchnorm, each trained to its end: every
# optimizer is timed in every setting (lr, norm), and each point of a sensitivity curve has two trials.
REAL = """\
description: two optimizers at two learning rates, with and without batchnorm
data: {name: blobs, n_samples: 240, classes: 3}
model: {name: mlp, depth: 1, width: 16}
train: {epochs: 4, batch_size: 32}
search:
  sampler: grid
  pruner: none
  space:
    train.optimizer.name: [sgd, adam]
    train.optimizer.lr: [0.01, 0.1]
    model.norm: [none, batchnorm]
"""


def real_sweep(folder: Path) -> Path:
    """Run REAL with `sweepnn run` in a process of its own into folder/results; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    recipe = folder / "speed.yaml"
    recipe.write_text(textwrap.dedent(REAL))
    code, _, err = command_on(folder, "run", recipe, timeout=240)
    assert code == 0, err
    return folder


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The real sweep's study, opened (module-wide: one sweep for every test of it)."""
    folder = real_sweep(tmp_path_factory.mktemp("real"))
    storage = reading.open_for_reading(None, folder / "results")
    return reading.load_studies(storage, ["speed"])[0]


def test_a_real_sweeps_profile_is_the_fastest_trials_seconds(real):
    target = speed.Target("val_accuracy", 0.6, True, "target")
    made, timed = profiles.profile(real, "train.optimizer", target, "seconds")
    assert timed.setting_paths == ["train.optimizer.lr", "model.norm"] and timed.tuned == []
    # worked out from the stored curves: the seconds of the first epoch at the target, per setting
    seconds: dict[tuple, dict[str, float]] = {}
    for t in real.study.get_trials():
        p = t.params
        reached = [h["train_time"] for h in t.user_attrs["history"] if h["val_accuracy"] >= 0.6]
        setting = (p["train.optimizer.lr"], p["model.norm"])
        seconds.setdefault(setting, {})[p["train.optimizer.name"]] = reached[0] if reached else INF
    kept = {s: by for s, by in seconds.items() if min(by.values()) < INF}
    assert made.unreached == len(seconds) - len(kept) and len(made.ratios) == len(kept)
    for setting, by in kept.items():
        fastest = min(by.values())
        assert made.ratios.loc[[setting]].iloc[0].to_dict() == pytest.approx(
            {o: t / fastest for o, t in by.items()}
        )
    assert made.ratios.min(axis=1).tolist() == [1.0] * len(kept)  # some option is the fastest in each


def test_a_real_sweeps_sensitivity_has_two_trials_a_point(real):
    made = profiles.sensitivity(real, "train.optimizer.lr", profiles.default_by(real))
    assert made.curves == ["adam", "sgd"] and made.missing == 0
    assert made.points[["curve", "x", "trials"]].values.tolist() == [
        ["adam", 0.01, 2],
        ["adam", 0.1, 2],
        ["sgd", 0.01, 2],
        ["sgd", 0.1, 2],
    ]
    for _, point in made.points.iterrows():
        at = made.trials[(made.trials["curve"] == point["curve"]) & (made.trials["x"] == point["x"])]
        assert point["value"] == pytest.approx(at["value"].median())
