"""The convergence-speed figures against curves computed by hand: epochs and seconds to a target,
the area under the curve, the default targets, `late_gain` (the `slow` rule's figure) and the
compare tables' speed columns."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sweepnn import speed
from sweepnn.outcomes import SLOW_GAIN, classify, late_gain
from sweepnn.results import effects

# A curve that climbs and levels off: epoch, cumulative training seconds, validation accuracy.
CURVE = [
    {"epoch": 1, "train_time": 0.5, "val_accuracy": 0.30, "val_loss": 2.0},
    {"epoch": 2, "train_time": 1.0, "val_accuracy": 0.55, "val_loss": 1.2},
    {"epoch": 3, "train_time": 1.6, "val_accuracy": 0.70, "val_loss": 0.9},
    {"epoch": 4, "train_time": 2.1, "val_accuracy": 0.68, "val_loss": 0.95},
]


def test_reach_is_the_first_epoch_at_the_target_with_its_seconds():
    up = speed.Target("val_accuracy", 0.55, True, "t")
    assert speed.reach(CURVE, up) == (2, 1.0)  # at the target counts: >=
    assert speed.reach(CURVE, speed.Target("val_accuracy", 0.69, True, "t")) == (3, 1.6)
    assert speed.reach(CURVE, speed.Target("val_accuracy", 0.71, True, "t")) is None
    down = speed.Target("val_loss", 1.0, False, "t")  # a loss is reached from above
    assert speed.reach(CURVE, down) == (3, 1.6)
    # an epoch without the metric (a diverged one) is skipped, not read as a value
    assert speed.reach([{"epoch": 1, "train_loss": 9.0}, *CURVE[2:]], up) == (3, 1.6)


def test_auc_is_the_mean_of_the_epochs_values():
    assert speed.auc(CURVE, "val_accuracy") == pytest.approx((0.30 + 0.55 + 0.70 + 0.68) / 4)
    assert speed.auc([{"epoch": 1}], "val_accuracy") is None
    # the same final value reached sooner has the larger area
    late = [{"epoch": i, "val_accuracy": v} for i, v in enumerate([0.1, 0.1, 0.1, 0.7], 1)]
    early = [{"epoch": i, "val_accuracy": v} for i, v in enumerate([0.7, 0.7, 0.7, 0.7], 1)]
    assert speed.auc(early, "val_accuracy") > speed.auc(late, "val_accuracy")


def test_default_targets_are_shares_of_the_way_from_chance_to_the_best():
    half, most = speed.default_targets("val_accuracy", True, 0.9, 0.1, (0.5, 0.9))
    assert (half.value, most.value) == (pytest.approx(0.5), pytest.approx(0.82))
    assert (half.label, most.label, most.columns) == ("50%", "90%", ("epochs_to_90%", "seconds_to_90%"))
    assert most.describe() == "val_accuracy >= 0.82"
    # without a trivial predictor's score: a share of the best, or for a loss the best over it
    (loss,) = speed.default_targets("val_loss", False, 0.45, None, (0.9,))
    assert loss.value == pytest.approx(0.5) and not loss.maximize
    assert speed.default_targets("val_accuracy", True, None, 0.1, (0.5,)) == []


def test_given_targets_name_their_columns():
    (one,) = speed.given_targets({"val_loss": 0.3}, {"val_loss": False})
    assert (one.columns, one.maximize) == (("epochs_to_target", "seconds_to_target"), False)
    two = speed.given_targets(
        {"val_loss": 0.3, "val_accuracy": 0.6}, {"val_loss": False, "val_accuracy": True}
    )
    assert [t.label for t in two] == ["val_loss", "val_accuracy"]


def test_figures_of_a_run():
    got = speed.figures(
        CURVE, speed.given_targets({"val_accuracy": 0.6}, {"val_accuracy": True}), "val_accuracy"
    )
    assert got == {"auc": pytest.approx(0.5575), "epochs_to_target": 3, "seconds_to_target": 1.6}
    never = speed.figures(CURVE, [speed.Target("val_accuracy", 0.99, True, "x")], "val_accuracy")
    assert (never["epochs_to_x"], never["seconds_to_x"]) == (None, None)


def _curve(values: list[float]) -> list[dict]:
    return [{"epoch": i, "val_accuracy": v, "lr": 0.1} for i, v in enumerate(values, 1)]


def test_late_gain_is_the_trend_over_the_last_fifth_as_a_share_of_the_margin():
    # 10 epochs: the last max(3, 2) = 3 epochs, 0.60, 0.64, 0.68: a slope of 0.04 an epoch, 0.08 over
    # the window; the margin over chance (0.1) at the end is 0.58
    climbing = _curve([0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.58, 0.60, 0.64, 0.68])
    assert late_gain(climbing, "accuracy", 0.1) == pytest.approx(0.08 / 0.58)
    # a noisy plateau: up, down, up: the line through the window is flat
    flat = _curve([0.2, 0.5, 0.6, 0.65, 0.7, 0.7, 0.7, 0.69, 0.71, 0.69])
    assert late_gain(flat, "accuracy", 0.1) == pytest.approx(-0.0 / 0.59, abs=1e-9)
    # 20 epochs: the window is 4 epochs
    long = _curve([0.5] * 16 + [0.50, 0.52, 0.54, 0.56])
    assert late_gain(long, "accuracy", 0.1) == pytest.approx(0.06 / 0.46)
    assert late_gain(climbing[:4], "accuracy", 0.1) is None  # under SLOW_MIN_EPOCHS: not judged
    assert late_gain(_curve([0.1] * 6), "accuracy", 0.1) is None  # no margin: stalled, not slow


def test_the_slow_rule_names_a_climbing_run_and_not_a_level_one():
    climbing = _curve([0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.58, 0.60, 0.64, 0.68])
    outcome, reason = classify(climbing, climbing[-1], 0.1)
    assert outcome == "slow" and late_gain(climbing, "accuracy", 0.1) > SLOW_GAIN
    assert reason == (
        "still improving at its last epoch: validation accuracy gained 14% of its margin over chance"
        " in the last 3 epochs"
    )
    level = _curve([0.2, 0.5, 0.6, 0.65, 0.7, 0.7, 0.7, 0.69, 0.71, 0.69])
    assert classify(level, level[-1], 0.1)[0] == "ok"


def test_the_marginal_tables_speed_columns():
    # two values of a path, each with trials that reached the target at known seconds (NaN: never)
    df = pd.DataFrame(
        {
            "study": "s",
            "trial": range(6),
            "value": [0.9, 0.8, 0.7, 0.85, 0.6, 0.5],
            "opt": ["a", "a", "a", "b", "b", "b"],
            "to_epochs": [2, 4, math.nan, 1, math.nan, math.nan],
            "to_seconds": [2.0, 4.0, math.nan, 1.0, math.nan, math.nan],
            "seeds": None,
            "seeds_reached": None,
        }
    )
    table = effects.marginal(df, "opt", "maximize", "val_accuracy").set_index("opt")
    assert list(table.loc["a", ["reached", "epochs to", "s to"]]) == ["2/3", 3.0, 3.0]
    assert list(table.loc["b", ["reached", "epochs to", "s to"]]) == ["1/3", 1.0, 1.0]
    # a: median over (2, 4, inf) is 4; b: over (1, inf, inf) is inf: reaching it more often ranks first
    assert (table.loc["a", "speed rank"], table.loc["b", "speed rank"]) == (1, 2)
    long = effects.two_way(df.assign(other="x"), "opt", "other", "maximize").set_index("opt")
    assert (long.loc["a", "reached"], long.loc["a", "s to"], long.loc["b", "s to"]) == (2, 3.0, 1.0)


def test_a_run_early_stopping_ended_is_never_slow():
    climbing = _curve([0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.58, 0.60, 0.64, 0.68])
    assert classify(climbing, climbing[-1], 0.1, budget_ended=False)[0] == "ok"


def test_a_target_on_a_users_own_metric(tmp_path, monkeypatch):
    from sweepnn.results.profiles import parse_target

    (tmp_path / "mets.py").write_text(
        "def f1(out, y):\n    return float((out.argmax(1) == y).float().mean())\n\n"
        "f1.direction = 'maximize'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert parse_target("mets:f1=0.5") == {"mets:f1": 0.5}
    with pytest.raises(Exception, match="unknown metric 'val_acc'"):
        parse_target("val_acc=0.5")


def test_a_run_that_climbs_to_a_perfect_score_is_not_slow():
    # the same steep finish, but it ends at 1.0 (and at 0.99, within 5% of the margin of it): no
    # budget held it back
    for last in (1.0, 0.99):
        curve = _curve([0.4, 0.6, 0.7, 0.8, 0.85, 0.88, 0.9, 0.92, last - 0.04, last])
        assert late_gain(curve, "accuracy", 0.1) > SLOW_GAIN
        assert classify(curve, curve[-1], 0.1)[0] == "ok"
    curve = _curve([0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.72, 0.80, 0.85, 0.90])  # room left: slow
    assert classify(curve, curve[-1], 0.1)[0] == "slow"
