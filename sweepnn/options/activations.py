"""Activation functions, and the gain each one asks of a gain-aware initialization."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from sweepnn.registry import OptionParams, Registry, Spec


@dataclass(frozen=True, kw_only=True)
class ActivationSpec(Spec):
    """One activation: the torch.nn class `torch_class` with `kwargs`, the gain it asks of gain-aware
    initializations (`gain`, `gain_param`), and how its units stop learning (`dies`, `saturates`)."""

    torch_class: str
    kwargs: Mapping[str, str] = field(default_factory=dict)  # recipe parameter -> torch keyword
    # The nonlinearity name torch.nn.init.calculate_gain knows; activations it does not know (ELU,
    # GELU, SiLU) take ReLU's gain, which is the usual approximation for ReLU-like shapes.
    gain: str = "relu"
    gain_param: str | None = None  # recipe parameter passed to calculate_gain (LeakyReLU's slope)
    # How a unit of this activation stops learning, for the training-health diagnostics:
    dies: bool = False  # output exactly 0 for every input (ReLU)
    saturates: tuple[float, float] | None = None  # outputs outside (low, high) have ~zero gradient
    # The activation's derivative at its input, relative to its largest, as a function of its output
    # (a saturating activation's derivative is read off its output): the share of gradient it passes.
    passes: Callable[[Any], Any] | None = None


def _sigmoid_passes(y):
    return 4.0 * y * (1.0 - y)  # sigmoid' = y(1 - y), at most 1/4 (at y = 1/2)


def _tanh_passes(y):
    return 1.0 - y * y  # tanh' = 1 - y^2, at most 1 (at y = 0)


ACTIVATIONS: Registry[ActivationSpec] = Registry(
    "activation",
    [
        ActivationSpec(
            name="sigmoid",
            description="logistic 1/(1+e^-x); saturates, gradients vanish in deep nets",
            torch_class="Sigmoid",
            gain="sigmoid",
            saturates=(0.01, 0.99),
            passes=_sigmoid_passes,
        ),
        ActivationSpec(
            name="tanh",
            description="hyperbolic tangent; zero-centred but saturating",
            torch_class="Tanh",
            gain="tanh",
            saturates=(-0.99, 0.99),
            passes=_tanh_passes,
        ),
        ActivationSpec(
            name="relu",
            description="max(0, x); the default for deep nets",
            torch_class="ReLU",
            gain="relu",
            dies=True,
        ),
        ActivationSpec(
            name="leaky_relu",
            description="x for x>0, slope*x otherwise; no dead units",
            torch_class="LeakyReLU",
            kwargs={"slope": "negative_slope"},
            gain="leaky_relu",
            gain_param="slope",
            fields={"slope": (float, Field(0.01, ge=0, lt=1, description="slope for negative inputs"))},
        ),
        ActivationSpec(
            name="elu",
            description="x for x>0, alpha*(e^x-1) otherwise; smooth, mean closer to zero",
            torch_class="ELU",
            kwargs={"alpha": "alpha"},
            fields={
                "alpha": (float, Field(1.0, gt=0, description="value approached for large negative inputs"))
            },
        ),
        ActivationSpec(name="gelu", description="x*Phi(x), the transformer default", torch_class="GELU"),
        ActivationSpec(name="silu", description="x*sigmoid(x) (swish)", torch_class="SiLU"),
    ],
)


def build_activation(params: OptionParams):
    """A fresh torch module for the configured activation."""
    from torch import nn

    spec = ACTIVATIONS[params.name]
    kwargs = {spec.kwargs[k]: getattr(params, k) for k in spec.kwargs}
    return getattr(nn, spec.torch_class)(**kwargs)


def activation_gain(params: OptionParams) -> tuple[str, float]:
    """(nonlinearity name, its parameter) as torch.nn.init's gain-aware initializers take them."""
    spec = ACTIVATIONS[params.name]
    return spec.gain, float(getattr(params, spec.gain_param)) if spec.gain_param else 0.0
