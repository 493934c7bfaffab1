"""Normalization layers placed in each hidden block."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import Field

from sweepnn.registry import OptionParams, Registry, Spec


@dataclass(frozen=True, kw_only=True)
class NormSpec(Spec):
    """One normalization: the torch.nn class after a linear layer (`torch_class`, None for no layer) and after
    a convolution (`conv_class`, `conv_args`, `conv_kwargs`); `kwargs`: recipe name -> torch keyword."""

    torch_class: str | None  # None: no layer at all
    kwargs: Mapping[str, str] = field(default_factory=dict)  # recipe parameter -> torch keyword
    # After a convolution: the class ("{d}" is 1 or 2 spatial dimensions), its leading arguments
    # before the channel count, and its keywords (the same as `kwargs` when None).
    conv_class: str | None = None
    conv_args: tuple = ()
    conv_kwargs: Mapping[str, str] | None = None


_EPS = (float, Field(1e-5, gt=0, description="added to the variance for numerical stability"))
_AFFINE = (bool, Field(True, description="learn a per-feature scale gamma and shift beta"))

NORMS: Registry[NormSpec] = Registry(
    "norm",
    [
        NormSpec(name="none", description="no normalization", torch_class=None),
        NormSpec(
            name="batchnorm",
            description="normalize each feature over the batch; running statistics at evaluation",
            torch_class="BatchNorm1d",
            conv_class="BatchNorm{d}d",
            kwargs={"momentum": "momentum", "eps": "eps", "affine": "affine"},
            fields={
                "momentum": (
                    float,
                    Field(0.1, gt=0, le=1, description="update rate of the running statistics"),
                ),
                "eps": _EPS,
                "affine": _AFFINE,
            },
        ),
        NormSpec(
            name="layernorm",
            description="normalize each example over its features; same at training and evaluation",
            torch_class="LayerNorm",
            # over channels and positions of each example: GroupNorm with one group
            conv_class="GroupNorm",
            conv_args=(1,),
            conv_kwargs={"eps": "eps", "affine": "affine"},
            kwargs={"eps": "eps", "affine": "elementwise_affine"},
            fields={"eps": _EPS, "affine": _AFFINE},
        ),
    ],
)


def build_norm(params: OptionParams, width: int, spatial_dims: int = 0):
    """A torch normalization layer over `width` features (or channels, after a convolution over
    `spatial_dims` dimensions), or None for `none`."""
    from torch import nn

    spec = NORMS[params.name]
    if spec.torch_class is None:
        return None
    if spatial_dims == 0:
        kwargs = {spec.kwargs[k]: getattr(params, k) for k in spec.kwargs}
        return getattr(nn, spec.torch_class)(width, **kwargs)
    names = spec.conv_kwargs if spec.conv_kwargs is not None else spec.kwargs
    kwargs = {names[k]: getattr(params, k) for k in names}
    return getattr(nn, spec.conv_class.format(d=spatial_dims))(*spec.conv_args, width, **kwargs)
