"""A residual MLP whose factory takes the recipe's `activation` and `norm` itself."""

from __future__ import annotations

from torch import nn


class Block(nn.Module):
    """x + f(x), f = linear, norm, activation, dropout, linear."""

    def __init__(self, width: int, activation, norm, dropout: float):
        super().__init__()
        self.f = nn.Sequential(
            nn.Linear(width, width),
            norm(width),
            activation(),
            nn.Dropout(dropout),
            nn.Linear(width, width),
        )

    def forward(self, x):
        return x + self.f(x)


def resmlp(
    depth: int = 2,
    width: int = 64,
    dropout: float = 0.0,
    activation=nn.ReLU,
    norm=nn.BatchNorm1d,
    in_features: int = 1,
    num_classes: int = 2,
) -> nn.Module:
    """A residual MLP: a linear stem, `depth` residual blocks, a linear head.

    sweepnn passes `in_features` and `num_classes` from the data, and `activation` and `norm` as the
    recipe's options (called like torch classes: `activation()`, `norm(width)`); the defaults here
    (ReLU, BatchNorm1d) are what a recipe that leaves them out gets.
    """
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_features, width),
        *(Block(width, activation, norm, dropout) for _ in range(depth)),
        activation(),
        nn.Linear(width, num_classes),
    )
