"""The whole catalogue: every entry of every training family trains, and the adaptive optimizers
follow their published update rules step by step."""

from __future__ import annotations

import math

import pytest
import torch

from sweepnn.config import Recipe
from sweepnn.options.activations import ACTIVATIONS, build_activation
from sweepnn.options.inits import INITS
from sweepnn.options.norms import NORMS
from sweepnn.options.optimizers import OPTIMIZERS, build_optimizer
from sweepnn.options.regularizers import PENALTIES
from sweepnn.options.schedules import SCHEDULES, WARMUPS
from sweepnn.trainer import TRAINED, train

torch.set_num_threads(1)
CPU = torch.device("cpu")

# Inits the seeds call unusable, and the pathology each must show on this small MLP instead of learning.
PATHOLOGY = {"zeros": "stalled"}


def tiny(model=None, **train_kw) -> Recipe:
    return Recipe(
        name="t",
        data={"name": "blobs", "n_samples": 400, "classes": 3, "spread": 1.5},
        model={"depth": 2, "width": 32, **(model or {})},
        train={"epochs": 6, "optimizer": {"name": "adam", "lr": 0.01}, **train_kw},
    )


def lowers_the_loss(cfg: Recipe) -> None:
    result = train(cfg, CPU)
    assert result.outcome in TRAINED, result.reason
    first, last = result.history[0]["val_loss"], result.history[-1]["val_loss"]
    assert last < 0.9 * first, (first, last)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_trains(name):
    lr = {"sgd": 0.2, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.05}.get(name, 0.01)
    lowers_the_loss(tiny(optimizer={"name": name, "lr": lr}))


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("warmup", list(WARMUPS))
def test_every_schedule_trains(name, warmup):
    lowers_the_loss(tiny(schedule={"name": name, "warmup": warmup}))


@pytest.mark.parametrize("name", list(INITS))
def test_every_init_trains_or_shows_its_pathology(name):
    cfg = tiny(model={"init": name})
    if name in PATHOLOGY:
        assert train(cfg, CPU).outcome == PATHOLOGY[name]
    else:
        lowers_the_loss(cfg)


@pytest.mark.parametrize("name", list(NORMS))
@pytest.mark.parametrize("position", ["before", "after"])
def test_every_norm_trains(name, position):
    lowers_the_loss(tiny(model={"norm": name, "norm_position": position}))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_activation_trains(name):
    lowers_the_loss(tiny(model={"activation": name}))


@pytest.mark.parametrize("name", list(PENALTIES))
def test_every_penalty_trains(name):
    lowers_the_loss(tiny(regularization={"penalty": name}))


# ---- activations: gradients at known points ------------------------------------------------------

GRADIENTS = {  # d/dx at x = -1, 0.5, 2 (ReLU's gradient at 0 is avoided on purpose)
    "sigmoid": lambda x: torch.sigmoid(x) * (1 - torch.sigmoid(x)),
    "tanh": lambda x: 1 - torch.tanh(x) ** 2,
    "relu": lambda x: (x > 0).double(),
    "leaky_relu": lambda x: torch.where(x > 0, 1.0, 0.01).double(),
    "elu": lambda x: torch.where(x > 0, 1.0, torch.exp(x)).double(),
    "gelu": lambda x: (
        0.5 * (1 + torch.erf(x / math.sqrt(2))) + x * torch.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)
    ),
    "silu": lambda x: torch.sigmoid(x) * (1 + x * (1 - torch.sigmoid(x))),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_gradient_at_known_points(name):
    x = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
    build_activation(ACTIVATIONS.parse(name))(x).sum().backward()
    assert torch.allclose(x.grad, GRADIENTS[name](x.detach()), atol=1e-6)


# ---- adaptive optimizers against their update rules, step by step ---------------------------------


def _steps(name: str, n: int, **params) -> torch.Tensor:
    """n steps on f(w) = 0.5*|w|^2 (gradient w) from a fixed start."""
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    opt = build_optimizer(OPTIMIZERS.parse({"name": name, **params}), [{"params": [w]}])
    for _ in range(n):
        opt.zero_grad()
        (0.5 * (w**2).sum()).backward()
        opt.step()
    return w.detach()


def _reference(name: str, n: int, lr=0.1, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, alpha=0.99) -> torch.Tensor:
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    m = torch.zeros_like(w)
    v = torch.zeros_like(w)
    s = torch.zeros_like(w)
    for t in range(1, n + 1):
        g = w.clone()
        if name == "adagrad":  # s <- s + g^2; w <- w - lr g / (sqrt(s) + eps)
            s += g * g
            w = w - lr * g / (s.sqrt() + 1e-10)
        elif name == "rmsprop":  # s <- a s + (1-a) g^2; w <- w - lr g / (sqrt(s) + eps)
            s = alpha * s + (1 - alpha) * g * g
            w = w - lr * g / (s.sqrt() + eps)
        else:  # adam / adamw: bias-corrected moments; adamw decays w directly
            if name == "adamw":
                w = w * (1 - lr * wd)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            w = w - lr * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + eps)
    return w


@pytest.mark.parametrize(
    ("name", "params", "ref"),
    [
        ("adagrad", {"lr": 0.1}, {}),
        ("rmsprop", {"lr": 0.01}, {"lr": 0.01}),
        ("adam", {"lr": 0.1}, {}),
        ("adamw", {"lr": 0.1, "weight_decay": 0.1}, {"wd": 0.1}),
    ],
)
def test_adaptive_optimizers_follow_their_update_rules(name, params, ref):
    for n in (1, 5):
        assert torch.allclose(_steps(name, n, **params), _reference(name, n, **ref), atol=1e-10), n
