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
from sweepnn.options.resnet import RESNET_FIELDS, build_resnet, check_resnet, conv_input, torch_layer
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
Kernel = Annotated[int, Field(ge=1, le=15)]
Stride = Annotated[int, Field(ge=1, le=15)]
Padding = Annotated[int, Field(ge=0, le=7)]
Pool = Literal["max", "avg", "none"]


def hidden_widths(p) -> list[int]:
    """Units of each hidden layer of an MLP: the recipe's `widths`, else `width` repeated `depth` times (an
    empty list for depth 0, a linear model)."""
    return list(p.widths) if p.widths is not None else [p.width] * p.depth


def _check_mlp(p) -> None:
    if p.widths is not None and not p.widths:
        raise ValueError("widths is empty; leave it out and use depth: 0 for a linear model")
    if isinstance(p.dropout, list) and len(p.dropout) != len(hidden_widths(p)):
        raise ValueError(f"dropout lists {len(p.dropout)} rates for {len(hidden_widths(p))} hidden layers")


# The cnn's per-block fields, each one value for every block or a list of one per block, and what a
# wrong-length list is said to list.
CNN_PER_BLOCK = {
    "kernel": "sizes",
    "stride": "strides",
    "padding": "paddings",
    "pool": "poolings",
    "dropout": "rates",
}


def _check_cnn(p) -> None:
    if not p.channels:
        raise ValueError("channels is empty; give at least one convolution block")
    for key, what in CNN_PER_BLOCK.items():
        value = getattr(p, key)
        if isinstance(value, list) and len(value) != len(p.channels):
            raise ValueError(f"{key} lists {len(value)} {what} for {len(p.channels)} conv blocks")


# ---- building the networks (torch is imported inside: a recipe loads without it) ----------------


def per_block(value: Any, blocks: int) -> list[Any]:
    """One value (a dropout rate, a kernel size) for every block, or the recipe's list of one per block."""
    return list(value) if isinstance(value, list) else [value] * blocks


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


def _gap_head(dims: int, channels: int, sizes: list[int], n_out: int) -> list[nn.Module]:
    from torch import nn

    return [torch_layer("AdaptiveAvgPool", dims)(1), nn.Flatten(), nn.Linear(channels, n_out)]


def _flatten_head(dims: int, channels: int, sizes: list[int], n_out: int) -> list[nn.Module]:
    from torch import nn

    return [nn.Flatten(), nn.Linear(channels * math.prod(sizes), n_out)]


# The cnn's head: (spatial dims, channels and sizes of the last feature map, outputs) -> its layers.
HEADS: dict[str, Callable[[int, int, list[int], int], list[Any]]] = {
    "gap": _gap_head,
    "flatten": _flatten_head,
}
POOL_LAYERS = {"max": "MaxPool", "avg": "AvgPool", "none": None}  # torch_layer kinds


def build_cnn(p, input_shape: tuple[int, ...], n_out: int) -> nn.Module:
    """Conv blocks then a head: global average pooling or the flattened feature map, and a linear layer.

    Input (L,) is a 1-D signal with one channel; (C, L) a 1-D signal with C channels; (C, H, W) an
    image. Padding is kernel // 2 unless given (the size kept by odd kernels at stride 1); pooling
    halves each spatial size while the smallest is at least 2.
    """
    from torch import nn

    shape, dims = conv_input(input_shape, "cnn")
    layers: list[nn.Module] = [nn.Unflatten(1, shape)] if len(input_shape) == 1 else []
    c_in, sizes = shape[0], list(shape[1:])
    blocks = zip(p.channels, *(per_block(getattr(p, k), len(p.channels)) for k in CNN_PER_BLOCK), strict=True)
    for i, (c_out, kernel, stride, padding, pool, rate) in enumerate(blocks):
        padding = kernel // 2 if padding is None else padding
        if min(sizes) + 2 * padding < kernel:  # torch would say so only in a trial's first forward pass
            raise ValueError(
                f"cnn block {i + 1}: kernel {kernel} with padding {padding} does not fit its input of"
                f" size {' x '.join(map(str, sizes))}"
            )
        layers.append(torch_layer("Conv", dims)(c_in, c_out, kernel, stride=stride, padding=padding))
        sizes = [(n + 2 * padding - kernel) // stride + 1 for n in sizes]
        norm, act = build_norm(p.norm, c_out, dims), build_activation(p.activation)
        block = [norm, act] if p.norm_position == "before" else [act, norm]
        layers += [m for m in block if m is not None]
        if POOL_LAYERS[pool] is not None and min(sizes) >= 2:
            layers.append(torch_layer(POOL_LAYERS[pool], dims)(2))
            sizes = [n // 2 for n in sizes]
        if rate > 0:
            layers.append(nn.Dropout(rate))
        c_in = c_out
    layers += HEADS[p.head](dims, c_in, sizes, n_out)
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
            " average pool or flatten, linear; 1-D for signals, 2-D for images",
            build=build_cnn,
            check=_check_cnn,
            fields={
                "channels": (
                    list[Units],
                    Field([32, 64], max_length=LAYERS_MAX, description="output channels of each conv block"),
                ),
                "kernel": (
                    Kernel | list[Kernel],
                    Field(3, description="kernel size (odd keeps the length), or one per block"),
                ),
                "stride": (
                    Stride | list[Stride],
                    Field(1, description="convolution stride (2 halves the size), or one per block"),
                ),
                "padding": (
                    Padding | list[Padding] | None,
                    Field(
                        None, description="zeros added at each end, or one per block; kernel // 2 if left out"
                    ),
                ),
                "pool": (
                    Pool | list[Pool],
                    Field("max", description="2x pooling after each block, or one choice per block"),
                ),
                "head": (
                    Literal[tuple(HEADS)],
                    Field(
                        "gap",
                        description="gap: global average pooling; flatten: the last feature map flattened,"
                        " both into the linear layer",
                    ),
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
        ModelSpec(
            name="resnet",
            description="CIFAR residual network (He et al. 2016): 3 stages of basic blocks, depth 6n+2,"
            " widths w, 2w, 4w, global average pool, linear; 1-D for signals, 2-D for images",
            build=build_resnet,
            check=check_resnet,
            fields=RESNET_FIELDS,
        ),
    ],
)
