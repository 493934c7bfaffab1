"""Optimizers: each entry names its torch class and declares exactly the hyperparameters it takes,
so a search space can tune them and conditional sampling knows when one applies (momentum only for
the momentum optimizers, betas only for the Adam family)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from sweepnn.registry import OptionParams, Registry, Spec


@dataclass(frozen=True, kw_only=True)
class OptimizerSpec(Spec):
    """One optimizer: the torch.optim class `torch_class` and the keywords it pins (`fixed`), whether torch
    has a fused kernel for it, how a stacked group runs it (`stacked`) and whether its decay is decoupled."""

    torch_class: str
    fixed: Mapping[str, Any] = field(default_factory=dict)  # torch keywords the entry pins (nesterov)
    # torch has a fused kernel for it, on the CPU as on CUDA: one kernel for every tensor instead of
    # several small ops per tensor (Adam: 0.3 ms instead of 1.1 ms a step for the quickstart MLP)
    fused: bool = False
    # how a stacked group (sweepnn.training.stacked.optim) runs it: "sgd" and "adam" are stacked
    # updates over the whole group; "torch" is one torch optimizer per member (the trainer's cost)
    stacked: str = "torch"
    decoupled_decay: bool = False  # weight decay applied to the weights apart from the gradient (AdamW)


def _lr(default: float):
    return (float, Field(default, gt=0, description="learning rate"))


_WD = (float, Field(0.0, ge=0, description="weight decay added to the gradient (coupled L2)"))
_MOMENTUM = (float, Field(0.9, ge=0, lt=1, description="momentum coefficient"))
_BETA1 = (float, Field(0.9, ge=0, lt=1, description="decay rate of the first-moment estimate"))
_BETA2 = (float, Field(0.999, ge=0, lt=1, description="decay rate of the second-moment estimate"))
_EPS = (float, Field(1e-8, gt=0, description="added to the denominator for numerical stability"))
_ADAM = {"lr": _lr(1e-3), "beta1": _BETA1, "beta2": _BETA2, "eps": _EPS, "weight_decay": _WD}

OPTIMIZERS: Registry[OptimizerSpec] = Registry(
    "optimizer",
    [
        OptimizerSpec(
            name="sgd",
            description="plain stochastic gradient descent",
            torch_class="SGD",
            stacked="sgd",
            fields={"lr": _lr(0.01), "weight_decay": _WD},
        ),
        OptimizerSpec(
            name="momentum",
            description="SGD with (heavy-ball) momentum",
            torch_class="SGD",
            stacked="sgd",
            fields={"lr": _lr(0.01), "momentum": _MOMENTUM, "weight_decay": _WD},
        ),
        OptimizerSpec(
            name="nesterov",
            description="SGD with Nesterov momentum",
            torch_class="SGD",
            stacked="sgd",
            fixed={"nesterov": True},
            # torch refuses Nesterov without momentum, so 0 is not a valid value here
            fields={
                "lr": _lr(0.01),
                "momentum": (float, Field(0.9, gt=0, lt=1, description="momentum coefficient")),
                "weight_decay": _WD,
            },
        ),
        OptimizerSpec(
            name="adagrad",
            description="per-parameter rates from the sum of squared gradients",
            torch_class="Adagrad",
            fields={"lr": _lr(0.01), "eps": (float, Field(1e-10, gt=0)), "weight_decay": _WD},
        ),
        OptimizerSpec(
            name="rmsprop",
            description="per-parameter rates from a moving average of squared gradients",
            torch_class="RMSprop",
            fields={
                "lr": _lr(0.01),
                "alpha": (float, Field(0.99, gt=0, lt=1, description="smoothing constant of the average")),
                "eps": _EPS,
                "momentum": (float, Field(0.0, ge=0, lt=1, description="momentum coefficient")),
                "centered": (
                    bool,
                    Field(False, description="normalize by the gradient's estimated variance"),
                ),
                "weight_decay": _WD,
            },
        ),
        OptimizerSpec(
            name="adam",
            description="Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8 as in Kingma & Ba)",
            torch_class="Adam",
            fused=True,
            stacked="adam",
            fields=_ADAM,
        ),
        OptimizerSpec(
            name="adamw",
            description="Adam with decoupled weight decay (Loshchilov & Hutter)",
            torch_class="AdamW",
            fused=True,
            stacked="adam",
            decoupled_decay=True,
            fields={**_ADAM, "weight_decay": (float, Field(0.01, ge=0, description="decoupled decay"))},
        ),
        OptimizerSpec(
            name="nadam", description="Adam with Nesterov momentum", torch_class="NAdam", fields=_ADAM
        ),
        OptimizerSpec(
            name="radam",
            description="Adam with a rectified adaptive rate (no warmup needed)",
            torch_class="RAdam",
            fields=_ADAM,
        ),
    ],
)


def optimizer_kwargs(params: OptionParams) -> dict[str, Any]:
    """The torch keywords of a configured optimizer: beta1/beta2 become torch's `betas` pair."""
    spec = OPTIMIZERS[params.name]
    kwargs = {k: v for k, v in params.model_dump().items() if k != "name"}
    if "beta1" in kwargs:
        kwargs["betas"] = (kwargs.pop("beta1"), kwargs.pop("beta2"))
    return {**kwargs, **spec.fixed}


def build_optimizer(params: OptionParams, groups: list[dict[str, Any]]):
    """A torch optimizer over parameter groups (the trainer splits decayed and undecayed tensors)."""
    import torch

    spec = OPTIMIZERS[params.name]
    fused = {"fused": True} if spec.fused else {}
    return getattr(torch.optim, spec.torch_class)(groups, **optimizer_kwargs(params), **fused)
