"""What `sweepnn plot` draws, read back from the matplotlib figures (axes, lines, legends, colours,
texts) of real sweeps and of studies built trial by trial: `path=value` legends, training and
validation curves of the loss and the objective, effect plots coloured by the other choice, parallel
coordinates, the Pareto front of a study of two objectives, and the warning on importances from too
few trials."""

from __future__ import annotations

import math
import random
import textwrap
from pathlib import Path

import pytest
from conftest import command_on
from matplotlib.colors import to_hex
from test_analysis import add_study, recipe_text, storage_at, two_studies

from sweepnn.results import plots
from sweepnn.results.tables import fmt, trials_frame
from sweepnn.sweep import reading
from sweepnn.sweep.reading import IMPORTANCE_FLOOR, importance_caveat

pytest.importorskip("matplotlib")

# Two optimizers over a learning-rate range, with and without batchnorm, on a set hard enough that
# the trials differ (spirals: blobs would give every trial 1.0).
MIXED = """\
description: two optimizers over a learning-rate range, with and without batchnorm
data: {name: spirals, n_samples: 600, noise: 0.3}
model: {name: mlp, depth: 1, width: 32}
train: {epochs: 5, batch_size: 32}
search:
  sampler: random
  n_trials: 10
  pruner: none
  space:
    train.optimizer.name: [sgd, adam]
    train.optimizer.lr: {low: 1e-3, high: 0.3, log: true}
    model.norm: [none, batchnorm]
"""
# Accuracy against training time: a wider network scores more and takes longer, a trade-off.
MULTI = """\
description: accuracy against training time
data: {name: spirals, n_samples: 600, noise: 0.3}
model: {name: mlp, depth: 2, width: 32}
train: {epochs: 3, batch_size: 32, optimizer: {name: adam, lr: 0.01}}
search:
  sampler: random
  n_trials: 10
  objective: [val_accuracy, train_time]
  space:
    model.width: [4, 16, 128]
    train.optimizer.lr: {low: 1e-3, high: 0.1, log: true}
"""


def sweep(folder: Path, name: str, text: str):
    """`sweepnn run` of a recipe in a process of its own; the study it made, opened."""
    folder.mkdir(parents=True, exist_ok=True)
    recipe = folder / f"{name}.yaml"
    recipe.write_text(textwrap.dedent(text))
    code, _, err = command_on(folder, "run", recipe, timeout=240)
    assert code == 0, err
    return reading.load_studies(reading.open_for_reading(None, folder / "results"), [name])[0]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    return sweep(tmp_path_factory.mktemp("mixed"), "mixed", MIXED)


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    return sweep(tmp_path_factory.mktemp("multi"), "multi", MULTI)


@pytest.fixture
def drawn():
    """drawn(stored) -> {chart name: figure or why none}; every figure closed after the test."""
    import matplotlib.pyplot as plt

    yield lambda stored, **kw: dict(plots.draw(stored, **kw))
    plt.close("all")


def legend_texts(legend) -> list[str]:
    return [t.get_text() for t in legend.get_texts()]


def flat(points) -> list[float]:
    """Points as one list of numbers in a fixed order, for pytest.approx (which compares no tuples)."""
    return [float(v) for xy in sorted(tuple(map(float, p)) for p in points) for v in xy]


def ranked(stored) -> list:
    """The completed trials, best first, as the tables rank them."""
    df = trials_frame(stored.study, stored.recipe)
    return [stored.study.trials[n] for n in df.loc[df["state"] == "complete", "number"]]


# ---- learning curves -------------------------------------------------------------------------------


def test_curves_draw_training_dashed_and_validation_solid_of_the_loss_and_the_objective(mixed, drawn):
    fig = drawn(mixed)["curves"]
    best = ranked(mixed)[:5]
    accuracy, loss = fig.axes
    assert [accuracy.get_title(), loss.get_title()] == [
        "val_accuracy / train_accuracy",
        "val_loss / train_loss",
    ]
    assert [accuracy.get_ylabel(), loss.get_ylabel()] == ["accuracy", "loss"]
    for ax, metric in [(accuracy, "accuracy"), (loss, "loss")]:
        lines = ax.get_lines()
        assert len(lines) == 2 * len(best)  # a solid and a dashed line per trial
        for i, t in enumerate(best):
            val, train = lines[2 * i], lines[2 * i + 1]
            history = t.user_attrs["history"]
            assert (val.get_linestyle(), train.get_linestyle()) == ("-", "--")
            assert list(val.get_ydata()) == [h[f"val_{metric}"] for h in history]
            assert list(train.get_ydata()) == [h[f"train_{metric}"] for h in history]
            assert val.get_color() == train.get_color()  # one colour a trial, in both panels
            assert val.get_color() == accuracy.get_lines()[2 * i].get_color()
        assert len({line.get_color() for line in lines}) == len(best)
    # the key of the line styles, and the trials named by their searched values with their paths' names
    assert legend_texts(accuracy.get_legend()) == ["validation", "training"]
    (legend,) = fig.legends
    expected = []
    for rank, t in enumerate(best, 1):
        p = t.params
        lr = fmt(p["train.optimizer.lr"])
        values = f"optimizer={p['train.optimizer.name']}, lr={lr}, norm={p['model.norm']}"
        expected.append(f"{rank}. trial {t.number}: {values}")
    assert legend_texts(legend) == expected
    assert fig._suptitle.get_text() == "Learning curves of the best 5 trials of mixed"


