"""Training-health diagnostics and the regularizers added with them, each shown by measurement."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from sweepnn.options.activations import ACTIVATIONS
from sweepnn.options.regularizers import PENALTIES, penalty_term
from sweepnn.options.schedules import SCHEDULES, WARMUPS, Plateau, lr_factor
from sweepnn.outcomes import classify
from sweepnn.recipe.config import Recipe
from sweepnn.record import TRAINED
from sweepnn.training.diagnostics import Monitor, weight_statistics
from sweepnn.training.trainer import train

torch.set_num_threads(1)
CPU = torch.device("cpu")
SPIRALS = {"name": "spirals", "n_samples": 600}


def deep(activation: str, init: str, epochs: int = 4, **train_kw) -> Recipe:
    return Recipe(
        name="t",
        data=SPIRALS,
        model={"depth": 20, "width": 32, "activation": activation, "init": init},
        train={"epochs": epochs, "optimizer": {"name": "adam", "lr": 1e-3}, **train_kw},
    )


# ---- the Monitor's measurements ------------------------------------------------------------------


def test_dead_relu_fraction_counts_units_silent_for_the_whole_batch():
    layer = nn.Sequential(nn.Linear(4, 10), nn.ReLU())
    with torch.no_grad():
        layer[0].weight.zero_()
        layer[0].bias.copy_(torch.tensor([-1.0] * 3 + [1.0] * 7))  # 3 units can never fire
    monitor = Monitor(layer, steps_per_epoch=1, reference_loss=1.0)
    assert monitor.due(0)
    out = layer(torch.randn(32, 4))
    out.sum().backward()
    monitor.measure_grads(out.sum())
    monitor.measure_update()
    assert monitor.epoch_summary()["dead_fraction"] == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("name", "scale", "expected"),
    [("sigmoid", 100.0, 1.0), ("sigmoid", 1e-3, 0.0), ("tanh", 100.0, 1.0), ("tanh", 1e-3, 0.0)],
)
def test_saturated_fraction(name, scale, expected):
    net = nn.Sequential(nn.Linear(8, 64), getattr(nn, ACTIVATIONS[name].torch_class)())
    with torch.no_grad():
        net[0].weight.normal_(0, scale)
    monitor = Monitor(net, steps_per_epoch=1, reference_loss=1.0)
    monitor.due(0)
    out = net(torch.randn(256, 8))
    out.sum().backward()
    monitor.measure_grads(out.sum())
    monitor.measure_update()
    assert monitor.epoch_summary()["saturated_fraction"] == pytest.approx(expected, abs=0.05)


def test_monitor_measures_only_on_its_steps():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    short = Monitor(net, steps_per_epoch=20, reference_loss=1.0)
    assert [s for s in range(20) if short.due(s)] == [0]  # at least once per epoch
    short.close()
    long = Monitor(net, steps_per_epoch=400, reference_loss=1.0)
    assert [s for s in range(400) if long.due(s)] == [0, 100, 200, 300]  # four per epoch
    long.close()
    assert not any(m._forward_hooks for m in net.modules())  # no hook outlives a measured step


def test_gradient_ratio_shows_vanishing_flow_in_a_deep_sigmoid_net():
    sig = train(deep("sigmoid", "xavier_uniform", epochs=2), CPU)
    relu = train(deep("relu", "he_normal", epochs=2), CPU)
    assert sig.history[-1]["grad_ratio"] < 1e-4 < relu.history[-1]["grad_ratio"]
    assert sig.outcome == "vanishing"
    # every weight layer's norm is kept, input to output, and the ratio is first over last
    norms = sig.history[-1]["grad_norms"]
    assert len(norms) == 21
    assert norms[0] == sig.history[-1]["grad_norm_first"] and norms[-1] == sig.history[-1]["grad_norm_last"]
    assert math.isclose(sig.history[-1]["grad_ratio"], norms[0] / norms[-1], rel_tol=1e-6)
    # the flow shrinks layer by layer on its way back through the sigmoids
    assert norms[1] < norms[10] < norms[19]


def test_a_non_finite_gradient_is_a_divergence_of_the_gradient():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    monitor = Monitor(model, steps_per_epoch=10, reference_loss=1.0)
    assert monitor.due(0)
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    model[0].weight.grad[0, 0] = math.inf  # the loss is finite; one gradient element is not
    monitor.measure_grads(loss)
    monitor.measure_update()
    found = monitor.check(step=7, epoch=2)
    assert found is not None and (found.what, found.how, found.step) == ("gradient", "non-finite", 7)
    assert str(found) == "gradient became inf at step 7 (epoch 2)"


# ---- outcomes ------------------------------------------------------------------------------------


def test_deep_init_outcomes_differ_as_the_seeds_say():
    runs = {
        (act, init): train(deep(act, init), CPU)
        for act, init in [("relu", "he_normal"), ("relu", "zeros"), ("relu", "normal")]
    }
    assert runs["relu", "he_normal"].outcome == "ok"
    zeros = runs["relu", "zeros"]
    assert zeros.outcome == "symmetric"  # every unit alike: no gradient reaches the first layer
    assert zeros.history[-1]["grad_ratio"] == 0
    normal = runs["relu", "normal"]
    assert normal.outcome == "diverged" and "exploded" in normal.reason
    assert normal.epochs == 1  # stopped at once, not after the budget


def test_tanh_with_standard_normal_init_saturates():
    result = train(deep("tanh", "normal"), CPU)
    assert result.outcome == "saturated" and result.history[-1]["saturated_fraction"] > 0.5


@pytest.mark.parametrize(
    ("history", "outcome"),
    [
        ([{"val_accuracy": 0.34, "train_accuracy": 0.35}], "stalled"),
        # no flow at all to the first layer (a signal too small to carry any) vanishes as a trickle does
        ([{"val_accuracy": 0.34, "train_accuracy": 0.35, "grad_ratio": 0.0}], "vanishing"),
        ([{"val_accuracy": 0.34, "train_accuracy": 0.35, "grad_ratio": 1e-12}], "vanishing"),
        ([{"val_accuracy": 0.9, "train_accuracy": 0.91, "grad_ratio": 1e-5}], "vanishing"),
        ([{"val_accuracy": 0.9, "train_accuracy": 0.91, "grad_ratio": 1e5}], "exploding"),
        ([{"val_accuracy": 0.7, "train_accuracy": 1.0, "grad_ratio": 1.0}], "overfitting"),
        (
            [{"val_accuracy": 0.5, "train_accuracy": 0.5, "saturated_fraction_by_layer": [0.1, 0.8]}],
            "saturated",
        ),
        # a sigmoid layer near 0: not at its ends, yet passing a tenth of its best gradient
        ([{"val_accuracy": 0.9, "train_accuracy": 0.9, "gradient_pass_by_layer": [0.9, 0.1]}], "saturated"),
        # ... a milder cut saturates a run that stalled, not one that trained
        ([{"val_accuracy": 0.34, "train_accuracy": 0.34, "gradient_pass_by_layer": [0.9, 0.4]}], "saturated"),
        ([{"val_accuracy": 0.9, "train_accuracy": 0.9, "gradient_pass_by_layer": [0.9, 0.4]}], "ok"),
        # almost every unit of one layer dead: dead, whatever the score; half of them in a stalled run
        ([{"val_accuracy": 0.8, "train_accuracy": 0.8, "dead_fraction_by_layer": [0.2, 0.97]}], "dead"),
        ([{"val_accuracy": 0.34, "train_accuracy": 0.34, "dead_fraction_by_layer": [0.6, 0.2]}], "dead"),
        ([{"val_accuracy": 0.9, "train_accuracy": 0.9, "dead_fraction_by_layer": [0.6, 0.2]}], "ok"),
        # ... unless the signal into the dying layer had faded first: a signal that vanished
        (
            [
                {
                    "val_accuracy": 0.34,
                    "dead_fraction_by_layer": [0.1, 0.2, 0.9],
                    "signal_by_layer": [1.0, 1e-5, 1e-7],
                    "signal_ratio": 1e-7,
                }
            ],
            "vanishing",
        ),
        # a hidden layer's units all alike (the output layer's rows are not read)
        (
            [{"val_accuracy": 0.9, "row_spread_by_layer": [0.9, 0.0, 0.0], "units_by_layer": [8, 8, 3]}],
            "symmetric",
        ),
        ([{"val_accuracy": 0.9, "row_spread_by_layer": [0.9, 0.5, 0.0], "units_by_layer": [8, 8, 3]}], "ok"),
        # the gap of the final network in evaluation mode decides, where it was measured
        ([{"val_accuracy": 0.7, "train_accuracy": 0.72, "train_eval_accuracy": 0.95}], "overfitting"),
        ([{"val_accuracy": 0.9, "train_accuracy": 0.95, "grad_ratio": 0.5}], "ok"),
    ],
)
def test_classify(history, outcome):
    got, reason = classify(history, history[-1], chance=0.33)
    assert got == outcome
    assert (reason == "") == (outcome == "ok")


def test_overfitting_is_seen_on_a_small_noisy_training_set():
    cfg = Recipe(
        name="t",
        data={"name": "spirals", "n_samples": 120, "noise": 1.0},
        model={"depth": 3, "width": 256},
        train={"epochs": 150, "batch_size": 16, "optimizer": {"name": "adam", "lr": 3e-3}},
    )
    result = train(cfg, CPU)
    assert result.outcome == "overfitting"
    assert result.metrics["gap"] > 0.15


# ---- early stopping, plateau, warmup in steps, penalties -----------------------------------------


def test_early_stopping_stops_and_restores_the_best_epoch():
    cfg = Recipe(
        name="t",
        data={"name": "spirals", "n_samples": 120, "noise": 0.6},
        model={"depth": 3, "width": 256},
        train={
            "epochs": 150,
            "batch_size": 16,
            "optimizer": {"name": "adam", "lr": 3e-3},
            "early_stopping": {"metric": "val_loss", "patience": 5},
        },
    )
    result = train(cfg, CPU)
    losses = [h["val_loss"] for h in result.history]
    best = min(range(len(losses)), key=losses.__getitem__)
    assert len(losses) == best + 1 + 5 < 150  # stopped exactly `patience` epochs after the best
    assert result.metrics["val_loss"] == losses[best]  # restored
    assert "early stop after epoch" in result.reason and result.outcome in TRAINED


def test_plateau_decays_by_gamma_after_patience():
    p = SCHEDULES.parse({"name": "plateau", "patience": 2, "gamma": 0.5, "min_factor": 0.1})
    plateau = Plateau(p)
    scales = [plateau.update(v) for v in [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]]
    assert scales == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125]
    fresh = Plateau(p)  # one schedule hearing no improvement for `patience` epochs: no decay yet
    assert [fresh.update(1.0) for _ in range(3)] == [1.0, 1.0, 1.0]
    for _ in range(40):
        plateau.update(0.9)
    assert plateau.scale == 0.1  # never below min_factor


def test_plateau_schedule_lowers_the_trainers_learning_rate():
    cfg = Recipe(
        name="t",
        data={"name": "blobs", "n_samples": 300},
        model={"depth": 1, "width": 16},
        train={
            "epochs": 30,
            "optimizer": {"name": "adam", "lr": 0.05},
            "schedule": {"name": "plateau", "patience": 1, "gamma": 0.5},
        },
    )
    lrs = [h["lr"] for h in train(cfg, CPU).history]
    assert lrs[0] == 0.05 and min(lrs) < 0.05
    assert all(b <= a for a, b in itertools.pairwise(lrs))  # only ever decreases
    floor = 0.05 * SCHEDULES["plateau"].params().min_factor
    assert lrs[-1] == pytest.approx(floor)  # long plateaus end at the floor
    halvings = [lr for lr in lrs if lr > floor * 1.0001]
    assert all(math.log2(0.05 / lr) == pytest.approx(round(math.log2(0.05 / lr))) for lr in halvings)


def test_warmup_in_steps_overrides_epochs():
    sched = SCHEDULES.parse({"name": "constant", "warmup": {"name": "linear", "epochs": 5, "steps": 4}})
    assert WARMUPS["linear"].steps(sched.warmup, 100) == 4
    assert [lr_factor(sched, s, 1000, 100) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("name", list(PENALTIES))
def test_penalty_gradient_matches_its_closed_form(name):
    w = torch.tensor([[0.5, -2.0], [0.0, 3.0]], requires_grad=True)
    params = PENALTIES.parse({"name": name})
    term = penalty_term(params, [w])
    if term is None:
        assert name == "none"
        return
    term.backward()
    sign = torch.sign(w.detach())
    expected = {
        "l1": params.model_dump().get("strength", 0) * sign,
        "l2": 2 * params.model_dump().get("strength", 0) * w.detach(),
        "elastic_net": params.model_dump().get("alpha", 0)
        * (
            params.model_dump().get("l1_ratio", 0) * sign
            + (1 - params.model_dump().get("l1_ratio", 0)) * w.detach()
        ),
    }[name]
    assert torch.allclose(w.grad, expected)


def test_elastic_net_interpolates_l1_and_l2():
    w = [torch.tensor([1.0, -2.0, 3.0])]
    l1 = penalty_term(PENALTIES.parse({"name": "elastic_net", "alpha": 1.0, "l1_ratio": 1.0}), w)
    l2 = penalty_term(PENALTIES.parse({"name": "elastic_net", "alpha": 1.0, "l1_ratio": 0.0}), w)
    assert l1.item() == pytest.approx(6.0) and l2.item() == pytest.approx(0.5 * 14.0)


def test_diagnostics_can_be_switched_off():
    cfg = deep("relu", "he_normal", epochs=1, diagnostics=False)
    assert "grad_ratio" not in train(cfg, CPU).history[-1]


def test_regression_trains_with_mse_and_reports_r2():
    cfg = Recipe(
        name="t",
        data={"name": "teacher", "n_samples": 1000, "noise": 0.1},
        model={"depth": 2, "width": 64},
        train={"epochs": 30, "optimizer": {"name": "adam", "lr": 3e-3}},
    )
    result = train(cfg, CPU)
    assert result.outcome in TRAINED and result.metrics["val_r2"] > 0.6
    # R^2 is 1 - MSE / Var(y): check it against the reported mse loss and the targets' variance
    from sweepnn.training.data import load_data

    data = load_data(cfg.data, CPU)
    var = data.y_val.var(unbiased=False).item()
    assert result.metrics["val_r2"] == pytest.approx(1 - result.metrics["val_loss"] / var, abs=1e-4)
    assert "val_accuracy" not in result.metrics


def test_regression_stalls_when_the_net_cannot_learn():
    cfg = Recipe(
        name="t",
        data={"name": "teacher", "n_samples": 400},
        model={"depth": 2},
        train={"epochs": 3, "optimizer": {"name": "sgd", "lr": 1e-9}},  # a random net that never moves
    )
    result = train(cfg, CPU)
    assert result.outcome == "stalled" and "r2" in result.reason
    # zeros init: no learning either, and the cause named
    zeros = train(Recipe(**{**cfg.model_dump(), "model": {"depth": 2, "init": "zeros"}}), CPU)
    assert zeros.outcome == "symmetric" and "weight layer 1" in zeros.reason


def _measured_once(net: nn.Module, x: torch.Tensor) -> dict:
    monitor = Monitor(net, steps_per_epoch=1, reference_loss=1.0)
    assert monitor.due(0)
    out = net(x)
    out.float().pow(2).mean().backward()
    monitor.measure_grads(out.pow(2).mean())
    monitor.measure_clipped()
    monitor.measure_update()
    return monitor.epoch_summary()


def test_a_shared_activation_module_is_one_layer_per_call():
    """A user's network that calls one nn.Sigmoid after every linear layer: each call is its own layer,
    in the order the forward ran them, so the worst one can be named."""

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.out = nn.Linear(4, 16), nn.Linear(16, 16), nn.Linear(16, 2)
            self.act = nn.Sigmoid()
            with torch.no_grad():
                self.b.bias.fill_(-4.0)  # the second call sits near 0: little gradient passes

        def forward(self, x):
            return self.out(self.act(self.b(self.act(self.a(x)))))

    got = _measured_once(Shared(), torch.randn(64, 4))
    first, second = got["gradient_pass_by_layer"]
    assert first > 0.8 and second < 0.2
    assert got["gradient_pass"] == second and got["mean_by_layer"][1] < 0.05
    assert got["signal_by_layer"][0] > got["signal_by_layer"][1]


def test_weight_statistics_read_each_layer_kind_by_its_units():
    """Row spread runs over a layer's units: a Linear's or Conv's output rows, a ConvTranspose's
    second axis; near-zero weights and norms per layer."""
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ConvTranspose2d(4, 3, 3), nn.Flatten(), nn.Linear(3 * 8 * 8, 2)
    )
    with torch.no_grad():
        net[0].weight.copy_(torch.randn(1, 1, 3, 3).expand(4, 1, 3, 3))  # 4 identical output channels
        net[1].weight.copy_(torch.randn(4, 1, 3, 3).expand(4, 3, 3, 3))  # 3 identical output channels
        net[3].weight.zero_()
        net[3].weight[0, :10] = 1.0
    got = weight_statistics(net)
    spreads = got["row_spread_by_layer"]
    assert spreads[0] < 1e-6 and spreads[1] < 1e-6 and spreads[2] > 0.5
    assert got["units_by_layer"] == [4, 3, 2]
    assert got["near_zero_by_layer"][2] == pytest.approx(1 - 10 / (2 * 192))
    assert got["weight_norms"][2] == pytest.approx(10**0.5, rel=1e-3)


def test_the_gradient_norm_is_kept_before_and_after_clipping():
    cfg = Recipe(
        name="t",
        data=SPIRALS,
        model={"depth": 3, "width": 32},
        train={"epochs": 2, "optimizer": {"name": "sgd", "lr": 0.5}, "regularization": {"clip_norm": 0.1}},
    )
    last = train(cfg, CPU).history[-1]
    assert last["grad_norm"] > 0.1
    assert last["grad_norm_clipped"] == pytest.approx(0.1, rel=1e-3)  # what the optimizer was given


def test_the_final_network_is_scored_on_its_training_split_with_dropout_off():
    cfg = Recipe(
        name="t",
        data=SPIRALS,
        model={"depth": 3, "width": 64, "dropout": 0.5},
        train={"epochs": 4, "optimizer": {"name": "adam", "lr": 1e-2}},
    )
    result = train(cfg, CPU)
    m = result.metrics
    # with half the units dropped, the running average over the epoch's batches understates the network
    assert m["train_eval_accuracy"] > m["train_accuracy"]
    assert m["gap_eval"] == pytest.approx(m["train_eval_accuracy"] - m["val_accuracy"])
    off = train(
        Recipe(**{**cfg.model_dump(), "train": {**cfg.train.model_dump(), "diagnostics": False}}), CPU
    )
    assert "train_eval_accuracy" not in off.metrics  # part of the diagnostics: off with them


def test_l1_sparsity_shows_in_the_near_zero_fraction():
    def run(penalty):
        regularization = {"penalty": penalty} if penalty else {}
        cfg = Recipe(
            name="t",
            data=SPIRALS,
            model={"depth": 2, "width": 64},
            train={"epochs": 6, "optimizer": {"name": "sgd", "lr": 0.1}, "regularization": regularization},
        )
        return train(cfg, CPU).metrics  # the kept network's record

    plain, l1 = run(None), run({"name": "l1", "strength": 1e-2})
    assert l1["near_zero_fraction"] > 10 * plain["near_zero_fraction"] and l1["near_zero_fraction"] > 0.05
    assert sum(l1["weight_norms"]) < sum(plain["weight_norms"])
