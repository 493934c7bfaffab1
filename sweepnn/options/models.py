"""Network architectures. An entry's fields are the architecture's knobs; `build` makes the module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from sweepnn.options.activations import ACTIVATIONS
from sweepnn.options.inits import INITS
from sweepnn.options.norms import NORMS
from sweepnn.registry import Registry, Spec


@dataclass(frozen=True, kw_only=True)
class ModelSpec(Spec):
    build: Callable[[Any, tuple[int, ...], int], Any]  # (params, input shape, outputs) -> nn.Module


Rate = Annotated[float, Field(ge=0, lt=1)]
# Units of one layer, channels of one block: torch refuses a negative size only when the net is built,
# in a trial; so the bound of `width` holds for each entry of a list too, and a list has at most as
# many entries as `depth` allows layers.
Units = Annotated[int, Field(ge=1, le=65536)]
LAYERS_MAX = 64


def hidden_widths(p) -> list[int]:
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


def _cnn(params, input_shape, n_out):
    from sweepnn.nets import build_cnn

    return build_cnn(params, input_shape, n_out)


def _mlp(params, input_shape, n_out):
    from sweepnn.nets import build_mlp

    return build_mlp(params, input_shape, n_out)


MODELS: Registry[ModelSpec] = Registry(
    "model",
    [
        ModelSpec(
            name="mlp",
            description="fully connected network: [linear, norm, activation, dropout] x depth, linear",
            build=_mlp,
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
            build=_cnn,
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