def test_curves_of_two_objectives_have_a_panel_each_and_the_loss(multi, drawn):
    fig = drawn(multi)["curves"]
    assert [ax.get_title() for ax in fig.axes] == [
        "val_accuracy / train_accuracy",
        "train_time",  # a metric of no split: alone, solid
        "val_loss / train_loss",
    ]
    best = ranked(multi)[:5]
    times = fig.axes[1].get_lines()
    assert [line.get_linestyle() for line in times] == ["-"] * len(best)
    assert [list(line.get_ydata()) for line in times] == [
        [h["train_time"] for h in t.user_attrs["history"]] for t in best
    ]


# ---- effect plots ----------------------------------------------------------------------------------


def scatter_groups(ax) -> dict[str, tuple[str, list]]:
    """Legend label -> (colour, the points' offsets) of each scatter with a label."""
    out = {}
    for c in ax.collections:
        if c.get_label() and not c.get_label().startswith("_"):
            colour = c.get_facecolor() if len(c.get_facecolor()) else c.get_edgecolor()  # a ring: its edge
            out[c.get_label()] = (to_hex(colour[0]), [tuple(xy) for xy in c.get_offsets()])
    return out


def test_an_lr_plot_is_coloured_by_the_optimizer_it_belongs_to(mixed, drawn):
    ax = drawn(mixed)["effect-train.optimizer.lr"].axes[0]
    groups = scatter_groups(ax)
    by_optimizer: dict[str, list] = {}
    for t in ranked(mixed):
        p = t.params
        by_optimizer.setdefault(p["train.optimizer.name"], []).append((p["train.optimizer.lr"], t.values[0]))
    assert set(groups) == {f"optimizer={o} (n={len(pts)})" for o, pts in by_optimizer.items()}
    for o, pts in by_optimizer.items():
        _, offsets = groups[f"optimizer={o} (n={len(pts)})"]
        assert flat(offsets) == pytest.approx(flat(pts))
    assert len({colour for colour, _ in groups.values()}) == 2  # a colour per optimizer
    title = ax.get_legend().get_title().get_text()
    assert title.startswith("colour: optimizer,") and "the option lr belongs to" in title.replace("\n", " ")
    assert ax.get_xscale() == "log"


def test_a_choice_plot_is_coloured_by_the_other_choice_that_moved_the_objective_most(tmp_path, drawn):
    """norm moves the score by 0.4, the activation by 0.02: the init's dots are coloured by norm."""
    space = "    model.norm: [none, batchnorm]\n    model.activation: [relu, tanh]\n"
    storage = storage_at(tmp_path)
    trials = []
    for i, (init, norm, act) in enumerate(
        (a, b, c)
        for a in ("he_normal", "xavier_uniform")
        for b in ("none", "batchnorm")
        for c in ("relu", "tanh")
    ):
        value = 0.4 + 0.4 * (norm == "batchnorm") + 0.02 * (act == "tanh") + 0.001 * i
        trials.append(
            {
                "value": value,
                "params": {
                    "model.init": init,
                    "model.norm": norm,
                    "model.activation": act,
                    "train.optimizer.lr": 0.01,
                },
            }
        )
    add_study(storage, "three", recipe_text(extra=space), trials)
    stored = reading.load_studies(storage, ["three"])[0]
    ax = drawn(stored)["effect-model.init"].axes[0]
    groups = scatter_groups(ax)
    assert set(groups) == {"norm=batchnorm (n=4)", "norm=none (n=4)"}
    _, high = groups["norm=batchnorm (n=4)"]
    assert sorted(y for _, y in high) == pytest.approx(
        sorted(t["value"] for t in trials if t["params"]["model.norm"] == "batchnorm")
    )
    assert "moved val_accuracy most" in ax.get_legend().get_title().get_text().replace("\n", " ")
    # the norm's own plot: the next choice by effect, the activation
    assert set(scatter_groups(drawn(stored)["effect-model.norm"].axes[0])) == {
        "activation=relu (n=4)",
        "activation=tanh (n=4)",
    }


