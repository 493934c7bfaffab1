"""Optuna samplers and pruners. Entries name the Optuna class; only sweepnn.sweep imports Optuna."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from sweepnn.registry import Registry, Spec


@dataclass(frozen=True, kw_only=True)
class SamplerSpec(Spec):
    """One Optuna sampler: the class `optuna_class`, built with the entry's parameters and the seed;
    `multi_objective` and `needs_grid` say which searches it can run."""

    optuna_class: str
    multi_objective: bool  # can it optimize several objectives at once?
    needs_grid: bool = False  # does it need every searched parameter as a finite list of values?


@dataclass(frozen=True, kw_only=True)
class PrunerSpec(Spec):
    """One Optuna pruner: the optuna.pruners class `optuna_class`, built with the entry's parameters; with
    `takes_max_resource` it is also given the longest trial's epochs as `max_resource`."""

    optuna_class: str
    # Optuna's class is told the longest trial's epochs (its top rung) as `max_resource`
    takes_max_resource: bool = False


_STARTUP = (int, Field(10, ge=0, description="random trials before the model-based search starts"))

SAMPLERS: Registry[SamplerSpec] = Registry(
    "sampler",
    [
        SamplerSpec(
            name="tpe",
            description="Tree-structured Parzen Estimator: Optuna's default, handles conditions",
            optuna_class="TPESampler",
            multi_objective=True,
            fields={
                "n_startup_trials": _STARTUP,
                "multivariate": (bool, Field(False, description="model parameters jointly")),
            },
        ),
        SamplerSpec(
            name="random",
            description="independent uniform sampling; the baseline",
            optuna_class="RandomSampler",
            multi_objective=True,
        ),
        SamplerSpec(
            name="grid",
            description="every combination of the listed values, in random order",
            optuna_class="GridSampler",
            multi_objective=True,
            needs_grid=True,
        ),
        SamplerSpec(
            name="cmaes",
            description="CMA evolution strategy; numeric parameters, single objective",
            optuna_class="CmaEsSampler",
            multi_objective=False,
            fields={"n_startup_trials": (int, Field(1, ge=0, description="random trials first"))},
        ),
        SamplerSpec(
            name="gp",
            description="Gaussian-process Bayesian optimization; best for small budgets",
            optuna_class="GPSampler",
            multi_objective=True,
            fields={"n_startup_trials": _STARTUP},
        ),
        SamplerSpec(
            name="qmc",
            description="quasi-Monte Carlo low-discrepancy points (Sobol or Halton)",
            optuna_class="QMCSampler",
            multi_objective=True,
            fields={
                "qmc_type": (Literal["sobol", "halton"], Field("sobol")),
                "scramble": (bool, Field(True, description="randomize the sequence by seed")),
            },
        ),
        SamplerSpec(
            name="nsga2",
            description="NSGA-II genetic algorithm for multi-objective searches",
            optuna_class="NSGAIISampler",
            multi_objective=True,
            fields={"population_size": (int, Field(50, ge=2, description="individuals per generation"))},
        ),
    ],
)

_WARMUP = (int, Field(1, ge=0, description="epochs reported before a trial may be pruned"))
_PSTART = (int, Field(5, ge=0, description="completed trials before pruning starts"))

PRUNERS: Registry[PrunerSpec] = Registry(
    "pruner",
    [
        PrunerSpec(name="none", description="never stop a trial early", optuna_class="NopPruner"),
        PrunerSpec(
            name="median",
            description="stop a trial whose epoch value is worse than the median",
            optuna_class="MedianPruner",
            fields={"n_startup_trials": _PSTART, "n_warmup_steps": _WARMUP},
        ),
        PrunerSpec(
            name="percentile",
            description="stop a trial outside the best percentile at an epoch",
            optuna_class="PercentilePruner",
            fields={
                "percentile": (float, Field(25.0, gt=0, lt=100, description="keep the best p%")),
                "n_startup_trials": _PSTART,
                "n_warmup_steps": _WARMUP,
            },
        ),
        PrunerSpec(
            name="successive_halving",
            description="asynchronous successive halving (ASHA)",
            optuna_class="SuccessiveHalvingPruner",
            fields={
                "min_resource": (int, Field(1, ge=1, description="epochs before the first rung")),
                "reduction_factor": (int, Field(3, ge=2, description="keep 1/factor at each rung")),
            },
        ),
        PrunerSpec(
            name="hyperband",
            description="Hyperband: several successive-halving brackets",
            optuna_class="HyperbandPruner",
            takes_max_resource=True,
            fields={
                "min_resource": (int, Field(1, ge=1, description="epochs before the first rung")),
                "reduction_factor": (int, Field(3, ge=2, description="keep 1/factor at each rung")),
            },
        ),
    ],
)
