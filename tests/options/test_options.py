"""Option registries: every entry is built and shown, by measurement, to do what its name says.

Tests are parametrized over the registries themselves, and each family keeps a table of what its
entries should measure; a new entry without a row in that table fails `test_*_table_covers_registry`.
"""

from __future__ import annotations

import math
from itertools import pairwise

import pytest
import torch
from torch import nn

from sweepnn.options.activations import ACTIVATIONS, activation_gain, build_activation
from sweepnn.options.inits import INITS
from sweepnn.options.layers import initialize
from sweepnn.options.models import MODELS, build_mlp
from sweepnn.options.norms import NORMS, build_norm
from sweepnn.options.optimizers import OPTIMIZERS, build_optimizer, optimizer_kwargs
from sweepnn.options.schedules import SCHEDULES, WARMUPS, lr_factor

torch.set_num_threads(1)

FAN_IN, FAN_OUT = 1024, 512  # the measured hidden layer: Linear(1024 -> 512), a wide matrix


# ---------------------------------------------------------------------------------------------------
# Initializations


def _relu_gain2(slope: float = 0.0) -> float:
    """Kaiming's gain² for a (leaky) ReLU: 2 / (1 + slope²)."""
    return 2.0 / (1.0 + slope**2)


# name -> expected Var(w) of a (fan_out x fan_in) weight under ReLU (gain² = 2), from the description.
EXPECTED_VAR = {
    "zeros": lambda fi, fo, g2: 0.0,
    "normal": lambda fi, fo, g2: 1.0,
    "small_normal": lambda fi, fo, g2: 0.01**2,
    "xavier_uniform": lambda fi, fo, g2: 2.0 / (fi + fo),
    "xavier_normal": lambda fi, fo, g2: 2.0 / (fi + fo),
    "he_uniform": lambda fi, fo, g2: g2 / fi,
    "he_normal": lambda fi, fo, g2: g2 / fi,
    "lecun_normal": lambda fi, fo, g2: 1.0 / fi,
    # orthonormal rows of length fan_in, scaled by the gain: each entry has variance gain²/fan_in
    "orthogonal": lambda fi, fo, g2: g2 / fi,
    # kaiming_uniform_(a=sqrt(5)): gain² = 2/(1+5), so Var = 1/(3 fan_in), whatever the activation
    "torch_default": lambda fi, fo, g2: 1.0 / (3 * fi),
}


def _mlp(init, activation="relu", norm="none", depth=1, width=FAN_OUT, dropout=0.0):
    p = MODELS.parse(
        {
            "name": "mlp",
            "depth": depth,
            "width": width,
            "init": init,
            "activation": activation,
            "norm": norm,
            "dropout": dropout,
        }
    )
    return build_mlp(p, (FAN_IN,), 3)


def _hidden_weight(init, activation="relu") -> torch.Tensor:
    torch.manual_seed(0)
    model = _mlp(init, activation)
    linear = next(m for m in model if isinstance(m, nn.Linear))
    assert linear.weight.shape == (FAN_OUT, FAN_IN)
    return linear.weight.detach().double()


@pytest.mark.parametrize("name", list(INITS))
def test_init_table_covers_registry(name):
    assert name in EXPECTED_VAR, f"add the expected variance of init {name!r} to EXPECTED_VAR"


@pytest.mark.parametrize("name", list(INITS))
def test_init_measured_variance_matches_its_formula(name):
    w = _hidden_weight(name)
    expected = EXPECTED_VAR[name](FAN_IN, FAN_OUT, _relu_gain2())
    if expected == 0.0:
        assert torch.count_nonzero(w) == 0
        return
    var = w.var().item()
    assert var == pytest.approx(expected, rel=0.03)
    assert abs(w.mean().item()) < 5 * math.sqrt(expected / w.numel())


@pytest.mark.parametrize("name", [n for n in INITS if n.endswith(("_uniform", "_normal")) or n == "normal"])
def test_uniform_inits_are_bounded_and_normal_inits_gaussian(name):
    """'uniform' fills [-b, b] with b = sqrt(3 Var); 'normal' has Gaussian tails (kurtosis 3)."""
    w = _hidden_weight(name)
    var = EXPECTED_VAR[name](FAN_IN, FAN_OUT, _relu_gain2())
    bound = math.sqrt(3 * var)
    kurtosis = (((w - w.mean()) ** 4).mean() / w.var() ** 2).item()
    if name.endswith("_uniform"):
        assert w.abs().max().item() <= bound * (1 + 1e-6)
        assert w.abs().max().item() > 0.99 * bound  # fills the interval
        assert kurtosis == pytest.approx(1.8, abs=0.05)  # a uniform's kurtosis is 9/5
    else:
        assert w.abs().max().item() > 1.5 * bound
        assert kurtosis == pytest.approx(3.0, abs=0.1)