def test_an_effect_plot_without_another_choice_has_one_colour_and_no_legend(tmp_path, drawn):
    storage = storage_at(tmp_path)
    text = recipe_text().replace("    model.init: [he_normal, xavier_uniform]\n", "")  # lr alone
    lrs = [0.002, 0.01, 0.05]
    add_study(storage, "lr", text, [{"value": 0.5 + lr, "params": {"train.optimizer.lr": lr}} for lr in lrs])
    ax = drawn(reading.load_studies(storage, ["lr"])[0])["effect-train.optimizer.lr"].axes[0]
    assert ax.get_legend() is None
    (dots,) = ax.collections
    assert flat(dots.get_offsets()) == pytest.approx(flat([(lr, 0.5 + lr) for lr in lrs]))


# ---- parallel coordinates --------------------------------------------------------------------------


def test_parallel_coordinates_have_an_axis_per_path_and_the_objective(mixed, drawn):
    fig = drawn(mixed)["parallel"]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["optimizer", "lr", "norm", "val_accuracy"]
    lines = ax.get_lines()
    complete = ranked(mixed)
    assert len(lines) == len(complete)
    # the lr axis is log: a trial's height there is log10(lr) over the searched decades
    lo, hi = math.log10(1e-3), math.log10(0.3)
    heights = sorted(line.get_ydata()[1] for line in lines)
    assert heights == pytest.approx(
        sorted((math.log10(t.params["train.optimizer.lr"]) - lo) / (hi - lo) for t in complete)
    )
    # the objective last, from the worst (0) to the best (1), drawn best last (on top)
    values = [t.values[0] for t in complete]
    assert lines[-1].get_ydata()[-1] == pytest.approx(1.0)
    assert sorted(line.get_ydata()[-1] for line in lines) == pytest.approx(
        sorted((v - min(values)) / (max(values) - min(values)) for v in values)
    )
    # the levels of a choice: its values in the recipe's order, spaced evenly (within a small spread)
    optimizer = [line.get_ydata()[0] for line in lines]
    assert all(abs(y) < 0.03 or abs(y - 1) < 0.03 for y in optimizer)
    texts = {t.get_text() for t in ax.texts}
    assert {"sgd", "adam", "none", "batchnorm", "0.001", "0.01", "0.1", "0.3"} <= texts
    assert fig.axes[1].get_ylabel() == "val_accuracy (maximize)"  # the colour bar


def test_parallel_coordinates_draw_pruned_trials_grey_and_leave_failed_out(tmp_path, drawn):
    storage = storage_at(tmp_path)
    two_studies(storage)  # plain: 4 complete trials, 1 pruned
    add_study(
        storage,
        "failing",
        recipe_text(),
        [
            {"value": 0.8, "params": {"model.init": "he_normal", "train.optimizer.lr": 0.01}},
            {"value": 0.6, "params": {"model.init": "xavier_uniform", "train.optimizer.lr": 0.02}},
            {
                "state": "pruned",
                "value": 0.3,
                "params": {"model.init": "he_normal", "train.optimizer.lr": 0.09},
            },
            {"state": "fail", "params": {"model.init": "he_normal", "train.optimizer.lr": 0.05}},
        ],
    )
    fig = drawn(reading.load_studies(storage, ["failing"])[0])["parallel"]
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3  # the failed trial has no value: not drawn
    assert [to_hex(line.get_color()) for line in lines].count(to_hex("lightgrey")) == 1
    assert (
        fig._supxlabel.get_text()
        == "1 pruned in grey, at the value they were stopped at; 1 failed or unfinished left out"
    )


# ---- several objectives ----------------------------------------------------------------------------


def non_dominated(trials, directions) -> set[int]:
    sign = [1 if d == "maximize" else -1 for d in directions]

    def beats(a, b):
        return all(s * x >= s * y for s, x, y in zip(sign, a, b, strict=True)) and any(
            s * x > s * y for s, x, y in zip(sign, a, b, strict=True)
        )

    return {t.number for t in trials if not any(beats(o.values, t.values) for o in trials if o is not t)}


