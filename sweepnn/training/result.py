"""What a trained trial gives back: its outcome, metrics and curves. No torch here, so that the
commands that only read studies (list, compare, show) never import it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass
class TrialResult:
    """What training one trial gives back: outcome and `reason`, final metrics, every epoch's `history`, the
    trained network; under search.repeats the metrics are the seeds' mean (`repeats`: each seed's)."""

    outcome: str  # ok or a failure of sweepnn.outcomes (trained); diverged | pruned (stopped)
    metrics: dict[str, float]  # the final epoch's (the best epoch's, with early stopping's restore_best)
    history: list[dict[str, float]] = field(default_factory=list)  # every epoch's
    reason: str = ""
    model: torch.nn.Module | None = field(default=None, repr=False)  # the trained network
    repeats: list[dict[str, Any]] | None = None  # with search.repeats: each seed's final metrics
    metrics_std: dict[str, float] = field(default_factory=dict)  # ... and their spread over the seeds
    chance: float | None = None  # the validation score of a trivial predictor (what "stalled" is near)

    @property
    def epochs(self) -> int:
        return len(self.history)
