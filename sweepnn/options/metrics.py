"""The metrics a trial records each epoch; any of them can be an objective."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sweepnn.registry import Registry, Spec


@dataclass(frozen=True, kw_only=True)
class MetricSpec(Spec):
    """One recorded metric: its natural `direction` (an objective's default) and the task it exists
    for (`task`, None for every task)."""

    direction: Literal["maximize", "minimize"]
    task: Literal["classification", "regression"] | None = None  # None: recorded for every task
    # compute(outputs, targets) -> the metric of the validation split, for a user's own metric; None:
    # the trainer records it itself (the built-ins)
    compute: Callable[[Any, Any], Any] | None = None


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


def named_metrics(recipe) -> list[str]:
    """The metrics a recipe names: its objectives, then early stopping's, then its targets'."""
    names = [o.metric for o in recipe.search.objectives]
    stopping = recipe.train.early_stopping
    names += [stopping.metric] if stopping is not None else []
    return list(dict.fromkeys(names + list(recipe.search.target or {})))


def own_metrics(recipe) -> list[str]:
    """The user's own metrics a recipe names: each trial computes them on its validation split."""
    return [m for m in named_metrics(recipe) if METRICS[m].compute is not None]


def recorded(recipe, task: str) -> list[str]:
    """The metrics a trial of this recipe records, in the registry's order: the built-ins of its task
    and those every task records, then the own metrics it names."""
    builtin = [n for n, spec in METRICS.builtins.items() if spec.task in (None, task)]
    return builtin + own_metrics(recipe)


def _own_metric(registry, name: str, fn: Any) -> MetricSpec:
    from sweepnn.errors import InputError
    from sweepnn.options.own import description_of

    label = f"metric {name!r}"
    if not callable(fn):
        raise InputError(f"{label} names {type(fn).__name__} {fn!r}, not a function")
    direction = getattr(fn, "direction", None)
    if direction not in ("maximize", "minimize"):
        raise InputError(
            f"{label}: say which way is better with an attribute, e.g. `{getattr(fn, '__name__', 'fn')}"
            f'.direction = "maximize"` (it has {direction!r})'
        )
    task = getattr(fn, "task", None)
    return MetricSpec(
        name=name,
        description=description_of(fn, f"your metric {name} on the validation split"),
        direction=direction,
        task=task,
        compute=fn,
    )


def _open() -> None:
    from sweepnn.options.own import open_family

    open_family(METRICS, "sweepnn.metrics", _own_metric)


_open()
