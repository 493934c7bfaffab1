"""Weight initializations. Each applies to a weight matrix (or conv kernel) in place.

Biases are always zeroed and normalization layers start at gamma=1, beta=0, by rule rather than by
the chosen scheme: the seeds' schemes are about weights, and a random bias only adds noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from sweepnn.registry import OptionParams, Registry, Spec

# apply(weight, params, (nonlinearity, nonlinearity_param)) -> None
InitFn = Callable[[Any, OptionParams, tuple[str, float]], None]


@dataclass(frozen=True, kw_only=True)
class InitSpec(Spec):
    """One weight initialization: `apply(weight, params, (nonlinearity, its parameter))` fills a weight matrix
    or kernel in place; biases and normalization layers are set by rule, not by the entry."""

    apply: InitFn | None = None
    # resets a whole weight module as torch builds it (weight and bias), in place of `apply`
    reset: Callable[[Any], None] | None = None


def _init():
    from torch.nn import init

    return init


def _zeros(w, p, act):
    _init().zeros_(w)


def _normal(w, p, act):
    _init().normal_(w, 0.0, p.std)


def _xavier_uniform(w, p, act):
    _init().xavier_uniform_(w, gain=1.0)


def _xavier_normal(w, p, act):
    _init().xavier_normal_(w, gain=1.0)


def _he_uniform(w, p, act):
    name, param = act
    _init().kaiming_uniform_(w, a=param, nonlinearity=name, mode="fan_in")


def _he_normal(w, p, act):
    name, param = act
    _init().kaiming_normal_(w, a=param, nonlinearity=name, mode="fan_in")


def _lecun_normal(w, p, act):
    _init().kaiming_normal_(w, nonlinearity="linear", mode="fan_in")


def _torch_default(module) -> None:
    # what an untouched layer gets: kaiming_uniform_(a=sqrt(5)) and a bias uniform in
    # +-1/sqrt(fan_in), for nn.Linear and every convolution alike
    module.reset_parameters()


def _orthogonal(w, p, act):
    init = _init()
    init.orthogonal_(w, gain=init.calculate_gain(act[0], act[1]))


INITS: Registry[InitSpec] = Registry(
    "init",
    [
        InitSpec(
            name="zeros",
            description="all weights 0: every unit stays identical, the net cannot learn",
            apply=_zeros,
        ),
        InitSpec(
            name="normal",
            description="standard normal N(0, 1): far too large for wide layers",
            apply=_normal,
            fields={"std": (float, Field(1.0, gt=0, description="standard deviation"))},
        ),
        InitSpec(
            name="small_normal",
            description="small random Gaussian N(0, std^2)",
            apply=_normal,
            fields={"std": (float, Field(0.01, gt=0, description="standard deviation"))},
        ),
        InitSpec(
            name="xavier_uniform",
            description="Glorot uniform, Var = 2/(fan_in+fan_out); for tanh/sigmoid",
            apply=_xavier_uniform,
        ),
        InitSpec(
            name="xavier_normal", description="Glorot normal, Var = 2/(fan_in+fan_out)", apply=_xavier_normal
        ),
        InitSpec(
            name="he_uniform",
            description="Kaiming uniform, Var = gain^2/fan_in (2/fan_in for ReLU)",
            apply=_he_uniform,
        ),
        InitSpec(
            name="he_normal",
            description="Kaiming normal, Var = gain^2/fan_in (2/fan_in for ReLU)",
            apply=_he_normal,
        ),
        InitSpec(name="lecun_normal", description="LeCun normal, Var = 1/fan_in", apply=_lecun_normal),
        InitSpec(
            name="torch_default",
            description="PyTorch's own: Kaiming uniform with a=sqrt(5) (Var = 1/(3 fan_in)), biases"
            " uniform +-1/sqrt(fan_in); what an untouched nn.Linear gets",
            reset=_torch_default,
        ),
        InitSpec(
            name="orthogonal",
            description="random orthogonal matrix scaled by the activation's gain",
            apply=_orthogonal,
        ),
    ],
)
