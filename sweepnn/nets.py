"""Building networks from their configuration, and initializing them by the chosen scheme."""

from __future__ import annotations

import math

import torch
from torch import nn

from sweepnn.options.activations import activation_gain, build_activation
from sweepnn.options.inits import INITS
from sweepnn.options.models import hidden_widths
from sweepnn.options.norms import build_norm


def per_block(rate: float | list[float], blocks: int) -> list[float]:
    """One dropout rate for every block, or the recipe's list of one rate per block."""
    return list(rate) if isinstance(rate, list) else [rate] * blocks


def build_mlp(p, input_shape: tuple[int, ...], n_out: int) -> nn.Module:
    """[linear, norm, activation, dropout] per hidden layer (norm after the activation if asked)."""
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


@torch.no_grad()
def initialize(model: nn.Module, init, gain: tuple[str, float]) -> None:
    """Weights by the scheme; biases zero; normalization scale 1 and shift 0, whatever the scheme."""
    apply = INITS[init.name].apply
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            apply(m.weight, init, gain)
            if m.bias is not None:
                m.bias.zero_()
        elif (
            isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm))
            and m.weight is not None
        ):
            m.weight.fill_(1.0)
            m.bias.zero_()
