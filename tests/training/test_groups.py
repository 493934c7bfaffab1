"""Grouped training (sweepnn.training.stacked.train): every member follows the curve `train()` gives its
configuration alone, option by option across the registries; and what may group, and what may not.

Members differ in seed, learning rate and the option under test, so a test that passes is not one
member's curve copied K times. Exactness is float rounding: the stacked matmuls and reductions add
in another order than the member's own, and the difference stays near 1e-7 of the values.
"""

from __future__ import annotations

import math

import pytest
import torch

from sweepnn.options.activations import ACTIVATIONS
from sweepnn.options.inits import INITS
from sweepnn.options.losses import LOSSES
from sweepnn.options.models import build_mlp
from sweepnn.options.norms import NORMS
from sweepnn.options.optimizers import OPTIMIZERS
from sweepnn.options.regularizers import PENALTIES
from sweepnn.options.schedules import SCHEDULES
from sweepnn.outcomes import TRAINED
from sweepnn.recipe.config import Recipe
from sweepnn.training.data import load_data
from sweepnn.training.stacked.nets import StackedMLP
from sweepnn.training.stacked.train import group_key, train_group, ungroupable
from sweepnn.training.trainer import train

# the optimizers a stacked update runs (the others run as one torch optimizer per member)
FAMILIES = {n for n, spec in OPTIMIZERS.items() if spec.stacked != "torch"}
# the losses with a per-example form (the others train alone)
PER_EXAMPLE = {n for n, spec in LOSSES.items() if spec.per_example is not None}

torch.set_num_threads(1)

CPU = torch.device("cpu")
BLOBS = {"name": "blobs", "n_samples": 400}  # 320 training examples: 5 batches of 64
MLP = {"name": "mlp", "depth": 2, "width": 16}
REL, ABS = 1e-5, 1e-6  # the tolerance of every curve (observed: about 1e-7)
# Gradient norms through a batchnorm's backward (a difference of means) lose a few more digits
DIAGNOSTICS_REL = 1e-3
CURVES = ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "train_r2", "val_r2", "gap", "lr")
DIAGNOSTICS = (
    "grad_norm_first",
    "grad_norm_last",
    "grad_ratio",
    "grad_norm",
    "grad_norm_clipped",
    "dead_fraction",
    "saturated_fraction",
    "gradient_pass",
    "signal_ratio",
    "update_ratio",
)
# per-layer figures of each epoch (lists, input to output)
PER_LAYER = (
    "grad_norms",
    "dead_fraction_by_layer",
    "saturated_fraction_by_layer",
    "gradient_pass_by_layer",
    "signal_by_layer",
    "mean_by_layer",
)
# the kept network's weight statistics, per weight layer (diagnostics.weight_statistics, once a trial)
WEIGHTS = (
    "weight_norms",
    "near_zero_by_layer",
    "row_spread_by_layer",
    "units_by_layer",
    "near_zero_fraction",
)
# The final network scored on the training split in evaluation mode (steps.conclude). Its loss is read
# off the last weights, which carry every step's rounding (an RMSprop member's drift reaches 6e-5 of it),
# unlike the epoch's loss, averaged over the batches as it trained; a wrong network is off by far more.
FINAL = ("train_loss", "val_loss", "train_eval_accuracy", "train_eval_r2", "gap_eval")
FINAL_LOSS_REL = 1e-3


def recipe(data=None, model=None, **train_kw) -> Recipe:
    train_kw = {"epochs": 3, "batch_size": 64, **train_kw}
    if train_kw["epochs"] is None:  # a length in steps instead
        del train_kw["epochs"]
    return Recipe(name="t", data=data or BLOBS, model={**MLP, **(model or {})}, train=train_kw)