def test_small_normal_honours_configured_std():
    default = _hidden_weight("small_normal")
    custom = _hidden_weight({"name": "small_normal", "std": 0.05})
    assert default.std().item() == pytest.approx(0.01, rel=0.02)
    assert custom.std().item() == pytest.approx(0.05, rel=0.02)
    assert _hidden_weight({"name": "normal", "std": 0.3}).std().item() == pytest.approx(0.3, rel=0.02)


@pytest.mark.parametrize("name", ["he_uniform", "he_normal"])
@pytest.mark.parametrize("slope", [0.01, 0.2, 0.5])
def test_he_honours_leaky_relu_slope(name, slope):
    w = _hidden_weight(name, {"name": "leaky_relu", "slope": slope})
    assert w.var().item() == pytest.approx(_relu_gain2(slope) / FAN_IN, rel=0.03)


@pytest.mark.parametrize("name", ["he_uniform", "he_normal", "orthogonal"])
def test_gain_aware_inits_follow_the_activation(name):
    """tanh's gain (5/3) is larger than ReLU's (sqrt 2), sigmoid's (1) smaller."""
    measured = {act: _hidden_weight(name, act).var().item() for act in ("sigmoid", "tanh", "relu")}
    assert measured["sigmoid"] == pytest.approx(1.0 / FAN_IN, rel=0.03)
    assert measured["tanh"] == pytest.approx((5 / 3) ** 2 / FAN_IN, rel=0.03)
    assert measured["relu"] == pytest.approx(2.0 / FAN_IN, rel=0.03)


@pytest.mark.parametrize("activation", ["relu", "tanh", {"name": "leaky_relu", "slope": 0.3}, "sigmoid"])
@pytest.mark.parametrize("shape", [(512, 1024), (256, 256)])
def test_orthogonal_rows_are_orthonormal_times_gain(activation, shape):
    act = ACTIVATIONS.parse(activation)
    layer = nn.Linear(shape[1], shape[0])
    torch.manual_seed(0)
    initialize(nn.Sequential(layer), INITS.parse("orthogonal"), activation_gain(act))
    w = layer.weight.detach().double()
    gain2 = torch.nn.init.calculate_gain(*activation_gain(act)) ** 2
    expected_gain2 = {"relu": 2.0, "tanh": (5 / 3) ** 2, "leaky_relu": _relu_gain2(0.3), "sigmoid": 1.0}
    assert gain2 == pytest.approx(expected_gain2[act.name])
    gram = w @ w.T
    assert torch.allclose(gram, gain2 * torch.eye(shape[0], dtype=torch.float64), atol=1e-4)


@pytest.mark.parametrize("name", list(INITS))
@pytest.mark.parametrize("norm", ["batchnorm", "layernorm"])
def test_biases_zero_and_norm_identity_whatever_the_scheme(name, norm):
    model = _mlp(name, norm=norm, depth=2, width=32)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    norms = [m for m in model if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm))]
    assert len(linears) == 3 and len(norms) == 2
    for m in linears:
        if INITS[name].reset is None:
            assert torch.count_nonzero(m.bias) == 0
        else:  # torch's own reset: biases uniform in +-1/sqrt(fan_in), as an untouched layer has them
            bound = 1 / math.sqrt(m.in_features)
            assert m.bias.abs().max() <= bound and torch.count_nonzero(m.bias) == len(m.bias)
    for m in norms:
        assert torch.equal(m.weight, torch.ones_like(m.weight))
        assert torch.count_nonzero(m.bias) == 0


# ---------------------------------------------------------------------------------------------------
# Activations


def _phi(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.special.erf(x / math.sqrt(2)))


def _sigmoid(x: torch.Tensor) -> torch.Tensor:
    return 1 / (1 + torch.exp(-x))


