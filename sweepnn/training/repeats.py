"""Seed repeats: one sampled configuration trained with k seeds, so noise can be told from effect.

With `search.repeats: k` a trial trains its configuration with seeds seed, seed+1, ..., seed+k-1 (the
initialization, dropout and batch order change; the data split does not). Its objective is the mean
over the seeds; each seed's final metrics are kept, so tables can show mean ± std and a comparison
can put a confidence interval on a value's best trial.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from sweepnn.recipe.config import Recipe
from sweepnn.record import TRAINED
from sweepnn.training.result import TrialResult

if TYPE_CHECKING:  # torch only where training is: the tables import `outcome_over_seeds` without it
    import torch

    from sweepnn.training.data import Data
    from sweepnn.training.trainer import Report


def train_repeats(
    cfg: Recipe,
    device: torch.device,
    report: Report | None,
    data: Data | None,
    later: Callable[[int], Report] | None = None,
) -> TrialResult:
    """The configuration trained once per seed; a trial pruned on its first seed stops there.
    `later(r)`: the r-th seed's (r >= 1) progress, which is shown and never pruned on.

    Only the first seed reports to the pruner: the others run to the end, since a pruner compares a
    trial's curve against earlier trials' and one curve per trial is what it knows. A seed that
    diverges does not stop the others: how many seeds diverge is what tells a configuration on the
    edge ('diverged 1/3') from one past it ('diverged 3/3'). Such a configuration has no score.
    """
    import torch

    from sweepnn.training.trainer import train

    k = cfg.search.repeats
    runs: list[TrialResult] = []
    for r in range(k):
        seeded = cfg.model_copy(update={"train": cfg.train.model_copy(update={"seed": cfg.train.seed + r})})
        heard = report if r == 0 else later(r) if later is not None else None
        result = train(seeded, device, heard, data=data)
        runs.append(result)
        if result.outcome == "pruned":  # the pruner stopped the trial: no more seeds
            result.reason = f"seed {cfg.train.seed + r}: {result.reason}" if k > 1 else result.reason
            result.repeats = [_final(run, cfg.train.seed + i) for i, run in enumerate(runs)]
            return result
    repeats = [_final(run, cfg.train.seed + i) for i, run in enumerate(runs)]
    outcome, reason = over_seeds(runs, cfg.train.seed)
    if outcome == "diverged":
        broke = next(run for run in runs if run.outcome == "diverged")
        return TrialResult(
            "diverged", broke.metrics, broke.history, reason, repeats=repeats, chance=broke.chance
        )
    first = runs[0]
    keys = [key for key, v in first.metrics.items() if isinstance(v, (int, float))]
    mean = {key: statistics.fmean(run.metrics[key] for run in runs) for key in keys}
    std = {key: statistics.stdev(run.metrics[key] for run in runs) for key in keys} if k > 1 else {}
    models = torch.nn.ModuleList([run.model for run in runs]) if k > 1 else first.model
    if k > 1 and getattr(first.model, "sweepnn_changes", None):  # every seed's network is built alike
        models.sweepnn_changes = first.model.sweepnn_changes
    return TrialResult(
        outcome=outcome,
        metrics={**first.metrics, **mean},
        history=first.history,  # the first seed's curve: the one the pruner saw
        reason=reason,
        # every seed's network, in seed order, so each is scored on the test split (sweepnn.training.holdout)
        model=models,
        repeats=repeats,
        metrics_std=std,
        chance=first.chance,
    )


def over_seeds(runs: list[TrialResult], seed: int) -> tuple[str, str]:
    """The outcome of a configuration over its seeds: `diverged` if any seed diverged (it has no
    score), else the one most seeds had (of equals, the first seed's in order), with a reason that
    says how many and where the seeds disagree: 'vanishing 2/3 (ok 1/3); seed 6: ...'."""
    counts = Counter(run.outcome for run in runs)
    outcome = max(counts, key=lambda o: counts[o])  # Counter keeps first-seen order among equals
    if "diverged" in counts:
        outcome = "diverged"
    if len(runs) == 1:
        return outcome, runs[0].reason
    k = len(runs)
    others = ", ".join(f"{o} {n}/{k}" for o, n in counts.items() if o != outcome)
    said = f"{outcome} {counts[outcome]}/{k}" + (f" ({others})" if others else "")
    why = next(
        (
            f"seed {seed + i}: {run.reason}"
            for i, run in enumerate(runs)
            if run.outcome == outcome and run.reason
        ),
        "",
    )
    return outcome, f"{said}; {why}" if why else said


def outcome_over_seeds(repeats: list[dict] | None, outcome: str, against_study: bool = False) -> str:
    """A repeated trial's outcome as shown beside its mean ± std: 'vanishing 2/3'; one the study
    named (sweepnn.record.judged) with what the seeds said: 'dead (seeds: ok 3/3)'. A trial without
    repeats, or stopped by the pruner, shows its outcome alone."""
    if not repeats or len(repeats) < 2 or outcome not in (*TRAINED, "diverged"):
        return outcome
    k = len(repeats)
    if against_study:
        counts = Counter(r.get("outcome") for r in repeats)
        return f"{outcome} (seeds: {', '.join(f'{o} {n}/{k}' for o, n in counts.items())})"
    n = sum(r.get("outcome") == outcome for r in repeats)
    return f"{outcome} {n}/{k}"


def _final(result: TrialResult, seed: int) -> dict[str, float]:
    numbers = {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}
    return {"seed": seed, **numbers, "outcome": result.outcome}
