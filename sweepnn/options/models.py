"""Network architectures: an entry's fields are the architecture's knobs, and its builder (below, beside
it) makes the module and initializes it by the chosen scheme."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from sweepnn.options.activations import ACTIVATIONS, activation_gain, build_activation
from sweepnn.options.inits import INITS
from sweepnn.options.layers import initialize
from sweepnn.options.norms import NORMS, build_norm
from sweepnn.registry import Registry, Spec

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True, kw_only=True)
class ModelSpec(Spec):
    """One architecture: `build(params, input shape, outputs)` makes the torch module, initialized; `stacked`
    says whether same-shaped trials can train together as one network."""

    build: Callable[[Any, tuple[int, ...], int], Any]  # (params, input shape, outputs) -> nn.Module
    # has a stacked form (sweepnn.training.stacked.nets): K same-shaped trials train as one network
    stacked: bool = False


Rate = Annotated[float, Field(ge=0, lt=1)]
# Units of one layer, channels of one block: torch refuses a negative size only when the net is built,
# in a trial; so the bound of `width` holds for each entry of a list too, and a list has at most as
# many entries as `depth` allows layers.
Units = Annotated[int, Field(ge=1, le=65536)]
LAYERS_MAX = 64


def hidden_widths(p) -> list[int]:
    """Units of each hidden layer of an MLP: the recipe's `widths`, else `width` repeated `depth` times (an
    empty list for depth 0, a linear model)."""
    return list(p.widths) if p.widths is not None else [p.width] * p.depth


def _check_mlp(p) -> None:
    if p.widths is not None and not p.widths:
        raise ValueError("widths is empty; leave it out and use depth: 0 for a linear model")
    if isinstance(p.dropout, list) and len(p.dropout) != len(hidden_widths(p)):
        raise ValueError(f"dropout lists {len(p.dropout)} rates for {len(hidden_widths(p))} hidden layers")


def _check_cnn(p) -> None:
    if not p.channels:
        raise ValueError("channels is empty; give at least one convolution block")
    if isinstance(p.dropout, list) and len(p.dropout) != len(p.channels):
        raise ValueError(f"dropout lists {len(p.dropout)} rates for {len(p.channels)} conv blocks")


# ---- building the networks (torch is imported inside: a recipe loads without it) ----------------


def per_block(rate: float | list[float], blocks: int) -> list[float]:
    """One dropout rate for every block, or the recipe's list of one rate per block."""
    return list(rate) if isinstance(rate, list) else [rate] * blocks


def build_mlp(p, input_shape: tuple[int, ...], n_out: int) -> nn.Module:
    """[linear, norm, activation, dropout] per hidden layer (norm after the activation if asked)."""
    from torch import nn

    widths = hidden_widths(p)
    rates = per_block(p.dropout, len(widths))
    layers: list[nn.Module] = [nn.Flatten()]
    d = math.prod(input_shape)
    for w, rate in zip(widths, rates, strict=True):
        layers.append(nn.Linear(d, w))
        norm, act = build_norm(p.norm, w), build_activation(p.activation)
        block = [norm, act] if p.norm_position == "before" else [act, norm]
        layers += [m for m in block if m is not None]
        if rate > 0:
            layers.append(nn.Dropout(rate))
        d = w
    layers.append(nn.Linear(d, n_out))
    model = nn.Sequential(*layers)
    initialize(model, p.init, activation_gain(p.activation))
    return model


