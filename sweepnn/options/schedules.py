"""Learning-rate schedules as pure functions of the optimizer step.

`lr_factor(schedule, step, total_steps, steps_per_epoch)` is the multiplier applied to every group's
base learning rate at `step` (0-based); `total_steps` is the run's length, epochs times steps per
epoch or the recipe's `train.steps` (sweepnn.training.steps.cut), so a decay ends at a step budget's
last step, partial epoch or not. Nothing here holds state, so a curve can be computed, plotted
and tested without a model. A warmup (its own small family) composes in front of any decay: the
factor ramps linearly to the decay's starting value, then the decay runs over the remaining steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import Field

from sweepnn.registry import OptionParams, Registry, Spec

# factor(params, step, total_steps, steps_per_epoch) -> multiplier of the base learning rate
FactorFn = Callable[[OptionParams, int, int, int], float]


@dataclass(frozen=True, kw_only=True)
class ScheduleSpec(Spec):
    """One learning-rate schedule: `factor(params, step, total_steps, steps_per_epoch)` multiplies the base
    rate; `on_plateau` marks the one that also follows a metric, `constant` one whose factor is always 1."""

    factor: FactorFn
    # Also scaled at epoch ends by a metric's progress (reduce-on-plateau): the one schedule that is
    # not a pure function of the step. The trainer keeps that state; `factor` is the pure part.
    on_plateau: bool = False
    # the factor is 1 at every step: with no warmup the trainer never touches the learning rate
    constant: bool = False


@dataclass(frozen=True, kw_only=True)
class WarmupSpec(Spec):
    """One warmup: `steps(params, steps_per_epoch)` is its length in optimizer steps (0 for none), over which
    the factor ramps linearly up to the schedule's start."""

    steps: Callable[[OptionParams, int], int]  # (params, steps_per_epoch) -> warmup length in steps


WARMUPS: Registry[WarmupSpec] = Registry(
    "warmup",
    [
        WarmupSpec(name="none", description="no warmup", steps=lambda p, spe: 0),
        WarmupSpec(
            name="linear",
            description="ramp linearly from lr/warmup_steps up to the schedule's start",
            steps=lambda p, spe: p.steps if p.steps is not None else max(1, round(p.epochs * spe)),
            fields={
                "epochs": (
                    float,
                    Field(1.0, gt=0, description="warmup length in epochs (fractions too)"),
                ),
                "steps": (
                    int | None,
                    Field(None, ge=1, description="length in steps; overrides epochs"),
                ),
            },
        ),
    ],
)


class ScheduleParams(OptionParams):
    """Fields every schedule has."""

    warmup: WARMUPS.type_for("none") = WARMUPS.default("none")  # type: ignore[valid-type]


def _epoch(step: int, spe: int) -> int:
    return step // spe


def _cosine(p, step, total, spe) -> float:
    progress = min(step / max(1, total), 1.0)
    return p.min_factor + (1 - p.min_factor) * 0.5 * (1 + math.cos(math.pi * progress))


def _restarts(p, step, total, spe) -> float:
    # SGDR (Loshchilov & Hutter): cycles of t0 epochs, each t_mult times longer than the last.
    t = step / spe
    period = p.t0
    while t >= period:
        t -= period
        period *= p.t_mult
    return p.min_factor + (1 - p.min_factor) * 0.5 * (1 + math.cos(math.pi * t / period))


def _decay(p, step, total, power: float) -> float:
    progress = min(step / max(1, total), 1.0)
    return p.min_factor + (1 - p.min_factor) * (1 - progress) ** power


def _linear(p, step, total, spe) -> float:
    return _decay(p, step, total, 1.0)


def _polynomial(p, step, total, spe) -> float:
    return _decay(p, step, total, p.power)


def _onecycle(p, step, total, spe) -> float:
    # Smith's one-cycle (cosine form): rise from max/div to max over pct of training, then anneal to
    # max/(div*final_div).
    up = max(1, round(p.pct_start * total))
    start, end = 1 / p.div_factor, 1 / (p.div_factor * p.final_div_factor)
    if step < up:
        return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * step / up))
    progress = min((step - up) / max(1, total - up), 1.0)
    return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * progress))


_GAMMA = (float, Field(0.1, gt=0, le=1, description="multiplier applied at each decay"))
_MIN = (float, Field(0.0, ge=0, lt=1, description="floor of the factor (eta_min as a fraction of lr)"))

