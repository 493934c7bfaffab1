"""The trainer on tiny generated data: determinism, learning, divergence, pruning, and each
regularization measured on the trained network (dropout's mask rate, clipping's bound, the decay split).

`train` does not hand back its network; `captured_model` observes it through torch's global forward
pre-hook (the first module called is the whole network) and keeps its parameters at the first step.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from itertools import pairwise

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sweepnn.options.models import MODELS, build_mlp
from sweepnn.recipe.config import Recipe
from sweepnn.record import TRAINED
from sweepnn.training.data import load_data
from sweepnn.training.trainer import _split_decay, train

torch.set_num_threads(1)

CPU = torch.device("cpu")
METRIC_KEYS = {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "train_time", "lr", "gap"}
# training-health diagnostics measured each epoch (ReLU: dead units; no saturation for ReLU)
DIAGNOSTIC_KEYS = {
    "grad_norm_first",
    "grad_norm_last",
    "grad_norms",
    "grad_ratio",
    "grad_norm",
    "grad_norm_clipped",
    "dead_fraction",
    "dead_fraction_by_layer",
    "signal_by_layer",  # one activation layer: no ratio of the top layer's to the first's
    "update_ratio",
}
BLOBS = {"name": "blobs", "n_samples": 400}  # 320 training examples: 5 batches of 64
SMALL_MLP = {"name": "mlp", "depth": 1, "width": 16}


def recipe(data=None, model=None, **train) -> Recipe:
    train = {"epochs": 3, "batch_size": 64, **train}
    return Recipe(name="t", data=data or BLOBS, model=model or SMALL_MLP, train=train)


def without_time(history: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in h.items() if k != "train_time"} for h in history]


@contextmanager
def captured_model():
    """{'model': the network train() builds, 'initial': its parameters before the first step}."""
    box: dict = {}

    def hook(module, args):
        if "model" not in box:
            box["model"] = module
            box["initial"] = {k: v.detach().clone() for k, v in module.named_parameters()}

    handle = nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        yield box
    finally:
        handle.remove()


def train_captured(cfg: Recipe):
    with captured_model() as box:
        result = train(cfg, CPU)
    assert isinstance(box["model"], nn.Sequential)
    return result, box["model"], box["initial"]


def weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight.detach() for m in model.modules() if isinstance(m, nn.Linear)]


# ---------------------------------------------------------------------------------------------------
# The loop


def test_same_seed_same_history_other_seed_different():
    a = train(recipe(seed=3), CPU)
    b = train(recipe(seed=3), CPU)
    c = train(recipe(seed=4), CPU)
    assert a.outcome == b.outcome and a.outcome in TRAINED
    assert without_time(a.history) == without_time(b.history)
    assert without_time(a.history) != without_time(c.history)


def test_learns_blobs():
    result = train(recipe(epochs=5, optimizer={"name": "adam", "lr": 0.01}), CPU)
    assert result.outcome == "ok" and result.epochs == 5
    assert result.history[-1]["train_loss"] < 0.5 * result.history[0]["train_loss"]
    assert result.metrics["val_accuracy"] > 0.9


def test_zeros_init_cannot_learn_spirals_but_he_normal_can():
    data = {"name": "spirals", "n_samples": 600}
    results, models = {}, {}
    for init in ("zeros", "he_normal"):
        model = {"name": "mlp", "depth": 2, "width": 32, "init": init}
        cfg = recipe(data, model, epochs=20, batch_size=32, optimizer={"name": "adam", "lr": 0.01})
        results[init], models[init], _ = train_captured(cfg)
    y_val = load_data(Recipe(name="t", data=data).data, CPU).y_val
    majority = torch.bincount(y_val).max().item() / len(y_val)
    zeros, he = results["zeros"].metrics["val_accuracy"], results["he_normal"].metrics["val_accuracy"]
    assert zeros <= majority + 0.02  # no better than always answering the commonest class
    assert he > zeros + 0.4
    # why: with every weight zero, no hidden weight ever gets a gradient
    for w in weights(models["zeros"])[:-1]:
        assert torch.count_nonzero(w) == 0


@pytest.mark.parametrize(
    "train_kw",
    [
        {"optimizer": {"name": "sgd", "lr": 1e10}},
        {
            "optimizer": {"name": "sgd", "lr": 0.1},
            "regularization": {"penalty": {"name": "l2", "strength": 1e3}},
        },
    ],
    ids=["huge_lr", "huge_l2"],
)
def test_divergence_is_detected(train_kw):
    result = train(recipe(epochs=5, **train_kw), CPU)
    assert result.outcome == "diverged"
    assert ("became" in result.reason or "exploded to" in result.reason) and "at step" in result.reason
    assert result.epochs < 5  # it stopped instead of training on
    last = result.history[-1]
    assert not math.isfinite(last["train_loss"]) or last["train_loss"] > 1e4  # non-finite or exploded
    assert last["diverged_step"] == int(result.reason.split("at step ")[1].split()[0])
    assert all(math.isfinite(h["train_loss"]) for h in result.history[:-1])
    assert result.metrics == last
    # the same configuration with a sane rate trains to the end
    tame = {**train_kw, "optimizer": {"name": "sgd", "lr": 0.01}, "regularization": {}}
    assert train(recipe(epochs=5, **tame), CPU).outcome in TRAINED


def test_report_called_every_epoch_with_the_metrics():
    calls = []

    def report(epoch, metrics):
        calls.append((epoch, dict(metrics)))
        return False

    result = train(recipe(epochs=4), CPU, report=report)
    assert result.outcome in TRAINED
    assert [e for e, _ in calls] == [1, 2, 3, 4]
    for epoch, metrics in calls:
        assert set(metrics) == METRIC_KEYS | DIAGNOSTIC_KEYS
        assert metrics["epoch"] == epoch
    assert [m for _, m in calls] == result.history
    times = [m["train_time"] for _, m in calls]
    assert all(b > a for a, b in pairwise(times))  # cumulative
    assert all(0 <= m[k] <= 1 for _, m in calls for k in ("train_accuracy", "val_accuracy"))


def test_report_returning_true_prunes_after_that_epoch():
    seen = []

    def report(epoch, metrics):
        seen.append(epoch)
        return epoch == 2

    result = train(recipe(epochs=6), CPU, report=report)
    assert result.outcome == "pruned"
    assert seen == [1, 2] and result.epochs == 2
    assert "2" in result.reason
    assert result.metrics == result.history[-1] and result.metrics["epoch"] == 2


def test_shuffle_changes_the_result_for_the_same_seed():
    shuffled = train(recipe(shuffle=True, optimizer={"name": "sgd", "lr": 0.1}), CPU)
    ordered = train(recipe(shuffle=False, optimizer={"name": "sgd", "lr": 0.1}), CPU)
    again = train(recipe(shuffle=False, optimizer={"name": "sgd", "lr": 0.1}, seed=9), CPU)
    assert without_time(shuffled.history) != without_time(ordered.history)
    # unshuffled batches come in data order; the seed then only changes the initialization
    assert without_time(ordered.history) != without_time(again.history)


def test_step_schedule_is_applied_per_epoch():
    base = 0.05
    result = train(
        recipe(
            epochs=5,
            optimizer={"name": "sgd", "lr": base},
            schedule={"name": "step", "step_epochs": 2, "gamma": 0.5},
        ),
        CPU,
    )
    assert [h["lr"] for h in result.history] == pytest.approx(
        [base * 0.5 ** ((e - 1) // 2) for e in range(1, 6)]
    )


def test_cosine_schedule_is_applied_per_step():
    base, epochs, spe = 0.02, 4, 5  # 320 examples in batches of 64
    result = train(recipe(epochs=epochs, optimizer={"name": "adam", "lr": base}, schedule="cosine"), CPU)
    total = epochs * spe
    # the recorded rate is the one of the epoch's last step
    expected = [base * 0.5 * (1 + math.cos(math.pi * (e * spe - 1) / total)) for e in range(1, epochs + 1)]
    assert [h["lr"] for h in result.history] == pytest.approx(expected)


def test_constant_schedule_keeps_the_configured_rate():
    result = train(recipe(optimizer={"name": "momentum", "lr": 0.03}), CPU)
    assert [h["lr"] for h in result.history] == [0.03] * 3


def test_batchnorm_trains_whatever_the_size_of_the_last_batch():
    # 401 examples -> 80 validation, 321 training = 5 batches of 64 and one of 1
    data = {"name": "blobs", "n_samples": 401}
    assert len(load_data(Recipe(name="t", data=data).data, CPU).x_train) % 64 == 1
    model = {**SMALL_MLP, "norm": "batchnorm"}
    assert train(recipe(data, model, epochs=1), CPU).outcome in TRAINED


# ---------------------------------------------------------------------------------------------------
# Regularization


def test_dropout_zeroes_rate_of_activations_and_rescales_survivors():
    rate = 0.3
    p = MODELS.parse({"name": "mlp", "depth": 1, "width": 2048, "dropout": rate})
    torch.manual_seed(0)
    model = build_mlp(p, (8,), 3)
    dropout = next(m for m in model if isinstance(m, nn.Dropout))
    seen = {}
    dropout.register_forward_hook(lambda m, args, out: seen.update(x=args[0].detach(), y=out.detach()))
    x = torch.randn(64, 8)

    model.train()
    model(x)
    live = seen["x"] != 0  # ReLU already zeroed some; count only the units dropout could drop
    dropped = (seen["y"] == 0) & live
    assert dropped.sum().item() / live.sum().item() == pytest.approx(rate, abs=0.01)
    kept = live & ~dropped
    assert torch.allclose(seen["y"][kept], seen["x"][kept] / (1 - rate))
    assert not torch.equal(model(x), model(x))  # a fresh mask each pass

    model.eval()
    out = model(x)
    assert torch.equal(seen["y"], seen["x"])
    assert torch.equal(out, model(x))


def test_split_decay_keeps_biases_and_norm_params_out_by_default():
    p = MODELS.parse({"name": "mlp", "depth": 2, "width": 8, "norm": "batchnorm"})
    model = build_mlp(p, (4,), 3)
    linear_weights = {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear)}
    everything = {id(q) for q in model.parameters()}
    decay, keep = _split_decay(model, decay_all=False)
    assert {id(q) for q in decay} == linear_weights
    assert {id(q) for q in keep} == everything - linear_weights
    assert len(keep) == 3 * 2 + 1  # per hidden block: bias, gamma, beta; and the output bias
    decay, keep = _split_decay(model, decay_all=True)
    assert {id(q) for q in decay} == everything and keep == []


@pytest.mark.parametrize("penalty", ["weight_decay", "l2"])
def test_decay_biases_extends_decay_to_norm_parameters(penalty):
    """One SGD step from the same start: only decay_biases moves gamma (=1) by the decay term."""
    lr, amount = 0.1, 0.5
    opt = {"name": "sgd", "lr": lr, "weight_decay": amount if penalty == "weight_decay" else 0.0}
    reg = {"penalty": {"name": "l2", "strength": amount}} if penalty == "l2" else {}
    model = {**SMALL_MLP, "norm": "layernorm"}
    runs = {}
    for decay_biases in (False, True):
        cfg = recipe(
            model=model,
            epochs=1,
            batch_size=1000,  # one step
            shuffle=False,
            optimizer=opt,
            regularization={**reg, "decay_biases": decay_biases},
        )
        _, m, initial = train_captured(cfg)
        runs[decay_biases] = (dict(m.named_parameters()), initial)
    (plain, init_a), (all_, init_b) = runs[False], runs[True]
    for name in plain:
        assert torch.equal(init_a[name], init_b[name])
        gap = (all_[name] - plain[name]).detach()
        if name.endswith(".weight") and plain[name].dim() == 2:
            assert torch.allclose(gap, torch.zeros_like(gap), atol=1e-6), name  # decayed either way
        else:
            # d/dθ of wd/2·θ² (coupled decay) is wd·θ; of l2·θ² it is 2·l2·θ
            grad = amount * init_a[name] * (2 if penalty == "l2" else 1)
            assert torch.allclose(gap, -lr * grad, atol=1e-6), name
    gamma = next(n for n in plain if n.endswith(".weight") and plain[n].dim() == 1)
    assert not torch.allclose(all_[gamma], plain[gamma])  # the check above had something to see


@pytest.mark.parametrize("clip_norm", [1e-3, 0.05])
def test_clip_norm_bounds_the_global_gradient_norm(clip_norm):
    lr = 1.0  # one plain SGD step: the parameter change is -lr times the clipped gradient

    def step_norm(reg):
        cfg = recipe(epochs=1, batch_size=1000, optimizer={"name": "sgd", "lr": lr}, regularization=reg)
        _, model, initial = train_captured(cfg)
        change = [(q.detach() - initial[n]).flatten() for n, q in model.named_parameters()]
        return torch.cat(change).norm().item() / lr

    free = step_norm({})
    clipped = step_norm({"clip_norm": clip_norm})
    assert free > 2 * clip_norm  # the bound binds
    assert clipped <= clip_norm * (1 + 1e-4)
    assert clipped == pytest.approx(clip_norm, rel=1e-3)  # scaled down to it, not zeroed


def test_clip_value_bounds_each_gradient_element():
    lr, clip = 1.0, 1e-3

    def step_max(reg):
        cfg = recipe(epochs=1, batch_size=1000, optimizer={"name": "sgd", "lr": lr}, regularization=reg)
        _, model, initial = train_captured(cfg)
        return max((q.detach() - initial[n]).abs().max().item() for n, q in model.named_parameters()) / lr

    assert step_max({}) > 2 * clip
    clipped = step_max({"clip_value": clip})
    assert clipped <= clip * (1 + 1e-4)  # float32 rounding of w - lr*g
    assert clipped == pytest.approx(clip, rel=1e-3)  # the largest elements sit at the bound


@pytest.mark.parametrize(("penalty", "order"), [("l2", 2), ("l1", 1)])
def test_penalty_shrinks_weights(penalty, order):
    def weight_norm(amount):
        reg = {"penalty": {"name": penalty, "strength": amount}}
        cfg = recipe(epochs=20, optimizer={"name": "adam", "lr": 0.01}, regularization=reg)
        result, model, _ = train_captured(cfg)
        assert result.outcome in TRAINED
        return sum(w.norm(p=order).item() ** order for w in weights(model)), result

    free, free_result = weight_norm(0.0)
    penalized, penalized_result = weight_norm(0.01)
    assert penalized < 0.8 * free
    # the penalty is part of the reported training loss
    assert penalized_result.history[0]["train_loss"] > free_result.history[0]["train_loss"]


def test_label_smoothing_raises_the_loss_floor():
    eps, classes = 0.2, 3
    cfg = {"epochs": 15, "optimizer": {"name": "adam", "lr": 0.02}}
    sharp = train(recipe(**cfg), CPU)
    smooth = train(recipe(**cfg, regularization={"label_smoothing": eps}), CPU)
    # cross-entropy against the smoothed target is at least that target's entropy
    target = torch.full((classes,), eps / classes)
    target[0] += 1 - eps
    floor = -(target * target.log()).sum().item()
    assert smooth.metrics["train_loss"] >= floor - 1e-6
    assert sharp.metrics["train_loss"] < floor
    # on a confident, correct prediction the smoothed loss is the larger one
    logits = torch.tensor([[8.0, 0.0, 0.0]])
    label = torch.tensor([0])
    assert F.cross_entropy(logits, label, label_smoothing=eps) > F.cross_entropy(logits, label)
