"""What a trained trial gives back: its outcome, metrics and curves. No torch here, so that the
commands that only read studies (list, compare, show) never import it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

# The study's record of its latest run's one-off start-up seconds: shown in summary.md, in no trial's time.
ATTR_STARTUP = "sweepnn:startup_s"
# Outcomes of a trial that trained to its end (its objective counts); the others stopped it early.
TRAINED = ("ok", "saturated", "stalled", "vanishing", "exploding", "overfitting")


@dataclass
class TrialResult:
    outcome: str  # ok | stalled | vanishing | overfitting (trained); diverged | pruned (stopped)
    metrics: dict[str, float]  # the final epoch's (the best epoch's, with early stopping's restore_best)
    history: list[dict[str, float]] = field(default_factory=list)  # every epoch's
    reason: str = ""
    model: torch.nn.Module | None = field(default=None, repr=False)  # the trained network
    repeats: list[dict[str, Any]] | None = None  # with search.repeats: each seed's final metrics
    metrics_std: dict[str, float] = field(default_factory=dict)  # ... and their spread over the seeds

    @property
    def epochs(self) -> int:
        return len(self.history)


def result_attrs(result: TrialResult) -> dict[str, Any]:
    """What a finished trial stores beside its value: outcome, reason, epochs and curves."""
    attrs = {
        "outcome": result.outcome,
        "reason": result.reason,
        "epochs": result.epochs,
        "metrics": result.metrics,
        "history": result.history,
    }
    if result.repeats is not None:
        attrs["repeats"] = result.repeats
        attrs["metrics_std"] = result.metrics_std
    return attrs


# ---- counting trials: the one place every command's counts come from ------------------------------


def state_of(t) -> str:
    """A stored trial's state as people read it: Optuna's, lowercase, with an attempt cut short by
    Ctrl-C or SIGTERM ('interrupted') and one whose worker died ('crashed') apart from failures."""
    outcome = t.user_attrs.get("outcome")
    if outcome in ("interrupted", "crashed"):
        return outcome
    return {"FAIL": "failed"}.get(t.state.name, t.state.name.lower())


def retried(trials) -> dict[int, int]:
    """Attempts that were trained again -> the trial that trained them again. Such an attempt is
    history, not a result: it stays in trials.csv, out of rankings and of every count."""
    return {t.user_attrs["retry_of"]: t.number for t in trials if t.user_attrs.get("retry_of") is not None}


def results_of(trials) -> list:
    """The trials that are results: without surplus ones (asked for once the budget was spent, never
    trained) and without attempts that were trained again."""
    trials = list(trials)
    again = retried(trials)
    return [t for t in trials if t.user_attrs.get("outcome") != "surplus" and t.number not in again]


def state_counts(trials) -> dict[str, int]:
    """Trials by state (see state_of), of the trials that are results."""
    out: dict[str, int] = {}
    for t in results_of(trials):
        out[state_of(t)] = out.get(state_of(t), 0) + 1
    return out


def outcome_counts(trials) -> dict[str, int]:
    """Trials by sweepnn's diagnosis (ok, stalled, ..., pruned, failed, interrupted), of the trials
    that are results."""
    out: dict[str, int] = {}
    for t in results_of(trials):
        outcome = t.user_attrs.get("outcome") or state_of(t)
        out[outcome] = out.get(outcome, 0) + 1
    return out