SCHEDULES: Registry[ScheduleSpec] = Registry(
    "schedule",
    [
        ScheduleSpec(
            name="constant",
            description="the learning rate never changes",
            factor=lambda p, s, t, e: 1.0,
            constant=True,
        ),
        ScheduleSpec(
            name="step",
            description="multiply by gamma every step_epochs epochs",
            factor=lambda p, s, t, e: p.gamma ** (_epoch(s, e) // p.step_epochs),
            fields={
                "step_epochs": (int, Field(10, ge=1, description="epochs between decays")),
                "gamma": _GAMMA,
            },
        ),
        ScheduleSpec(
            name="multistep",
            description="multiply by gamma at each listed epoch",
            factor=lambda p, s, t, e: p.gamma ** sum(_epoch(s, e) >= m for m in p.milestones),
            fields={
                "milestones": (list[int], Field([30, 60], description="epochs at which to decay")),
                "gamma": _GAMMA,
            },
        ),
        ScheduleSpec(
            name="exponential",
            description="multiply by gamma every epoch (or every step)",
            factor=lambda p, s, t, e: p.gamma ** (s if p.per == "step" else _epoch(s, e)),
            fields={
                "gamma": (float, Field(0.95, gt=0, le=1, description="multiplier per epoch or step")),
                "per": (str, Field("epoch", pattern="^(epoch|step)$", description="epoch or step")),
            },
        ),
        ScheduleSpec(
            name="cosine",
            description="cosine annealing from lr down to min_factor*lr",
            factor=_cosine,
            fields={"min_factor": _MIN},
        ),
        ScheduleSpec(
            name="cosine_restarts",
            description="cosine annealing with warm restarts (SGDR)",
            factor=_restarts,
            fields={
                "t0": (float, Field(10.0, gt=0, description="length of the first cycle in epochs")),
                "t_mult": (float, Field(1.0, ge=1, description="each cycle is this much longer")),
                "min_factor": _MIN,
            },
        ),
        ScheduleSpec(
            name="linear",
            description="linear decay from lr to min_factor*lr",
            factor=_linear,
            fields={"min_factor": _MIN},
        ),
        ScheduleSpec(
            name="polynomial",
            description="polynomial decay (1-progress)^power",
            factor=_polynomial,
            fields={
                "power": (float, Field(2.0, gt=0, description="exponent of the decay")),
                "min_factor": _MIN,
            },
        ),
        ScheduleSpec(
            name="onecycle",
            description="one cycle: warm up to lr, then anneal far below it",
            factor=_onecycle,
            fields={
                "pct_start": (float, Field(0.3, gt=0, lt=1, description="fraction of training rising")),
                "div_factor": (float, Field(25.0, ge=1, description="start at lr/div_factor")),
                "final_div_factor": (float, Field(1e4, ge=1, description="end at start/final_div_factor")),
            },
        ),
        ScheduleSpec(
            name="plateau",
            description="multiply by gamma when val_loss has not improved for `patience` epochs",
            factor=lambda p, s, t, e: 1.0,
            on_plateau=True,
            fields={
                "patience": (int, Field(3, ge=0, description="epochs without improvement before decaying")),
                "gamma": _GAMMA,
                "threshold": (float, Field(1e-4, ge=0, description="relative improvement that counts")),
                "min_factor": (float, Field(1e-3, ge=0, lt=1, description="never decay below this fraction")),
            },
        ),
    ],
    base=ScheduleParams,
)


class Plateau:
    """The state of a reduce-on-plateau schedule: its current scale, updated once per epoch."""

    def __init__(self, params: OptionParams):
        self.p = params
        self.scale = 1.0
        self.best = math.inf
        self.waited = 0

    def update(self, val_loss: float) -> float:
        if val_loss < self.best * (1 - self.p.threshold):
            self.best, self.waited = val_loss, 0
        else:
            self.waited += 1
            if self.waited > self.p.patience:
                self.scale = max(self.scale * self.p.gamma, self.p.min_factor)
                self.waited = 0
        return self.scale


def lr_is_constant(schedule: OptionParams) -> bool:
    """Does the learning rate stay the optimizer's own at every step (no decay, no warmup)?"""
    warmup = schedule.warmup
    return SCHEDULES[schedule.name].constant and WARMUPS[warmup.name].steps(warmup, 1) == 0


def lr_factor(schedule: OptionParams, step: int, total_steps: int, steps_per_epoch: int) -> float:
    """The multiplier of the base learning rate at `step`, warmup included."""
    decay = SCHEDULES[schedule.name].factor
    warm = min(WARMUPS[schedule.warmup.name].steps(schedule.warmup, steps_per_epoch), total_steps)
    if step < warm:
        return (step + 1) / warm * decay(schedule, 0, total_steps - warm, steps_per_epoch)
    return decay(schedule, step - warm, total_steps - warm, steps_per_epoch)
