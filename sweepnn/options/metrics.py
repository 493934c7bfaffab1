"""The metrics a trial records each epoch; any of them can be an objective."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sweepnn.registry import Registry, Spec


@dataclass(frozen=True, kw_only=True)
class MetricSpec(Spec):
    """One recorded metric: its natural `direction` (an objective's default) and the task it exists
    for (`task`, None for every task)."""

    direction: Literal["maximize", "minimize"]
    task: Literal["classification", "regression"] | None = None  # None: recorded for every task


METRICS: Registry[MetricSpec] = Registry(
    "metric",
    [
        MetricSpec(
            name="val_accuracy",
            description="accuracy on the validation split",
            direction="maximize",
            task="classification",
        ),
        MetricSpec(name="val_loss", description="mean loss on the validation split", direction="minimize"),
        MetricSpec(
            name="train_accuracy",
            description="accuracy on the training batches of the epoch",
            direction="maximize",
            task="classification",
        ),
        MetricSpec(
            name="val_r2",
            description="R^2 on the validation split (1 is perfect, 0 is predicting the mean)",
            direction="maximize",
            task="regression",
        ),
        MetricSpec(
            name="train_r2",
            description="R^2 on the training batches of the epoch",
            direction="maximize",
            task="regression",
        ),
        MetricSpec(
            name="train_loss",
            description="mean loss on the training batches of the epoch",
            direction="minimize",
        ),
        MetricSpec(
            name="train_time",
            description="seconds of training so far (evaluation excluded)",
            direction="minimize",
        ),
    ],
)
