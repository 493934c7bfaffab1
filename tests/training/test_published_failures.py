"""The textbook training failures, each reproduced on small data and named by its outcome on every seed.

- Glorot & Bengio 2010: a deep sigmoid stack with the standard init U(-1/sqrt(n), 1/sqrt(n)) drives
  its top hidden layer to 0, where the sigmoid passes little gradient, and learning stalls.
- Zero (or constant) initialization: every unit of a layer stays identical under any optimizer.
- He et al. 2015: a 30-layer ReLU net with Xavier init under plain SGD does not train (the signal
  halves its variance at every layer); with He init the same net trains.
- A ReLU net killed by a high learning rate: its units die and it cannot recover.
- A learning rate too high for the net: the loss explodes.
Each configuration trains in about a second; three seeds each, all named alike.
"""

from __future__ import annotations

import pytest
import torch

from sweepnn.outcomes import classify
from sweepnn.recipe.config import Recipe
from sweepnn.training.repeats import train_repeats
from sweepnn.training.trainer import train

torch.set_num_threads(1)
CPU = torch.device("cpu")
SEEDS = (0, 1, 2)
SPIRALS = {"name": "spirals", "n_samples": 3000, "classes": 3}
MNIST1D = {"name": "mnist1d", "n_samples": 4000}


def recipe(data: dict, model: dict, optimizer: dict, epochs: int, batch_size: int = 64, **search) -> Recipe:
    return Recipe(
        name="t",
        data=data,
        model={"name": "mlp", **model},
        train={"epochs": epochs, "batch_size": batch_size, "optimizer": optimizer},
        search=search or {},
    )


def on_seeds(cfg: Recipe) -> list:
    """The configuration trained once per seed."""
    return [
        train(cfg.model_copy(update={"train": cfg.train.model_copy(update={"seed": s})}), CPU) for s in SEEDS
    ]


def glorot(activation: str, init: str) -> Recipe:
    return recipe(
        MNIST1D,
        {"depth": 4, "width": 256, "activation": activation, "init": init},
        {"name": "sgd", "lr": 0.5},
        epochs=5,
        batch_size=32,
    )


def test_glorot_bengio_the_top_sigmoid_layer_saturates_near_zero():
    runs = on_seeds(glorot("sigmoid", "torch_default"))
    for run in runs:
        assert run.outcome == "saturated", run.reason
        last = run.history[-1]
        passes = last["gradient_pass_by_layer"]
        # the top hidden layer is the worst, sitting near 0 (not at the ends: the old measure saw nothing)
        assert passes.index(min(passes)) == len(passes) - 1 and min(passes) < 0.3
        assert last["mean_by_layer"][-1] < 0.1
        assert last["saturated_fraction"] < 0.1
        assert "activation layer 4" in run.reason
        assert run.metrics["val_accuracy"] < run.chance + 0.05  # learning stalls
    # the same stack with tanh and a normalized (Xavier) init learns
    tanh = train(glorot("tanh", "xavier_uniform"), CPU)
    assert tanh.outcome != "saturated"
    assert tanh.metrics["val_accuracy"] > runs[0].metrics["val_accuracy"] + 0.15


@pytest.mark.parametrize("optimizer", [{"name": "sgd", "lr": 0.1}, {"name": "adam", "lr": 1e-3}])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_zero_init_is_symmetric_whatever_the_optimizer(activation, optimizer):
    cfg = recipe(SPIRALS, {"depth": 3, "width": 32, "activation": activation, "init": "zeros"}, optimizer, 4)
    for run in on_seeds(cfg):
        assert run.outcome == "symmetric", run.reason
        assert "32 units of weight layer" in run.reason
        spreads = run.metrics["row_spread_by_layer"]  # of the kept network
        assert max(spreads[:-1]) < 1e-3  # every hidden layer's units alike


def he(init: str) -> Recipe:
    return recipe(
        SPIRALS,
        {"depth": 30, "width": 64, "activation": "relu", "init": init},
        {"name": "sgd", "lr": 0.01},
        5,
    )


def test_he_2015_deep_relu_with_xavier_init_vanishes_under_sgd():
    for run in on_seeds(he("xavier_normal")):
        assert run.outcome == "vanishing", run.reason
        assert run.history[-1]["signal_ratio"] < 1e-3  # the signal fades on its way up
    trained = train(he("he_normal"), CPU)
    # it trains: healthy, and in this short budget still climbing at the end (slow, not a failure)
    assert trained.outcome in ("ok", "slow") and trained.metrics["val_accuracy"] > 0.8


def relu(lr: float, **search) -> Recipe:
    return recipe(
        SPIRALS,
        {"depth": 4, "width": 64, "activation": "relu", "init": "he_normal"},
        {"name": "adam", "lr": lr},
        4,
        **search,
    )


def test_a_relu_net_killed_by_a_high_learning_rate_is_dead():
    for run in on_seeds(relu(0.3)):
        assert run.outcome == "dead", run.reason
        assert run.history[-1]["dead_fraction"] > 0.9
    healthy = train(relu(1e-2), CPU)
    assert healthy.outcome == "ok" and healthy.metrics["val_accuracy"] > 0.9


def test_a_learning_rate_too_high_diverges():
    cfg = recipe(SPIRALS, {"depth": 4, "width": 64, "init": "he_normal"}, {"name": "sgd", "lr": 3.0}, 4)
    for run in on_seeds(cfg):
        assert run.outcome == "diverged" and "exploded" in run.reason
        assert run.epochs == 1


