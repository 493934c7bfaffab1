"""What every training run does around its optimizer steps, written once for the trainer (one
network) and the stacked group (K networks as one): how the data is cut into batches, which loss and
score a task takes, what an epoch records, when a run stops after an epoch, and how it ends.

A feature added here reaches both; a trainer keeps only what is its own (how it steps).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from sweepnn.options.losses import DEFAULT_LOSS, LOSSES
from sweepnn.options.metrics import METRICS
from sweepnn.outcomes import classify

EVAL_CHUNK = 8192  # examples per forward pass at evaluation: bounds memory on large validation sets


def batch_bounds(n: int, batch_size: int) -> list[int]:
    """Batch boundaries over n examples; a final batch of one example is folded into the one before
    it, since batch normalization cannot compute a variance from a single example."""
    bounds = [*range(0, n, min(batch_size, n)), n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        del bounds[-2]
    return bounds


def cut(train, n: int) -> tuple[list[int], int, int]:
    """(batch bounds, steps per epoch, steps in all) of a run over n training examples: `train.epochs`
    whole epochs, or exactly `train.steps` steps."""
    bounds = batch_bounds(n, train.batch_size)
    per_epoch = len(bounds) - 1
    return bounds, per_epoch, train.epochs * per_epoch if train.steps is None else train.steps


def epochs_of(train, steps_per_epoch: int) -> tuple[int, int]:
    """(epochs a run takes, steps of its last epoch): `train.epochs` whole ones, or with `train.steps`
    the whole epochs that fit and a last one of the steps left (a whole one when they divide)."""
    if train.steps is None:
        return train.epochs, steps_per_epoch
    epochs = -(-train.steps // steps_per_epoch)
    return epochs, train.steps - (epochs - 1) * steps_per_epoch


def planned_epochs(train, n: int) -> int:
    """The epochs a run over n training examples takes (`epochs_of`), e.g. the total a display shows."""
    return epochs_of(train, cut(train, n)[1])[0]


def loss_of(train, task: str):
    """The loss a run minimizes: the recipe's, or its task's default."""
    return train.loss if train.loss is not None else LOSSES.parse(DEFAULT_LOSS[task])


def score_key(task: str) -> str:
    """The score's name in the metrics: train_accuracy / val_accuracy, or train_r2 / val_r2."""
    return "accuracy" if task == "classification" else "r2"


def reference_loss(task: str, n_outputs: int, y_var: float) -> float:
    """The loss of a trivial predictor (uniform over the classes, or the targets' mean): what the
    diagnostics measure an exploding or stuck loss against."""
    return math.log(max(2, n_outputs)) if task == "classification" else max(y_var, 1e-6)


def score(task: str, total: float, n: int, y_var: float, y: torch.Tensor) -> float:
    """Accuracy from the correct predictions, or R^2 = 1 - SSE / (n * Var(y)) from the summed
    squared error."""
    if task == "classification":
        return total / n
    return 1.0 - total / (y.numel() / len(y) * n * max(y_var, 1e-12))


def epoch_metrics(
    epoch: int,
    task: str,
    train: tuple[float, float],
    val: tuple[float, float],
    train_time: float,
    lr: float,
    diagnostics: dict[str, float],
) -> dict[str, float]:
    """One epoch's record: (loss, score) on the training and validation splits, the gap between
    the scores, time so far, learning rate, and the diagnostics' summary."""
    key = score_key(task)
    return {
        "epoch": epoch,
        "train_loss": train[0],
        f"train_{key}": train[1],
        "val_loss": val[0],
        f"val_{key}": val[1],
        "gap": train[1] - val[1],
        "train_time": train_time,
        "lr": lr,
        **diagnostics,
    }


def diverged_epoch(epoch: int, divergence, train_time: float) -> dict[str, float]:
    """The record of an epoch cut short by a diverging loss: its value and the step it was seen."""
    return {
        "epoch": epoch,
        "train_loss": divergence.value,
        "train_time": train_time,
        "diverged_step": divergence.step,
    }


