"""Input normalization (the seeds' "normalization/standardization"), fitted on the training split.

Statistics come from the training examples only and are then applied unchanged to validation and
test data, so nothing about the held-out data leaks into training. Features are scaled one by one;
for images and multi-channel signals, one statistic per channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from sweepnn.registry import Registry, Spec

# fit(params, x_train, dims) -> (shift, scale) to apply as (x - shift) / scale; dims are the axes reduced
FitFn = Callable[[Any, Any, tuple[int, ...]], tuple[Any, Any]] | None


@dataclass(frozen=True, kw_only=True)
class ScalerSpec(Spec):
    """One input normalization: `fit(params, x_train, dims)` gives the (shift, scale) every split is mapped
    through as (x - shift) / scale; `fit` None: inputs as they are."""

    fit: FitFn


def _standardize(p, x, dims):
    return x.mean(dim=dims, keepdim=True), x.std(dim=dims, keepdim=True).clamp_min(p.eps)


def _minmax(p, x, dims):
    low, high = x.amin(dim=dims, keepdim=True), x.amax(dim=dims, keepdim=True)
    return low, (high - low).clamp_min(p.eps)


_EPS = (float, Field(1e-8, gt=0, description="floor of the scale, for constant features"))

SCALERS: Registry[ScalerSpec] = Registry(
    "normalize",
    [
        ScalerSpec(name="none", description="inputs as they are", fit=None),
        ScalerSpec(
            name="standardize",
            description="mean 0, standard deviation 1 per feature (per channel for images)",
            fit=_standardize,
            fields={"eps": _EPS},
        ),
        ScalerSpec(
            name="minmax",
            description="rescale each feature (channel) to [0, 1] on the training range",
            fit=_minmax,
            fields={"eps": _EPS},
        ),
    ],
)


def reduce_dims(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Axes a statistic is taken over: the examples for flat features; examples and positions for
    signals and images with channels ((N, C, L) or (N, C, H, W)), keeping one value per channel."""
    return (0,) if len(shape) <= 2 else (0, *range(2, len(shape)))
