"""A study's speed columns: which targets its trials are timed to (the command's, the recipe's, or
fractions of the study's best) and each trial's epochs and seconds to them, its validation curve's
area, and `late_gain` (what the `slow` rule reads). The arithmetic is sweepnn.speed's and
sweepnn.outcomes'; this module picks the targets for a study and reads the trials' records.

With seed repeats a trial's curve is its first seed's (the one the pruner saw), so its speed is that
seed's; its objective is the mean over the seeds.
"""

from __future__ import annotations

import statistics
from typing import Any

from sweepnn import record, speed
from sweepnn.outcomes import late_gain
from sweepnn.recipe.config import Recipe

# The validation scores a trivial predictor has a value of (record.CHANCE): a default target is a
# share of the way from it to the best.
_SCORES = {"val_accuracy": "accuracy", "val_r2": "r2"}


def best_value(trials, metric: str, maximize: bool) -> float | None:
    """The best final value of `metric` among the trials that completed (their record's metrics)."""
    values = [
        v
        for t in record.results_of(trials)
        if t.state.name == "COMPLETE"
        for v in [(t.user_attrs.get(record.METRICS) or {}).get(metric)]
        if isinstance(v, int | float) and v == v
    ]
    if not values:
        return None
    return max(values) if maximize else min(values)


def chance_of(trials) -> float | None:
    """The trivial predictor's validation score the trials recorded (the median: one per data split)."""
    values = [t.user_attrs[record.CHANCE] for t in trials if t.user_attrs.get(record.CHANCE) is not None]
    return statistics.median(values) if values else None


def targets_for(trials, recipe: Recipe, given: dict[str, float] | None = None) -> list[speed.Target]:
    """The targets a study's trials are timed to: `given` (the command's), else the recipe's
    `search.target`, else DEFAULT_FRACTIONS of the way from a trivial predictor to the study's best on
    its first objective."""
    trials = list(trials)
    ways = recipe.search.maximized()
    given = given or recipe.search.target
    if given:
        return speed.given_targets(given, ways)
    metric = recipe.search.objectives[0].metric
    chance = chance_of(trials) if metric in _SCORES else None
    best = best_value(trials, metric, ways[metric])
    return speed.default_targets(metric, ways[metric], best, chance, speed.DEFAULT_FRACTIONS)


def shown_target(trials, recipe: Recipe, given: dict[str, float] | None = None) -> speed.Target | None:
    """The one target a table or chart times to, of targets_for's: the default SHOWN_FRACTION one, or
    of several given the first objective's, else the first; None when there is none (no trial
    completed to set a default from)."""
    targets = targets_for(trials, recipe, given)
    shown = speed.fraction_label(speed.SHOWN_FRACTION)
    first = recipe.search.objectives[0].metric
    return next(
        (t for t in targets if t.label == shown),
        next((t for t in targets if t.metric == first), targets[0] if targets else None),
    )


def speed_of(t, targets: list[speed.Target], recipe: Recipe) -> dict[str, Any]:
    """One trial's speed figures: the area under its first objective's curve (`auc`), epochs and
    seconds to each target (None: not reached) and `late_gain`."""
    history = t.user_attrs.get(record.HISTORY) or []
    metric = recipe.search.objectives[0].metric
    out: dict[str, Any] = speed.figures(history, targets, metric)
    last = history[-1] if history else {}
    score = next((s for m, s in _SCORES.items() if m in last), None)
    out["late_gain"] = late_gain(history, score, t.user_attrs.get(record.CHANCE)) if score else None
    return out


def columns(targets: list[speed.Target]) -> list[str]:
    """The speed columns of trials.csv, in order."""
    return ["auc", *(c for t in targets for c in t.columns), "late_gain"]