class EarlyStop:
    """Patience on one metric; remembers the best epoch's weights when asked to restore them.

    `state()` gives the weights to remember: a network's state_dict, or one member's of a stack."""

    def __init__(self, p):
        self.p = p
        self.maximize = METRICS[p.metric].direction == "maximize"
        self.best = -math.inf if self.maximize else math.inf
        self.best_index = 0
        self.best_state = None
        self.waited = 0
        self.epochs = 0

    def should_stop(self, metrics: dict[str, float], state: Callable[[], dict[str, torch.Tensor]]) -> bool:
        value = metrics[self.p.metric]
        better = (
            value > self.best + self.p.min_delta if self.maximize else value < self.best - self.p.min_delta
        )
        if better:
            self.best, self.best_index, self.waited = value, self.epochs, 0
            if self.p.restore_best:
                self.best_state = {k: v.detach().clone() for k, v in state().items()}
        else:
            self.waited += 1
        self.epochs += 1
        return self.waited >= self.p.patience

    def describe(self) -> str:
        return f"{self.p.metric} did not improve for {self.p.patience} epochs (best {self.best:.4g})"


def after_epoch(
    epoch: int,
    metrics: dict[str, float],
    plateau,
    report: Callable[[int, dict[str, float]], bool] | None,
    stopper: EarlyStop | None,
    state: Callable[[], dict[str, torch.Tensor]],
) -> tuple[str, str] | None:
    """Whether a run stops after this epoch, as (outcome, reason), or None to go on. In order: a
    validation loss that is not finite (diverged), the pruner (pruned), early stopping (no outcome
    yet: the trained run is diagnosed at the end). A plateau schedule hears the validation loss;
    `report(epoch, metrics)` is the pruner's say (True: stop)."""
    val_loss = metrics["val_loss"]
    if not math.isfinite(val_loss):
        return "diverged", f"validation loss became {val_loss} in epoch {epoch}"
    if plateau:
        plateau.update(val_loss)
    if report is not None and report(epoch, metrics):
        return "pruned", f"stopped by the pruner after epoch {epoch}"
    if stopper and stopper.should_stop(metrics, state):
        return "", f"early stop after epoch {epoch}: {stopper.describe()}"
    return None


def conclude(
    history: list[dict[str, float]],
    outcome: str,
    reason: str,
    stopper: EarlyStop | None,
    chance: float,
    task: str,
    state: dict[str, Any],
    read_kept: Callable[[dict[str, Any] | None], dict[str, float]] | None = None,
) -> tuple[str, dict[str, float], str, dict[str, Any]]:
    """How a run ends: (outcome, final metrics, reason, the weights to keep). A run that stopped
    early (diverged, pruned) keeps its last epoch; one that trained keeps its last epoch, or with
    early stopping's restore_best its best epoch's weights and metrics, has the kept network read
    (`read_kept(weights)`, None for the network as it is: its training score in evaluation mode and
    its weights' statistics, see sweepnn.training.trainer.read_kept) and is diagnosed."""
    final = dict(history[-1]) if history else {}
    if outcome:
        return outcome, final, reason, state
    if stopper and stopper.p.restore_best and stopper.best_state is not None:
        state, final = stopper.best_state, dict(history[stopper.best_index])
    key = score_key(task)
    if read_kept is not None:
        final |= read_kept(state if stopper and stopper.p.restore_best else None)
        if f"train_eval_{key}" in final and f"val_{key}" in final:
            final["gap_eval"] = final[f"train_eval_{key}"] - final[f"val_{key}"]
    # early stopping ended it, not its budget: a run that stopped improving is never `slow`
    outcome, why = classify(history, final, chance, key, budget_ended=not (stopper and reason))
    return outcome, final, "; ".join(r for r in (reason, why) if r), state
