"""What a tracker writes of one finished trial, read from what the study stored of it (sweepnn.record):
plain values, so that no tracker reads Optuna's trial or sweepnn's record names itself."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sweepnn import record
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.space import apply
from sweepnn.recipe.variants import to_yaml
from sweepnn.results.values import params_of

OBJECTIVE = "objective/"  # + a metric: the trial's value of that objective, logged at its last epoch

# Sections of a trial's configuration that are the study's, not the trial's: the recipe artifact
# holds them, and a tracker's parameter table would repeat them on every run.
_NOT_SETTINGS = ("name", "description", "code", "search")


@dataclass(frozen=True)
class TrialRun:
    """One finished trial as the trackers write it."""

    study: str
    number: int
    key: str  # its start time to the second: what tells this attempt from an older study's trial N
    state: str  # complete, pruned, failed, interrupted, crashed (sweepnn.record.state_of)
    outcome: str  # sweepnn's diagnosis (ok, stalled, diverged, ...), or the state when it has none
    reason: str
    params: dict[str, Any]  # the searched paths and the values this trial took
    history: list[tuple[int, dict[str, float]]]  # (epoch, that epoch's numeric metrics), in order
    recipe_yaml: str  # the study's recipe, as results/<study>/recipe.yaml holds it
    # the trial's value of each objective, as "objective/<metric>": with seed repeats the mean over its
    # seeds, where the history is the first seed's curve alone
    values: dict[str, float] = field(default_factory=dict)
    started: datetime | None = None
    finished: datetime | None = None
    settings: dict[str, str] = field(default_factory=dict)  # the trial's whole configuration, dotted

    @property
    def last_epoch(self) -> int:
        """The step the trial's values are logged at: its last epoch (0 when it recorded none)."""
        return self.history[-1][0] if self.history else 0

    @property
    def metric_names(self) -> list[str]:
        """Every metric some epoch recorded, in the order they first appear."""
        return list(dict.fromkeys(k for _, metrics in self.history for k in metrics))


def trial_run(trial: Any, recipe: Recipe) -> TrialRun:
    """A stored trial (Optuna's FrozenTrial, or anything with its attributes) of `recipe`'s study."""
    attrs = trial.user_attrs
    params = params_of(trial, exact=True)  # as it trained
    history = [
        (int(h.get("epoch", i + 1)), numeric(h, leave_out=("epoch",)))
        for i, h in enumerate(attrs.get(record.HISTORY) or [])
    ]
    state = record.state_of(trial)
    start = trial.datetime_start
    return TrialRun(
        study=recipe.name,
        number=trial.number,
        key=key_of(trial),
        state=state,
        outcome=attrs.get(record.OUTCOME) or state,
        reason=attrs.get(record.REASON, ""),
        params=params,
        history=history,
        values={
            f"{OBJECTIVE}{o.metric}": float(v)
            for o, v in zip(recipe.search.objectives, trial.values or [], strict=False)
        },
        recipe_yaml=to_yaml(
            recipe, f"# the recipe of study '{recipe.name}'; this trial's values are its params"
        ),
        started=start,
        finished=trial.datetime_complete,
        settings=settings(recipe, params),
    )


def key_of(trial: Any) -> str:
    """What tells this attempt from another study's trial of the same number: its start, to the second
    (a database may keep no finer time than that)."""
    start = trial.datetime_start
    return start.strftime("%Y-%m-%dT%H:%M:%S") if start else ""


def numeric(metrics: dict[str, Any], leave_out: tuple[str, ...] = ()) -> dict[str, float]:
    """The metrics that are numbers (NaN and infinities kept: a diverged run's loss is one); lists
    (each layer's gradient norm) and texts are not a scalar a tracker can chart."""
    return {
        k: float(v)
        for k, v in metrics.items()
        if k not in leave_out and isinstance(v, int | float) and not isinstance(v, bool)
    }


def settings(recipe: Recipe, params: dict[str, Any]) -> dict[str, str]:
    """The trial's whole configuration (the recipe with its values applied) as dotted path -> text;
    empty when the stored values no longer apply to the recipe (read from an older sweepnn)."""
    try:
        config = apply(recipe, params).model_dump(mode="json", exclude_none=True)
    except Exception:  # a tracker's extra columns are never worth stopping a sweep for
        return {}
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out[prefix] = value if isinstance(value, str) else json.dumps(value)

    for section, value in config.items():
        if section not in _NOT_SETTINGS:
            walk(section, value)
    return out
