"""Loss functions, and the task each serves. By default a recipe takes its dataset's task's loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from sweepnn.registry import Registry, Spec

Task = Literal["classification", "regression"]
# fn(params, outputs, targets, label_smoothing) -> mean loss over the batch
LossFn = Callable[[Any, Any, Any, float], Any]


@dataclass(frozen=True, kw_only=True)
class LossSpec(Spec):
    task: Task
    fn: LossFn


def _cross_entropy(p, out, y, smoothing):
    import torch.nn.functional as F

    return F.cross_entropy(out, y, label_smoothing=smoothing)


def _mse(p, out, y, smoothing):
    import torch.nn.functional as F

    return F.mse_loss(out, y)


def _huber(p, out, y, smoothing):
    import torch.nn.functional as F

    return F.huber_loss(out, y, delta=p.delta)


LOSSES: Registry[LossSpec] = Registry(
    "loss",
    [
        LossSpec(
            name="cross_entropy",
            description="softmax cross-entropy (classification)",
            task="classification",
            fn=_cross_entropy,
        ),
        LossSpec(name="mse", description="mean squared error (regression)", task="regression", fn=_mse),
        LossSpec(
            name="huber",
            description="squared below delta, linear above: robust to outliers (regression)",
            task="regression",
            fn=_huber,
            fields={"delta": (float, Field(1.0, gt=0, description="where squared turns linear"))},
        ),
    ],
)

DEFAULT_LOSS: dict[str, str] = {"classification": "cross_entropy", "regression": "mse"}