def assert_same(grouped, alone) -> None:
    """The member's result is the configuration's result alone, up to float rounding."""
    assert grouped.outcome == alone.outcome, (grouped.reason, alone.reason)
    assert len(grouped.history) == len(alone.history)
    for g, a in zip(grouped.history, alone.history, strict=True):
        assert set(g) == set(a)
        for key in (*CURVES, "diverged_step"):
            if key in a:
                assert g[key] == pytest.approx(a[key], rel=REL, abs=ABS, nan_ok=True), key
        for key in DIAGNOSTICS:
            if key in a:
                assert g[key] == pytest.approx(a[key], rel=DIAGNOSTICS_REL, abs=ABS, nan_ok=True), key
        for key in PER_LAYER:
            if key in a:
                assert len(g[key]) == len(a[key]), key
                assert g[key] == pytest.approx(a[key], rel=DIAGNOSTICS_REL, abs=ABS, nan_ok=True), key
    assert grouped.metrics["epoch"] == alone.metrics["epoch"]
    for key in FINAL:
        assert key in grouped.metrics or key not in alone.metrics
        if key in alone.metrics:
            expected = pytest.approx(alone.metrics[key], rel=REL, abs=ABS, nan_ok=True)
            assert grouped.metrics[key] == expected, key
    for key in WEIGHTS:
        assert (key in grouped.metrics) == (key in alone.metrics), key
        if key in alone.metrics:
            expected = pytest.approx(alone.metrics[key], rel=DIAGNOSTICS_REL, abs=ABS, nan_ok=True)
            assert grouped.metrics[key] == expected, key
    assert ("train_eval_loss" in grouped.metrics) == ("train_eval_loss" in alone.metrics)
    if "train_eval_loss" in alone.metrics:
        expected = pytest.approx(alone.metrics["train_eval_loss"], rel=FINAL_LOSS_REL, abs=ABS, nan_ok=True)
        assert grouped.metrics["train_eval_loss"] == expected


def check_group(cfgs: list[Recipe], **kw) -> list:
    """Train as one group and each alone; assert every member matches; the group's results."""
    assert len({group_key(c) for c in cfgs}) == 1 and group_key(cfgs[0]) is not None
    data = load_data(cfgs[0].data, CPU)
    results = train_group(cfgs, CPU, data=data, **kw)
    for cfg, result in zip(cfgs, results, strict=True):
        assert_same(result, train(cfg, CPU, data=data))
    return results


# ---------------------------------------------------------------------------------------------------
# What groups


def test_members_that_differ_only_in_their_own_settings_share_a_key():
    base = recipe()
    own = recipe(
        seed=7,
        shuffle=False,
        optimizer={"name": "adamw", "lr": 0.3, "weight_decay": 0.1},
        schedule={"name": "cosine", "warmup": {"name": "linear", "epochs": 1}},
        regularization={"penalty": "l1", "clip_norm": 1.0, "label_smoothing": 0.1, "decay_biases": True},
        early_stopping={"patience": 2},
        model={"init": "orthogonal", "dropout": 0.3},
    )
    assert group_key(base) == group_key(own) is not None


@pytest.mark.parametrize(
    "change",
    [
        {"model": {"width": 32}},
        {"model": {"activation": "tanh"}},
        {"model": {"norm": "batchnorm"}},
        {"epochs": 4},
        {"batch_size": 32},
        {"optimizer": {"name": "sgd"}},
        {"data": {**BLOBS, "seed": 1}},
        {"diagnostics": False},
    ],
    ids=lambda change: "-".join(f"{k}:{v}" for k, v in change.items()),
)
def test_members_must_share_data_architecture_batches_epochs_and_optimizer_family(change):
    assert group_key(recipe(**change)) != group_key(recipe())


def test_optimizers_group_by_family():
    key = {name: group_key(recipe(optimizer=name)) for name in OPTIMIZERS}
    assert key["sgd"] == key["momentum"] == key["nesterov"] != key["adam"] == key["adamw"]
    others = {n for n in OPTIMIZERS if n not in FAMILIES}  # one torch optimizer per member
    assert len({key[n] for n in others}) == 1 and key[others.pop()] not in (key["sgd"], key["adam"])


def test_what_cannot_group_says_why():
    cnn = Recipe(name="c", data=BLOBS, model={"name": "cnn", "channels": [4]})
    assert group_key(cnn) is None and "cnn" in ungroupable(cnn)
    augmented = recipe(data={"name": "mnist1d", "n_samples": 64, "augment": {"shift": True}})
    assert group_key(augmented) is None and "augmentation" in ungroupable(augmented)
    assert ungroupable(recipe()) is None


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_loss_groups_or_says_why_not(name):
    data = BLOBS if LOSSES[name].task == "classification" else {"name": "teacher", "n_samples": 100}
    cfg = recipe(data=data, loss=name)
    assert (group_key(cfg) is None) == (name not in PER_EXAMPLE)  # the regression test trains them
    if name not in PER_EXAMPLE:
        assert name in ungroupable(cfg)


