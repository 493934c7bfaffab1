"""Networks a recipe beside this file names by import path (`model: {name: "nets:convnet"}`): sweepnn puts
the recipe's folder on the Python path, so this file needs no packaging.

Neither factory takes `activation`, `norm` or `init`: a recipe that sets them gets them by module
surgery (every nn.ReLU swapped for the chosen activation, every BatchNorm for the chosen norm, every
weight layer initialized by the chosen scheme), and the trial's record lists what was changed.
"""

from __future__ import annotations

import torch
from torch import nn


def mlp(depth: int = 4, width: int = 256, in_features: int = 40, num_classes: int = 10) -> nn.Module:
    """The built-in `mlp` written by hand: [linear, relu] x depth, linear (bench/own_model.py times it
    against `model: {name: mlp}`; the parameter shapes are the same)."""
    layers: list[nn.Module] = [nn.Flatten()]
    d = in_features
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    layers.append(nn.Linear(d, num_classes))
    return nn.Sequential(*layers)


class ConvNet(nn.Module):
    """1-D convolutions for signals: [conv, batchnorm, relu, maxpool] per block, global average pool,
    linear."""

    def __init__(self, channels: list[int], kernel: int, in_channels: int, num_classes: int):
        super().__init__()
        blocks: list[nn.Module] = []
        c = in_channels
        for out in channels:
            blocks += [
                nn.Conv1d(c, out, kernel, padding=kernel // 2),
                nn.BatchNorm1d(out),
                nn.ReLU(),
                nn.MaxPool1d(2),
            ]
            c = out
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # (batch, length): one channel
            x = x.unsqueeze(1)
        return self.head(self.features(x).mean(dim=-1))


def convnet(
    channels: list[int] = (16, 32),  # a tuple: never mutated; a recipe gives a list
    kernel: int = 5,
    in_channels: int = 1,
    num_classes: int = 10,
) -> nn.Module:
    """A small 1-D convnet for signals (conv, batchnorm, relu, maxpool per block)."""
    return ConvNet(list(channels), kernel, in_channels, num_classes)