# name -> (parameters tried, the definition computed here from elementary functions)
DEFINITIONS = {
    "sigmoid": ({}, lambda x, p: _sigmoid(x)),
    "tanh": ({}, lambda x, p: (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))),
    "relu": ({}, lambda x, p: torch.where(x > 0, x, torch.zeros_like(x))),
    "leaky_relu": ({"slope": 0.2}, lambda x, p: torch.where(x > 0, x, p["slope"] * x)),
    "elu": ({"alpha": 0.5}, lambda x, p: torch.where(x > 0, x, p["alpha"] * (torch.exp(x) - 1))),
    "gelu": ({}, lambda x, p: x * _phi(x)),
    "silu": ({}, lambda x, p: x * _sigmoid(x)),
}

# name -> gain² a gain-aware init should use (torch's table; ReLU's for ReLU-like shapes it lacks)
EXPECTED_GAIN2 = {
    "sigmoid": 1.0,
    "tanh": (5 / 3) ** 2,
    "relu": 2.0,
    "leaky_relu": _relu_gain2(0.2),
    "elu": 2.0,
    "gelu": 2.0,
    "silu": 2.0,
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_table_covers_registry(name):
    assert name in DEFINITIONS and name in EXPECTED_GAIN2, f"add activation {name!r} to the tables"


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_matches_its_definition(name):
    kwargs, definition = DEFINITIONS[name]
    module = build_activation(ACTIVATIONS.parse({"name": name, **kwargs}))
    assert isinstance(module, nn.Module)
    x = torch.linspace(-4, 4, 161, dtype=torch.float64)
    assert torch.allclose(module(x), definition(x, kwargs), atol=1e-7)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_gain(name):
    kwargs, _ = DEFINITIONS[name]
    gain = torch.nn.init.calculate_gain(*activation_gain(ACTIVATIONS.parse({"name": name, **kwargs})))
    assert gain**2 == pytest.approx(EXPECTED_GAIN2[name])


def test_activation_defaults():
    leaky = build_activation(ACTIVATIONS.parse("leaky_relu"))
    elu = build_activation(ACTIVATIONS.parse("elu"))
    x = torch.tensor([-2.0])
    assert leaky(x).item() == pytest.approx(-0.02)
    assert elu(x).item() == pytest.approx(math.exp(-2) - 1)


# ---------------------------------------------------------------------------------------------------
# Normalizations

# name -> the axis it normalizes over (0: each feature over the batch, 1: each example), or None
NORM_AXIS = {"none": None, "batchnorm": 0, "layernorm": 1}


def _skewed_batch(n: int = 256, d: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    scale = torch.linspace(0.5, 5.0, d)
    return torch.randn(n, d, generator=g) * scale + torch.linspace(-3.0, 7.0, d)


@pytest.mark.parametrize("name", list(NORMS))
def test_norm_table_covers_registry(name):
    assert name in NORM_AXIS, f"add norm {name!r} to NORM_AXIS"


@pytest.mark.parametrize("name", list(NORMS))
def test_norm_normalizes_along_its_axis(name):
    layer = build_norm(NORMS.parse(name), 16)
    axis = NORM_AXIS[name]
    if axis is None:
        assert layer is None
        return
    layer.train()
    out = layer(_skewed_batch()).detach()
    mean, std = out.mean(axis), out.std(axis, unbiased=False)
    assert torch.allclose(mean, torch.zeros_like(mean), atol=1e-4)
    assert torch.allclose(std, torch.ones_like(std), atol=1e-3)
    other = out.mean(1 - axis)  # the other axis is not normalized by this layer
    assert other.abs().max() > 0.1


def test_batchnorm_running_stats_follow_momentum_and_serve_evaluation():
    x = _skewed_batch()
    bn = build_norm(NORMS.parse({"name": "batchnorm", "momentum": 0.3}), 16)
    bn.train()
    train_out = bn(x).detach()
    m = 0.3
    assert torch.allclose(bn.running_mean, m * x.mean(0), atol=1e-5)
    assert torch.allclose(bn.running_var, (1 - m) * 1.0 + m * x.var(0, unbiased=True), atol=1e-4)
    bn.eval()
    eval_out = bn(x).detach()
    expected = (x - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps)
    assert torch.allclose(eval_out, expected, atol=1e-4)
    assert not torch.allclose(eval_out, train_out, atol=1e-2)
    # evaluation does not move the running statistics
    before = bn.running_mean.clone()
    bn(x + 100)
    assert torch.equal(bn.running_mean, before)


def test_layernorm_is_the_same_in_train_and_eval():
    x = _skewed_batch()
    ln = build_norm(NORMS.parse({"name": "layernorm", "eps": 1e-3}), 16)
    assert ln.eps == 1e-3
    ln.train()
    a = ln(x).detach()
    ln.eval()
    b = ln(x).detach()
    assert torch.equal(a, b)
    expected = (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, unbiased=False, keepdim=True) + 1e-3)
    assert torch.allclose(a, expected, atol=1e-5)


@pytest.mark.parametrize("name", [n for n in NORMS if NORM_AXIS[n] is not None])
def test_norm_affine_flag(name):
    with_affine = build_norm(NORMS.parse(name), 8)
    without = build_norm(NORMS.parse({"name": name, "affine": False}), 8)
    assert sum(p.numel() for p in with_affine.parameters()) == 16
    assert sum(p.numel() for p in without.parameters()) == 0


# ---------------------------------------------------------------------------------------------------
# Optimizers

TORCH_CLASS = {
    "sgd": torch.optim.SGD,
    "momentum": torch.optim.SGD,
    "nesterov": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
}


def _group_value(group: dict, key: str):
    if key == "beta1":
        return group["betas"][0]
    if key == "beta2":
        return group["betas"][1]
    return group[key]


def _changed(value):
    """A valid value different from a default, to see that a configured value is really used."""
    if isinstance(value, bool):
        return not value
    return value * 0.5 if value else 0.001


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_table_covers_registry(name):
    assert name in TORCH_CLASS, f"add optimizer {name!r} to TORCH_CLASS"


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_builds_its_class_with_defaults(name):
    p = OPTIMIZERS.parse(name)
    opt = build_optimizer(p, [{"params": [torch.zeros(3, requires_grad=True)]}])
    assert type(opt) is TORCH_CLASS[name]
    group = opt.param_groups[0]
    for key, value in OPTIMIZERS[name].defaults().items():
        assert _group_value(group, key) == value, key


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_configured_params_land_in_param_groups(name):
    defaults = OPTIMIZERS[name].defaults()
    changed = {k: _changed(v) for k, v in defaults.items()}
    p = OPTIMIZERS.parse({"name": name, **changed})
    kwargs = optimizer_kwargs(p)
    assert "beta1" not in kwargs and "beta2" not in kwargs
    if "beta1" in changed:
        assert kwargs["betas"] == (changed["beta1"], changed["beta2"])
        assert isinstance(kwargs["betas"], tuple)
    w, b = torch.zeros(3, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = build_optimizer(p, [{"params": [w]}, {"params": [b], "weight_decay": 0.0}])
    for key, value in changed.items():
        assert _group_value(opt.param_groups[0], key) == value, key
    # a group's own setting overrides the optimizer's (the trainer's undecayed group relies on it)
    if "weight_decay" in changed:
        assert opt.param_groups[1]["weight_decay"] == 0.0


def test_sgd_family_momentum_and_nesterov_flags():
    groups = {
        name: build_optimizer(
            OPTIMIZERS.parse(name), [{"params": [torch.zeros(1, requires_grad=True)]}]
        ).param_groups[0]
        for name in ("sgd", "momentum", "nesterov")
    }
    assert groups["sgd"]["momentum"] == 0 and groups["sgd"]["nesterov"] is False
    assert groups["momentum"]["momentum"] == 0.9 and groups["momentum"]["nesterov"] is False
    assert groups["nesterov"]["momentum"] == 0.9 and groups["nesterov"]["nesterov"] is True
    # nesterov stays pinned even when other values are configured
    assert optimizer_kwargs(OPTIMIZERS.parse({"name": "nesterov", "momentum": 0.5}))["nesterov"] is True


def test_adam_defaults_are_kingma_and_ba():
    group = build_optimizer(OPTIMIZERS.parse("adam"), [{"params": [torch.zeros(1, requires_grad=True)]}])
    g = group.param_groups[0]
    assert g["lr"] == 1e-3 and g["betas"] == (0.9, 0.999) and g["eps"] == 1e-8 and g["weight_decay"] == 0


def test_nesterov_refuses_zero_momentum_at_validation_and_builds_with_any_it_accepts():
    # torch.optim.SGD refuses nesterov=True without momentum: the recipe must fail first, not the trial
    with pytest.raises(ValueError, match="greater than 0"):
        OPTIMIZERS.parse({"name": "nesterov", "momentum": 0.0})
    p = OPTIMIZERS.parse({"name": "nesterov", "momentum": 1e-6})
    opt = build_optimizer(p, [{"params": [torch.zeros(1, requires_grad=True)]}])
    assert opt.param_groups[0]["nesterov"] is True


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_reduces_a_convex_quadratic(name):
    target = torch.linspace(-2.0, 3.0, 10)
    w = torch.zeros(10, requires_grad=True)
    opt = build_optimizer(OPTIMIZERS.parse({"name": name, "lr": 0.1}), [{"params": [w]}])

    def loss():
        return ((w - target) ** 2).sum()

    start = loss().item()
    for _ in range(50):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    assert loss().item() < 0.5 * start


# ---------------------------------------------------------------------------------------------------
# Schedules


def _f(schedule, step: int, total: int = 100, spe: int = 10) -> float:
    return lr_factor(SCHEDULES.parse(schedule), step, total, spe)


def _curve(schedule, total: int = 100, spe: int = 10) -> list[float]:
    p = SCHEDULES.parse(schedule)
    return [lr_factor(p, s, total, spe) for s in range(total)]


def _non_increasing(c: list[float]) -> bool:
    return all(b <= a + 1e-12 for a, b in pairwise(c))


# name -> the shape of its curve over a run (default parameters)
SHAPE = {
    "constant": "flat",
    "plateau": "flat",  # the pure part; the decay on a plateau is driven by val_loss in the trainer
    "step": "non_increasing",
    "multistep": "non_increasing",
    "exponential": "non_increasing",
    "cosine": "non_increasing",
    "cosine_restarts": "restarts",
    "linear": "non_increasing",
    "polynomial": "non_increasing",
    "onecycle": "rise_fall",
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_table_covers_registry(name):
    assert name in SHAPE, f"add schedule {name!r} to SHAPE"


@pytest.mark.parametrize("warmup", list(WARMUPS))
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_every_schedule_factor_is_in_0_1_over_a_run(name, warmup):
    for total, spe in ((200, 10), (7, 3), (1000, 1)):
        c = _curve({"name": name, "warmup": warmup}, total, spe)
        assert all(0 < f <= 1 for f in c), (total, spe)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_shape(name):
    # 300 epochs of 10 steps: long enough for the defaults (step 10, milestones 30/60, t0 10) to act
    c = _curve(name, total=3000, spe=10)
    shape = SHAPE[name]
    if shape == "flat":
        assert c == [1.0] * len(c)
    elif shape == "non_increasing":
        assert c[0] == pytest.approx(1.0)
        assert _non_increasing(c) and c[-1] < 0.5
    elif shape == "restarts":
        ups = [i for i in range(1, len(c)) if c[i] > c[i - 1] + 1e-9]
        assert len(ups) >= 2 and c[0] == pytest.approx(1.0)
    else:  # rise_fall
        peak = max(range(len(c)), key=c.__getitem__)
        assert 0 < peak < len(c) - 1
        assert c[peak] == pytest.approx(1.0)
        assert all(a <= b for a, b in pairwise(c[: peak + 1]))
        assert _non_increasing(c[peak:])


def test_constant_is_one_everywhere():
    assert all(_f("constant", s, 50, 5) == 1.0 for s in range(50))


def test_step_decays_by_gamma_at_multiples_of_step_epochs():
    sched = {"name": "step", "step_epochs": 3, "gamma": 0.5}
    spe = 4
    for step in range(40):
        epoch = step // spe
        assert _f(sched, step, 40, spe) == pytest.approx(0.5 ** (epoch // 3))
    # exactly at the boundary: last step of epoch 2 vs first step of epoch 3
    assert _f(sched, 3 * spe - 1, 40, spe) == 1.0
    assert _f(sched, 3 * spe, 40, spe) == 0.5


def test_multistep_decays_at_milestones():
    sched = {"name": "multistep", "milestones": [2, 5], "gamma": 0.1}
    spe = 3
    expected = {0: 1.0, 1: 1.0, 2: 0.1, 3: 0.1, 4: 0.1, 5: 0.01, 6: 0.01}
    for epoch, factor in expected.items():
        for k in range(spe):
            assert _f(sched, epoch * spe + k, 21, spe) == pytest.approx(factor)


def test_exponential_per_epoch_and_per_step():
    spe = 5
    per_epoch = {"name": "exponential", "gamma": 0.9}
    per_step = {"name": "exponential", "gamma": 0.9, "per": "step"}
    for step in range(30):
        assert _f(per_epoch, step, 30, spe) == pytest.approx(0.9 ** (step // spe))
        assert _f(per_step, step, 30, spe) == pytest.approx(0.9**step)


@pytest.mark.parametrize("min_factor", [0.0, 0.1])
def test_cosine_closed_form(min_factor):
    sched = {"name": "cosine", "min_factor": min_factor}
    total = 100
    c = _curve(sched, total)
    assert c[0] == pytest.approx(1.0)
    assert c[-1] == pytest.approx(min_factor, abs=1e-3)
    assert _non_increasing(c)
    assert _f(sched, total // 2, total) == pytest.approx(min_factor + (1 - min_factor) * 0.5)
    for s in (10, 37, 81):
        expected = min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * s / total))
        assert c[s] == pytest.approx(expected)


def test_cosine_restarts_jump_back_at_cycle_boundaries():
    spe = 4
    sched = {"name": "cosine_restarts", "t0": 2, "t_mult": 2.0, "min_factor": 0.0}
    c = _curve(sched, total=14 * spe, spe=spe)
    # cycles: epochs [0, 2), [2, 6), [6, 14): restarts at t0 and t0*(1+t_mult)
    for boundary in (2 * spe, 6 * spe):
        assert c[boundary] == pytest.approx(1.0)
        assert c[boundary - 1] < 0.1
    # inside the second cycle (4 epochs long) the midpoint is at epoch 4
    assert c[4 * spe] == pytest.approx(0.5)
    assert _non_increasing(c[2 * spe : 6 * spe])
    equal_cycles = _curve({"name": "cosine_restarts", "t0": 3}, total=9 * spe, spe=spe)
    assert equal_cycles[: 3 * spe] == pytest.approx(equal_cycles[3 * spe : 6 * spe])


def test_linear_and_polynomial():
    total = 50
    lin = _curve({"name": "linear", "min_factor": 0.2}, total)
    diffs = [a - b for a, b in pairwise(lin)]
    assert diffs == pytest.approx([0.8 / total] * (total - 1))
    assert lin[0] == 1.0
    poly = {"name": "polynomial", "power": 3.0, "min_factor": 0.1}
    for s in (0, 10, 25, 49):
        assert _f(poly, s, total) == pytest.approx(0.1 + 0.9 * (1 - s / total) ** 3)


def test_onecycle_rises_from_one_over_div_then_falls():
    sched = {"name": "onecycle", "pct_start": 0.25, "div_factor": 20.0, "final_div_factor": 100.0}
    total = 200
    c = _curve(sched, total)
    assert c[0] == pytest.approx(1 / 20)
    peak = c.index(max(c))
    assert peak == 50 and c[peak] == pytest.approx(1.0)
    assert all(a < b for a, b in pairwise(c[: peak + 1]))
    assert all(a > b for a, b in pairwise(c[peak:]))
    assert c[-1] == pytest.approx(1 / 2000, abs=1e-3)
    assert c[-1] < c[0]


def test_linear_warmup_in_front_of_cosine():
    spe, total = 10, 100
    sched = {"name": "cosine", "warmup": {"name": "linear", "epochs": 2}}
    c = _curve(sched, total, spe)
    warm = 20
    assert c[0] == pytest.approx(1 / warm)
    assert c[:warm] == pytest.approx([(s + 1) / warm for s in range(warm)])
    assert c[warm - 1] == pytest.approx(1.0)  # reaches the decay's start at the end of warmup
    for s in range(warm, total):
        expected = 0.5 * (1 + math.cos(math.pi * (s - warm) / (total - warm)))
        assert c[s] == pytest.approx(expected)
    # fractional epochs round to steps
    half = _curve({"name": "constant", "warmup": {"name": "linear", "epochs": 0.5}}, total, spe)
    assert half[:6] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])


def test_warmup_ramps_to_the_decays_start_value():
    """In front of onecycle (which starts at 1/div), the ramp ends at 1/div, not at 1."""
    sched = {"name": "onecycle", "div_factor": 10.0, "warmup": {"name": "linear", "epochs": 1}}
    c = _curve(sched, 100, 10)
    assert c[:10] == pytest.approx([(s + 1) / 10 * 0.1 for s in range(10)])


@pytest.mark.parametrize("warmup", list(WARMUPS))
def test_warmup_none_leaves_the_decay_and_others_ramp(warmup):
    p = WARMUPS.parse(warmup)
    decay = _curve({"name": "linear"})
    warmed = _curve({"name": "linear", "warmup": warmup})
    steps = WARMUPS[p.name].steps(p, 10)
    if steps == 0:
        assert warmed == decay
    else:
        assert warmed[0] < decay[0] and all(a < b for a, b in pairwise(warmed[:steps]))