def test_the_pareto_front_of_two_objectives(multi, drawn):
    charts = drawn(multi)
    ax = charts["pareto"].axes[0]
    complete = ranked(multi)
    front = non_dominated(complete, ["maximize", "minimize"])
    groups = scatter_groups(ax)
    (front_label,) = [k for k in groups if k.startswith("on the front")]
    (rest_label,) = [k for k in groups if k.startswith("dominated")]
    assert (
        front_label == f"on the front ({len(front)})"
        and rest_label == f"dominated ({len(complete) - len(front)})"
    )
    points = {t.number: tuple(t.values) for t in complete}
    assert flat(groups[front_label][1]) == pytest.approx(flat([points[n] for n in front]))
    assert groups[front_label][0] == to_hex("tab:red")
    assert sorted(int(t.get_text()) for t in ax.texts) == sorted(front)  # each front trial numbered
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("val_accuracy (maximize)", "train_time (minimize)")
    assert charts["pareto"]._supxlabel.get_text().startswith("better is right and down")
    # the history: a panel per objective, each with its own best so far and the front ringed
    history = charts["history"]
    assert [a.get_ylabel() for a in history.axes] == ["val_accuracy (max)", "train_time (min)"]
    for a, best in zip(history.axes, (max, min), strict=True):
        (step,) = a.get_lines()
        assert step.get_ydata()[-1] == pytest.approx(best(t.values[history.axes.index(a)] for t in complete))
        ringed = scatter_groups(a)["on the Pareto front"][1]
        assert sorted(x for x, _ in ringed) == sorted(front)
    # importances: a chart per objective, each saying which it is of and drawing that objective's own
    from optuna.importance import get_param_importances

    assert "importances" not in charts
    for i, (metric, sign) in enumerate((("val_accuracy", -1.0), ("train_time", 1.0))):
        chart = charts[f"importances-{metric}"]
        assert chart._suptitle.get_text() == (
            f"Parameter importances of multi (PED-ANOVA, {len(complete)} completed trials)\n"
            f"for {metric}, objective {i + 1} of 2"
        )
        expected = get_param_importances(
            multi.study,
            params=list(multi.recipe.search.space),
            target=lambda t, i=i, sign=sign: sign * t.values[i],
        )
        bars = {b.get_width() for b in chart.axes[0].patches}
        assert sorted(bars) == pytest.approx(sorted(expected.values()))


def test_a_single_objective_study_has_no_pareto_chart(mixed, drawn):
    assert "pareto" not in drawn(mixed)


# ---- importances -----------------------------------------------------------------------------------


def study_of(storage, name: str, n: int):
    """n completed trials where the init moves the score by 0.2 and the learning rate by a little."""
    rng = random.Random(n)
    trials = []
    for i in range(n):
        init = ("he_normal", "xavier_uniform")[i % 2]
        lr = 10 ** rng.uniform(-3, -1)
        trials.append(
            {
                "value": 0.5 + 0.2 * (init == "he_normal") + 0.01 * rng.random(),
                "params": {"model.init": init, "train.optimizer.lr": lr},
            }
        )
    add_study(storage, name, recipe_text(), trials)
    return reading.load_studies(storage, [name])[0]


def test_importances_warn_below_the_floor_and_not_at_it(tmp_path, drawn):
    assert IMPORTANCE_FLOOR == 50  # 5 trials in PED-ANOVA's best 10%
    storage = storage_at(tmp_path)
    few = drawn(study_of(storage, "few", IMPORTANCE_FLOOR - 1))["importances"]
    ax = few.axes[0]
    warning = ax.get_title(loc="left")
    assert warning.startswith("Only 49 completed trials: these importances rest on the best 5")
    assert (
        "sweepnn compare few --by PATH" in warning
        and "trust them from 50 completed trials on" in warning.replace("\n", " ")
    )
    assert to_hex(ax._left_title.get_color()) == to_hex("firebrick")  # in red, boxed
    assert ax._left_title.get_bbox_patch() is not None
    assert few._suptitle.get_text() == "Parameter importances of few (PED-ANOVA, 49 completed trials)"
    enough = drawn(study_of(storage, "enough", IMPORTANCE_FLOOR))["importances"]
    assert enough.axes[0].get_title(loc="left") == ""
    assert enough.axes[0].get_title() == "Parameter importances of enough (PED-ANOVA, 50 completed trials)"
    bars = {
        t.get_text(): p.get_width()
        for t, p in zip(enough.axes[0].get_yticklabels(), enough.axes[0].patches, strict=True)
    }
    assert bars["init"] > bars["lr"]  # with enough trials the init, which moves the score, ranks first
    assert importance_caveat(4).startswith("Only 4 completed trials: these importances rest on the best 1 ")
    assert importance_caveat(IMPORTANCE_FLOOR) is None


def test_show_gives_the_same_warning_under_its_importances(tmp_path):
    from sweepnn.results import inspection

    storage = storage_at(tmp_path)
    few = inspection.importance_lines(inspection.build(study_of(storage, "few", IMPORTANCE_FLOOR - 1), 5))
    assert any(line.startswith("Only 49 completed trials") for line in few)
    assert "Compare the values themselves: sweepnn compare few --by PATH" in few
    enough = inspection.importance_lines(inspection.build(study_of(storage, "enough", IMPORTANCE_FLOOR), 5))
    assert not any("completed trials" in line for line in enough) and any("init" in line for line in enough)