def test_train_group_refuses_members_of_different_groups():
    with pytest.raises(ValueError, match="cannot train as one group"):
        train_group([recipe(), recipe(model={"width": 8})], CPU)


# ---------------------------------------------------------------------------------------------------
# Every registry entry a group supports gives each member its own curve


def optimizer_variants(name: str) -> list[dict]:
    """Three settings of one optimizer, each hyperparameter it has set differently per member."""
    fields = OPTIMIZERS[name].defaults()
    out = []
    for i, scale in enumerate((1.0, 3.0, 0.3)):
        p = {"name": name, "lr": fields["lr"] * scale}
        if "weight_decay" in fields:
            p["weight_decay"] = (0.0, 1e-3, 0.05)[i]
        if "momentum" in fields:
            p["momentum"] = (0.9, 0.5, 0.0 if name == "momentum" else 0.7)[i]
        if "beta1" in fields:
            p["beta1"], p["beta2"], p["eps"] = (
                (0.9, 0.8, 0.95)[i],
                (0.999, 0.99, 0.9)[i],
                (1e-8, 1e-6, 1e-3)[i],
            )
        out.append(p)
    return out


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_each_optimizer_matches_train(name):
    check_group([recipe(seed=i, optimizer=p) for i, p in enumerate(optimizer_variants(name))])


def test_one_group_mixes_the_optimizers_of_a_family():
    check_group(
        [
            recipe(seed=i, optimizer=variants[i])
            for i, variants in enumerate(
                [optimizer_variants("sgd"), optimizer_variants("momentum"), optimizer_variants("nesterov")]
            )
        ]
    )
    check_group(
        [
            recipe(seed=0, optimizer=optimizer_variants("adam")[1]),
            recipe(seed=1, optimizer=optimizer_variants("adamw")[2]),
        ]
    )


def test_one_group_mixes_the_optimizers_without_a_stacked_update():
    """Each member gets its own torch optimizer; one of them diverges and leaves the stack, and the
    others keep their state across the move to the smaller buffers."""
    names = [n for n in OPTIMIZERS if n not in FAMILIES]
    # rates below the defaults: RMSprop at its default overshoots on these blobs, and an unstable
    # run grows rounding differences past the tolerance by the last epoch
    rates = {n: OPTIMIZERS[n].defaults()["lr"] * 0.3 for n in names}
    cfgs = [recipe(epochs=4, seed=i, optimizer={"name": n, "lr": rates[n]}) for i, n in enumerate(names)]
    cfgs.insert(1, recipe(epochs=4, seed=9, optimizer={"name": names[0], "lr": 1e8}))
    results = check_group(cfgs)
    assert [r.outcome == "diverged" for r in results].count(True) == 1 and results[1].outcome == "diverged"


