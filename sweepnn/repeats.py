"""Seed repeats: one sampled configuration trained with k seeds, so noise can be told from effect.

With `search.repeats: k` a trial trains its configuration with seeds seed, seed+1, ..., seed+k-1 (the
initialization, dropout and batch order change; the data split does not). Its objective is the mean
over the seeds; each seed's final metrics are kept, so tables can show mean ± std and a comparison
can put a confidence interval on a value's best trial.
"""

from __future__ import annotations

import statistics

import torch

from sweepnn.config import Recipe
from sweepnn.data import Data
from sweepnn.trainer import TRAINED, Report, TrialResult, train


def train_repeats(cfg: Recipe, device: torch.device, report: Report | None, data: Data | None) -> TrialResult:
    """The configuration trained once per seed; a trial that is pruned or diverges for one seed stops.

    Only the first seed reports to the pruner: the others run to the end, since a pruner compares a
    trial's curve against earlier trials' and one curve per trial is what it knows.
    """
    k = cfg.search.repeats
    runs: list[TrialResult] = []
    for r in range(k):
        seeded = cfg.model_copy(update={"train": cfg.train.model_copy(update={"seed": cfg.train.seed + r})})
        result = train(seeded, device, report if r == 0 else None, data=data)
        runs.append(result)
        if result.outcome not in TRAINED:  # pruned, or diverged with this seed: the trial stops here
            result.reason = f"seed {cfg.train.seed + r}: {result.reason}" if k > 1 else result.reason
            result.repeats = [_final(run, cfg.train.seed + i) for i, run in enumerate(runs)]
            return result
    first = runs[0]
    keys = [key for key, v in first.metrics.items() if isinstance(v, (int, float))]
    mean = {key: statistics.fmean(run.metrics[key] for run in runs) for key in keys}
    std = {key: statistics.stdev(run.metrics[key] for run in runs) for key in keys} if k > 1 else {}
    return TrialResult(
        outcome=first.outcome,  # the diagnosis of the first seed's run: its curve is the one shown
        metrics={**first.metrics, **mean},
        history=first.history,
        reason=first.reason,
        model=first.model,
        repeats=[_final(run, cfg.train.seed + i) for i, run in enumerate(runs)],
        metrics_std=std,
    )


def _final(result: TrialResult, seed: int) -> dict[str, float]:
    numbers = {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}
    return {"seed": seed, **numbers, "outcome": result.outcome}
