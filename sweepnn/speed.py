"""How fast, not only how far: the epochs and seconds a run took to reach a target on a metric, and
the area under its validation curve. Read from a trial's history (every epoch's metrics, with
`train_time`, the seconds of training up to the end of that epoch), so they cost nothing while a
sweep trains and any target can be asked of a finished study.

The target is the recipe's (`search.target: {val_accuracy: 0.9}`), the command's (`sweepnn compare
--target val_accuracy=0.9`), or by default fractions of the way from a trivial predictor to the
study's best (DEFAULT_FRACTIONS): MLCommons AlgoPerf times training to a fixed target, DeepOBS counts
the epochs to a convergence level; a fraction of the study's best is the target every study has.

No torch, no pandas, no Optuna: the figures here are plain arithmetic on a list of dicts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# The default targets: this share of the way from a trivial predictor's score to the study's best.
DEFAULT_FRACTIONS = (0.5, 0.9)
SHOWN_FRACTION = 0.9  # the one the ranked tables show (trials.csv has every target's columns)


@dataclass(frozen=True)
class Target:
    """A value of `metric` a run is timed to: reached at the first epoch whose value is at least it
    (maximize) or at most it (minimize). `label` names its columns: epochs_to_<label>."""

    metric: str
    value: float
    maximize: bool
    label: str

    @property
    def columns(self) -> tuple[str, str]:
        """(epochs, seconds) column names of this target in trials.csv and the tables."""
        return f"epochs_to_{self.label}", f"seconds_to_{self.label}"

    def describe(self) -> str:
        """The target in words, as a table's header says it: val_accuracy >= 0.9."""
        return f"{self.metric} {'>=' if self.maximize else '<='} {self.value:.4g}"

    def met(self, value: float) -> bool:
        return value >= self.value if self.maximize else value <= self.value


def finite(v) -> bool:
    """A real number a figure can be read from: not a bool, not NaN or infinite, not missing."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def reach(history: Sequence[dict], target: Target) -> tuple[int, float] | None:
    """(epoch, seconds) of the first epoch whose `target.metric` meets the target, its seconds the
    training time up to that epoch's end; None when no epoch did."""
    for h in history:
        v = h.get(target.metric)
        if finite(v) and target.met(v):
            return int(h["epoch"]), float(h.get("train_time", math.nan))
    return None


def auc(history: Sequence[dict], metric: str) -> float | None:
    """The area under the curve of `metric` over the epochs trained, per epoch: the mean of its
    epochs' values (a run that gets there sooner has more of its epochs high). None without a value."""
    values = [h[metric] for h in history if finite(h.get(metric))]
    return sum(values) / len(values) if values else None


def fraction_label(fraction: float) -> str:
    """0.9 -> '90%': a default target's name in its columns."""
    return f"{fraction * 100:g}%"


def default_targets(
    metric: str, maximize: bool, best: float | None, chance: float | None, fractions: Iterable[float]
) -> list[Target]:
    """Targets at `fractions` of the way from `chance` (a trivial predictor's score, when the metric
    has one: the validation accuracy of the commonest class, R^2 of 0) to the study's `best`; for a
    metric without one, the fraction of the best itself (maximize) or the best over it (minimize)."""
    if best is None or not finite(best):
        return []
    out = []
    for f in fractions:
        if chance is not None and finite(chance):
            value = chance + f * (best - chance)
        else:
            value = best * f if maximize else best / f
        out.append(Target(metric, value, maximize, fraction_label(f)))
    return out


def given_targets(given: dict[str, float], directions: dict[str, bool]) -> list[Target]:
    """The recipe's or the command's targets ({metric: value}); `directions` says which metrics are
    maximized. One target is named `target` (epochs_to_target), several by their metric."""
    label = (lambda m: "target") if len(given) == 1 else (lambda m: m)
    return [Target(m, float(v), directions[m], label(m)) for m, v in given.items()]


def figures(history: Sequence[dict], targets: Iterable[Target], metric: str) -> dict[str, float | None]:
    """A run's speed figures: `auc` of `metric` and, per target, the epochs and seconds to it (None
    where it was not reached)."""
    out: dict[str, float | None] = {"auc": auc(history, metric)}
    for t in targets:
        got = reach(history, t)
        epochs, seconds = t.columns
        out[epochs], out[seconds] = got if got else (None, None)
    return out