# Parameters that make each schedule move within 4 epochs of 5 steps (the defaults suit long runs)
SCHEDULE_PARAMS = {
    "step": {"step_epochs": 1, "gamma": 0.5},
    "multistep": {"milestones": [1, 3], "gamma": 0.3},
    "exponential": {"gamma": 0.6, "per": "step"},
    "cosine_restarts": {"t0": 1.5, "t_mult": 2.0},
    "polynomial": {"power": 3.0},
    "onecycle": {"pct_start": 0.4},
    "plateau": {"patience": 0, "threshold": 0.5},  # decays unless val_loss halves
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_each_schedule_matches_train(name):
    params = {"name": name, **SCHEDULE_PARAMS.get(name, {})}
    warm = {**params, "warmup": {"name": "linear", "epochs": 1}}
    cfgs = [
        recipe(epochs=4, seed=0, optimizer={"name": "sgd", "lr": 0.1}, schedule=params),
        recipe(epochs=4, seed=1, optimizer={"name": "momentum", "lr": 0.03}, schedule=warm),
        recipe(epochs=4, seed=2, optimizer={"name": "nesterov", "lr": 0.05}, schedule="constant"),
    ]
    results = check_group(cfgs)
    if name != "constant":
        assert len({round(h["lr"], 12) for h in results[0].history + results[1].history}) > 1


@pytest.mark.parametrize("name", list(PENALTIES))
def test_each_penalty_matches_train(name):
    cfgs = [
        recipe(seed=0, regularization={"penalty": {"name": name}}),
        recipe(
            seed=1,
            optimizer={"name": "adam", "lr": 0.02, "weight_decay": 1e-3},
            regularization={"penalty": {"name": name}, "decay_biases": True},
        ),
        recipe(seed=2),
    ]
    check_group(cfgs)


def test_clipping_smoothing_and_decay_each_members_own():
    cfgs = [
        recipe(seed=0, optimizer={"name": "adam", "lr": 0.05}, regularization={"clip_norm": 0.1}),
        recipe(seed=1, optimizer={"name": "adam", "lr": 0.05}, regularization={"clip_value": 0.01}),
        recipe(seed=2, regularization={"label_smoothing": 0.2}),
        recipe(seed=3, regularization={"clip_norm": 0.5, "clip_value": 0.05, "label_smoothing": 0.1}),
        recipe(
            seed=4,
            optimizer={"name": "adamw", "lr": 0.01, "weight_decay": 0.3},
            regularization={"decay_biases": True},
        ),
        recipe(seed=5, shuffle=False),
    ]
    check_group(cfgs)


def test_each_init_in_one_group_matches_train():
    check_group([recipe(seed=i, model={"init": name}) for i, name in enumerate(INITS)])


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_each_activation_matches_train(name):
    check_group(
        [
            recipe(seed=0, model={"activation": name}),
            recipe(seed=1, optimizer={"name": "adamw", "lr": 0.003}, model={"activation": name}),
        ]
    )


@pytest.mark.parametrize("position", ["before", "after"])
@pytest.mark.parametrize("norm", [*NORMS, "layernorm_plain", "batchnorm_plain"])
def test_each_norm_matches_train(norm, position):
    """SGD here: a linear's bias just before a normalization has a zero gradient up to rounding,
    which Adam would scale into full-size steps of pure rounding noise (harmless to the loss, the
    norm removes it, but visible at 1e-4 in the validation loss through the running mean)."""
    name, _, plain = norm.partition("_")
    params = {"name": name, **({"affine": False} if plain else {})}
    model = {"norm": params, "norm_position": position}
    sgd = {"name": "momentum", "lr": 0.05}
    check_group(
        [
            recipe(seed=0, optimizer=sgd, model=model),
            recipe(seed=1, model={**model, "init": "xavier_normal"}, optimizer={"name": "sgd", "lr": 0.1}),
        ]
    )


@pytest.mark.parametrize("model", [{"depth": 0}, {"widths": [24, 8, 12]}], ids=["linear", "widths"])
def test_other_shapes_match_train(model):
    check_group([recipe(seed=0, model=model), recipe(seed=1, model={**model, "dropout": 0.0})])


def test_regression_members_match_train():
    data = {"name": "teacher", "n_samples": 300, "outputs": 2}
    check_group(
        [
            recipe(data=data, seed=0, optimizer={"name": "adam", "lr": 0.01}),
            recipe(data=data, seed=1, optimizer={"name": "adam", "lr": 0.003}),
        ]
    )
    huber = {"name": "huber", "delta": 0.5}
    check_group([recipe(data=data, seed=0, loss=huber), recipe(data=data, seed=2, loss=huber)])


def test_final_networks_are_the_members_own():
    sgd = {"name": "momentum", "lr": 0.05}
    cfgs = [
        recipe(seed=0, optimizer=sgd, model={"norm": "batchnorm"}),
        recipe(seed=1, optimizer=sgd, model={"norm": "batchnorm", "init": "orthogonal"}),
    ]
    data = load_data(cfgs[0].data, CPU)
    for cfg, result in zip(cfgs, train_group(cfgs, CPU, data=data), strict=True):
        alone = train(cfg, CPU, data=data).model.state_dict()
        got = result.model.state_dict()
        assert got.keys() == alone.keys()
        for k, v in alone.items():
            assert torch.allclose(got[k].float(), v.float(), rtol=1e-4, atol=1e-6), k


# ---------------------------------------------------------------------------------------------------
# Members stop on their own: divergence, pruning, early stopping


def test_a_diverging_member_stops_alone_and_the_others_train_on():
    cfgs = [
        recipe(epochs=5, seed=0, optimizer={"name": "sgd", "lr": 0.05}),
        recipe(epochs=5, seed=1, optimizer={"name": "sgd", "lr": 1e10}),
        recipe(
            epochs=5,
            seed=2,
            optimizer={"name": "sgd", "lr": 0.1},
            regularization={"penalty": {"name": "l2", "strength": 1e3}},
        ),
        recipe(epochs=5, seed=3, optimizer={"name": "momentum", "lr": 0.02}),
    ]
    results = check_group(cfgs)
    assert [r.outcome == "diverged" for r in results] == [False, True, True, False]
    assert results[0].epochs == results[3].epochs == 5
    assert "at step" in results[1].reason


def test_a_pruned_member_stops_after_that_epoch_and_the_others_train_on():
    calls = []

    def report(member, epoch, metrics):
        calls.append((member, epoch))
        return member == 1 and epoch == 2

    cfgs = [recipe(epochs=4, seed=i) for i in range(3)]
    data = load_data(cfgs[0].data, CPU)
    results = train_group(cfgs, CPU, report=report, data=data)
    assert results[1].outcome == "pruned" and results[1].epochs == 2 and "2" in results[1].reason
    assert [e for m, e in calls if m == 1] == [1, 2] and [e for m, e in calls if m == 0] == [1, 2, 3, 4]
    for i in (0, 2):
        assert_same(results[i], train(cfgs[i], CPU, data=data))


@pytest.mark.parametrize("restore_best", [True, False])
def test_early_stopping_is_each_members_own(restore_best):
    stop = {"metric": "train_loss", "patience": 1, "min_delta": 0.05, "restore_best": restore_best}
    cfgs = [
        recipe(epochs=8, seed=0, optimizer={"name": "adam", "lr": 0.05}, early_stopping=stop),
        recipe(
            epochs=8, seed=1, optimizer={"name": "adam", "lr": 0.001}, early_stopping={**stop, "min_delta": 0}
        ),
        recipe(epochs=8, seed=2),
    ]
    results = check_group(cfgs)  # the same epochs, and the same final (best, restored) metrics
    assert results[0].epochs < 8 and "early stop" in results[0].reason
    assert results[2].epochs == 8


def test_a_budget_in_steps_ends_each_member_on_the_same_partial_epoch_as_alone():
    """train.steps 13 is 5 + 5 + 3 steps: the last epoch's figures are over its 3 batches, and every
    member's schedule (warmup in epochs included) and plateau run to the step budget, as alone."""
    warm = {"name": "linear", "warmup": {"name": "linear", "epochs": 1}}
    cfgs = [
        recipe(epochs=None, steps=13, seed=0, optimizer={"name": "sgd", "lr": 0.1}, schedule=warm),
        recipe(epochs=None, steps=13, seed=1, optimizer={"name": "momentum", "lr": 0.05}, schedule="cosine"),
        recipe(
            epochs=None,
            steps=13,
            seed=2,
            optimizer={"name": "nesterov", "lr": 0.05},
            schedule={"name": "plateau", "patience": 0, "threshold": 0.5},
        ),
    ]
    results = check_group(cfgs)
    assert [len(r.history) for r in results] == [3, 3, 3]
    assert group_key(cfgs[0]) != group_key(recipe(epochs=None, steps=14))


def test_outcomes_of_trained_members_are_classified_as_train_classifies_them():
    results = check_group([recipe(seed=0, model={"init": "zeros"}), recipe(seed=1)])
    assert results[0].outcome == "symmetric" and results[1].outcome in TRAINED
    assert results[0].metrics["row_spread_by_layer"][0] == 0.0  # zeros: every unit alike


def test_final_networks_are_scored_on_the_training_split_as_train_scores_them():
    """steps.conclude scores each member's kept network (with restore_best its best epoch's, with
    batchnorm on its running statistics) on the training split in evaluation mode, as train() does."""
    stop = {"metric": "train_loss", "patience": 1, "min_delta": 0.05, "restore_best": True}
    sgd = {"name": "momentum", "lr": 0.05}
    batchnorm = {"norm": "batchnorm"}
    groups = [
        [
            recipe(epochs=8, seed=0, optimizer={"name": "adam", "lr": 0.05}, early_stopping=stop),
            recipe(epochs=8, seed=1, regularization={"label_smoothing": 0.1}),
        ],
        [
            recipe(epochs=8, seed=2, optimizer=sgd, model=batchnorm, early_stopping=stop),
            recipe(epochs=8, seed=3, optimizer=sgd, model=batchnorm),
        ],
    ]
    data = load_data(groups[0][0].data, CPU)
    for cfgs in groups:
        results = train_group(cfgs, CPU, data=data)
        assert results[0].epochs < 8  # stopped early: its best epoch's network is the one scored
        for cfg, result in zip(cfgs, results, strict=True):
            alone = train(cfg, CPU, data=data).metrics
            got = result.metrics
            for key in ("train_eval_accuracy", "gap_eval"):
                assert key in alone and key in got, key
                assert got[key] == pytest.approx(alone[key], rel=REL, abs=ABS), key
            assert got["gap_eval"] == pytest.approx(got["train_eval_accuracy"] - got["val_accuracy"])
            expected = pytest.approx(alone["train_eval_loss"], rel=FINAL_LOSS_REL, abs=ABS)
            assert got["train_eval_loss"] == expected


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_each_members_record_is_what_monitor_makes_of_its_own_measurements(activation):
    """GroupMonitor's summary of each row is diagnostics.summarize of that member's measurements, as
    Monitor.epoch_summary gives them; a zeros member (no signal, no gradient below the top) among them."""
    from sweepnn.training.diagnostics import summarize
    from sweepnn.training.stacked.monitor import GroupMonitor

    cfg = recipe(model={"widths": [12, 12, 6], "activation": activation})
    torch.manual_seed(0)
    models = [build_mlp(cfg.model, (2,), 3) for _ in range(2)]
    zeros = recipe(model={"widths": [12, 12, 6], "activation": activation, "init": "zeros"})
    models.append(build_mlp(zeros.model, (2,), 3))
    net = StackedMLP(cfg.model, models, [[0.0] * 3] * 3, torch.Generator().manual_seed(0))
    monitor = GroupMonitor(cfg.model.activation, 5, 1.0, True)
    for _ in range(3):
        watch = monitor.watch(True)
        out = net.forward(torch.randn(3, 16, 2), training=True, watch=watch)
        loss = out.square().mean((1, 2))
        net.backward(loss.sum())
        monitor.measure_activations(watch)
        monitor.measure_grads(net, loss)
        net.grad.mul_(0.5)  # a clipping
        monitor.measure_clipped(net)
        with torch.no_grad():
            net.flat.sub_(0.1 * net.grad)
        monitor.measure_update(net)
    samples = {key: list(values) for key, values in monitor.samples.items()}
    records = monitor.epoch_summary(net)
    assert monitor.samples == {}
    for row, record in enumerate(records):
        own = {key: [v[row] for v in values] for key, values in samples.items()}
        expected = summarize(own)
        assert set(record) == set(expected)
        for key, value in expected.items():
            assert record[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    assert records[2]["signal_by_layer"][0] == 0.0
    assert GroupMonitor(cfg.model.activation, 5, 1.0, False).epoch_summary(net) == [{}, {}, {}]


# ---------------------------------------------------------------------------------------------------
# Dropout: the masks come from the group's generator, so only the statistics are the member's own


def test_dropout_zeroes_each_members_rate_and_rescales_survivors():
    cfg = recipe()
    rates = [0.0, 0.2, 0.5, 0.8]
    models = [build_mlp(cfg.model, (2,), 3) for _ in rates]
    net = StackedMLP(cfg.model, models, [[r, r] for r in rates], torch.Generator().manual_seed(0))
    h = torch.ones(len(rates), 4096, 16)
    out = net.dropout(0, h)
    for k, rate in enumerate(rates):
        kept = out[k] != 0
        assert kept.float().mean().item() == pytest.approx(1 - rate, abs=0.01)
        assert torch.allclose(out[k][kept], torch.tensor(1 / (1 - rate)))


def test_members_without_dropout_are_exact_beside_members_with_it():
    cfgs = [
        recipe(seed=0),
        recipe(seed=1, model={"dropout": 0.3}),
        recipe(seed=2, model={"dropout": [0.5, 0.0]}),
    ]
    data = load_data(cfgs[0].data, CPU)
    results = train_group(cfgs, CPU, data=data)
    assert_same(results[0], train(cfgs[0], CPU, data=data))
    assert all(r.outcome in TRAINED and math.isfinite(r.metrics["val_loss"]) for r in results)
    again = train_group(cfgs, CPU, data=data)  # the group's masks are reproducible
    assert [h["train_loss"] for h in again[1].history] == [h["train_loss"] for h in results[1].history]