def test_seed_repeats_give_one_outcome_with_its_count():
    dead = train_repeats(relu(0.3, repeats=3), CPU, None, None)
    assert dead.outcome == "dead" and dead.reason.startswith("dead 3/3")
    assert [r["outcome"] for r in dead.repeats] == ["dead"] * 3
    # a seed that diverges does not stop the others: the count says how close to the edge it is
    cfg = recipe(
        SPIRALS, {"depth": 4, "width": 64, "init": "he_normal"}, {"name": "sgd", "lr": 3.0}, 2, repeats=3
    )
    diverged = train_repeats(cfg, CPU, None, None)
    assert diverged.outcome == "diverged" and diverged.reason.startswith("diverged 3/3")
    assert len(diverged.repeats) == 3


def test_the_seeds_disagreeing_is_said():
    from sweepnn.training.repeats import over_seeds
    from sweepnn.training.result import TrialResult

    runs = [TrialResult("dead", {}, reason="r0"), TrialResult("ok", {}), TrialResult("dead", {}, reason="r2")]
    assert over_seeds(runs, 5) == ("dead", "dead 2/3 (ok 1/3); seed 5: r0")
    runs[1] = TrialResult("diverged", {}, reason="loss exploded")
    assert over_seeds(runs, 5)[0] == "diverged"  # any seed diverging: the configuration has no score
    assert over_seeds(runs, 5)[1].startswith("diverged 1/3 (dead 2/3)")
    # as the tables show it: the count of the seeds that had it, or what the seeds said when the study
    # named the configuration
    from sweepnn.training.repeats import outcome_over_seeds

    seeds = [{"outcome": "dead"}, {"outcome": "ok"}, {"outcome": "dead"}]
    assert outcome_over_seeds(seeds, "dead") == "dead 2/3"
    assert outcome_over_seeds([{"outcome": "ok"}] * 3, "dead", against_study=True) == "dead (seeds: ok 3/3)"


def test_a_run_far_below_the_same_networks_best_is_named_by_its_cause(tmp_path):
    """In a study, an `ok` run far below what its network reached, with a quarter of a layer's units
    dead, is `dead` (its score alone would not say so), whatever order the trials ran in."""
    import pandas as pd

    import sweepnn

    cfg = relu(1e-2).model_dump()
    cfg["search"] = {"sampler": "grid", "pruner": "none", "space": {"train.optimizer.lr": [0.01, 0.12, 0.15]}}
    sweepnn.run(Recipe.model_validate(cfg), results_dir=tmp_path, device="cpu", threads=1)
    table = pd.read_csv(tmp_path / "t" / "trials.csv").set_index("train.optimizer.lr")
    assert table.loc[0.01, "outcome"] == "ok"
    for lr in (0.12, 0.15):
        assert table.loc[lr, "outcome"] == "dead", table.loc[lr, "reason"]
        assert "far below" in table.loc[lr, "reason"] and "are dead" in table.loc[lr, "reason"]
        assert table.loc[lr, "dead_fraction"] >= 0.25


def test_below_reach_needs_a_measured_cause():
    from sweepnn.outcomes import below_reach

    history = [{"val_accuracy": 0.6, "dead_fraction_by_layer": [0.1, 0.3]}]
    assert classify(history, history[-1], 0.33)[0] == "ok"
    assert below_reach("ok", history, history[-1], 0.33, "accuracy", 0.99)[0] == "dead"
    assert below_reach("ok", history, history[-1], 0.33, "accuracy", 0.65) is None  # not far below
    healthy = [{"val_accuracy": 0.6, "dead_fraction_by_layer": [0.1, 0.1]}]
    assert below_reach("ok", healthy, healthy[-1], 0.33, "accuracy", 0.99) is None  # no cause measured
    lr = [{"val_accuracy": 0.6, "lr": v} for v in (1.0, 1e-3, 1e-3, 1e-3)]
    assert below_reach("ok", lr, lr[-1], 0.33, "accuracy", 0.99)[0] == "lr_collapsed"


def test_the_same_network_is_the_same_model_on_the_same_data_whatever_it_was_trained_with():
    from sweepnn.outcomes import network_of

    a = {
        "model.init": "zeros",
        "model.activation": "relu",
        "train.optimizer.lr": 0.1,
        "data.augment.flip": True,
    }
    b = {"model.init": "he_normal", "model.activation": "tanh", "train.optimizer.lr": 0.001}
    assert network_of(a) == network_of(b)
    assert network_of({**a, "model.depth": 4}) != network_of({**b, "model.depth": 8})
    assert network_of({**a, "data.name": "moons"}) != network_of({**b, "data.name": "mnist1d"})


def test_slow_convergence_is_the_budget_not_the_technique():
    """Seed 004's slow convergence (느린 수렴): plain SGD at a small learning rate is still climbing
    when its 8 epochs run out on MNIST-1D (`slow`, on every seed); Adam (fast convergence, as the
    seeds say) has levelled off by then, in the same budget, and got to a target in fewer epochs."""
    from sweepnn import speed
    from sweepnn.outcomes import SLOW_GAIN, late_gain

    net = {"depth": 2, "width": 128, "activation": "relu", "init": "he_normal"}
    sgd = on_seeds(recipe(MNIST1D, net, {"name": "sgd", "lr": 0.01}, 8))
    adam = on_seeds(recipe(MNIST1D, net, {"name": "adam", "lr": 3e-3}, 8))
    for run in sgd:
        assert run.outcome == "slow", run.reason
        assert late_gain(run.history, "accuracy", run.chance) > 2 * SLOW_GAIN
    for run in adam:
        assert run.outcome != "slow", run.reason
        assert late_gain(run.history, "accuracy", run.chance) < SLOW_GAIN
    for fast, slow in zip(adam, sgd, strict=True):  # Adam gets to where SGD ended, and sooner
        target = speed.Target("val_accuracy", slow.metrics["val_accuracy"], True, "t")
        assert speed.reach(fast.history, target)[0] < speed.reach(slow.history, target)[0]