def build_cnn(p, input_shape: tuple[int, ...], n_out: int) -> nn.Module:
    """Conv blocks then global average pooling and a linear head.

    Input (L,) is a 1-D signal with one channel; (C, L) a 1-D signal with C channels; (C, H, W) an
    image. Pooling halves each spatial size while it is at least 2.
    """
    from torch import nn

    shape = (1, *input_shape) if len(input_shape) == 1 else tuple(input_shape)
    dims = len(shape) - 1
    if dims not in (1, 2):
        raise ValueError(
            f"cnn takes signals (L or C x L) or images (C x H x W), not inputs of shape {input_shape}"
        )
    conv = nn.Conv1d if dims == 1 else nn.Conv2d
    pool = {
        "max": nn.MaxPool1d if dims == 1 else nn.MaxPool2d,
        "avg": nn.AvgPool1d if dims == 1 else nn.AvgPool2d,
    }.get(p.pool)
    layers: list[nn.Module] = [nn.Unflatten(1, shape)] if len(input_shape) == 1 else []
    c_in, size = shape[0], min(shape[1:])
    for c_out, rate in zip(p.channels, per_block(p.dropout, len(p.channels)), strict=True):
        layers.append(conv(c_in, c_out, p.kernel, padding=p.kernel // 2))
        norm, act = build_norm(p.norm, c_out, dims), build_activation(p.activation)
        block = [norm, act] if p.norm_position == "before" else [act, norm]
        layers += [m for m in block if m is not None]
        if pool is not None and size >= 2:
            layers.append(pool(2))
            size //= 2
        if rate > 0:
            layers.append(nn.Dropout(rate))
        c_in = c_out
    pooled = nn.AdaptiveAvgPool1d(1) if dims == 1 else nn.AdaptiveAvgPool2d(1)
    layers += [pooled, nn.Flatten(), nn.Linear(c_in, n_out)]
    model = nn.Sequential(*layers)
    initialize(model, p.init, activation_gain(p.activation))
    return model


MODELS: Registry[ModelSpec] = Registry(
    "model",
    [
        ModelSpec(
            name="mlp",
            description="fully connected network: [linear, norm, activation, dropout] x depth, linear",
            build=build_mlp,
            stacked=True,
            check=_check_mlp,
            fields={
                "depth": (int, Field(2, ge=0, le=LAYERS_MAX, description="hidden layers")),
                "width": (int, Field(128, ge=1, le=65536, description="units per hidden layer")),
                "widths": (
                    list[Units] | None,
                    Field(
                        None,
                        max_length=LAYERS_MAX,
                        description="units per hidden layer, overrides depth/width",
                    ),
                ),
                "activation": (ACTIVATIONS.type_for("relu"), ACTIVATIONS.default("relu")),
                "norm": (NORMS.type_for("none"), NORMS.default("none")),
                "norm_position": (
                    Literal["before", "after"],
                    Field("before", description="normalize before or after the activation"),
                ),
                "dropout": (
                    Rate | list[Rate],
                    Field(0.0, description="dropout rate after each hidden block, or one rate per block"),
                ),
                "init": (INITS.type_for("he_normal"), INITS.default("he_normal")),
            },
        ),
        ModelSpec(
            name="cnn",
            description="small convnet: [conv, norm, activation, pool, dropout] per block, global"
            " average pool, linear; 1-D for signals, 2-D for images",
            build=build_cnn,
            check=_check_cnn,
            fields={
                "channels": (
                    list[Units],
                    Field([32, 64], max_length=LAYERS_MAX, description="output channels of each conv block"),
                ),
                "kernel": (int, Field(3, ge=1, le=15, description="kernel size (odd keeps the length)")),
                "pool": (
                    Literal["max", "avg", "none"],
                    Field("max", description="2x pooling after each block"),
                ),
                "activation": (ACTIVATIONS.type_for("relu"), ACTIVATIONS.default("relu")),
                "norm": (NORMS.type_for("batchnorm"), NORMS.default("batchnorm")),
                "norm_position": (
                    Literal["before", "after"],
                    Field("before", description="normalize before or after the activation"),
                ),
                "dropout": (
                    Rate | list[Rate],
                    Field(0.0, description="dropout rate after each conv block, or one rate per block"),
                ),
                "init": (INITS.type_for("he_normal"), INITS.default("he_normal")),
            },
        ),
    ],
)
