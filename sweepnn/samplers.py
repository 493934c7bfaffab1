"""Samplers and pruners built from their registries, and Optuna's trial seen through `Suggest`.

The grid sampler is Optuna's, over the configurations a recipe can really produce (conditional
parameters make Optuna's plain product repeat some); the others are Optuna's own, seeded so a
resumed study does not replay the points it tried.
"""

from __future__ import annotations

import inspect
import json
import warnings
from typing import Any

import optuna

from sweepnn.config import Recipe
from sweepnn.limits import SEED_MAX
from sweepnn.options.search import PRUNERS, SAMPLERS
from sweepnn.space import Param, grid, plan
from sweepnn.variants import pruner_of


def _grid_values(p: Param) -> list[Any]:
    s = p.spec
    if s.choices is not None:
        return [_encode(c) for c in s.choices]
    step = s.step or 1
    n = round((s.high - s.low) / step)
    values = [round(s.low + i * step, 12) for i in range(n + 1)]  # 0.1 * 3 is 0.30000000000000004
    return [int(v) for v in values] if p.kind == "int" else [float(v) for v in values]


def grid_points(recipe: Recipe) -> list[dict[str, Any]]:
    return grid(recipe, _grid_values)


def grid_size(recipe: Recipe) -> int:
    return len(grid_points(recipe))


DEFAULT_TRIALS = 20  # the budget of a sampler that has no natural end, when n_trials is not given


def budget(recipe: Recipe) -> tuple[int | None, str]:
    """(trials to run in all, or None for as many as the timeout allows; how that number was decided).

    The one place a sweep's budget is decided, so that every sampler's default is explicit and the
    run's first line can say it: a grid's default is the whole grid, and an `n_trials` smaller than
    the grid leaves points out, which is said rather than done silently.
    """
    search = recipe.search
    if not search.space:
        return 1, "nothing is searched"
    if SAMPLERS[search.sampler.name].needs_grid:
        size = grid_size(recipe)
        if search.n_trials is None:
            return size, "the whole grid"
        if search.n_trials < size:
            left = size - search.n_trials
            return (
                search.n_trials,
                f"n_trials {search.n_trials} of a {size}-point grid: {left} points left out",
            )
        return size, "the whole grid" + (
            f"; n_trials {search.n_trials} is more" if search.n_trials > size else ""
        )
    if search.n_trials is not None:
        return search.n_trials, ""
    if search.timeout is not None:
        return None, "no n_trials: as many as the timeout allows"
    return DEFAULT_TRIALS, "the default without n_trials"


class _ConditionalGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler over the configurations a recipe can really produce, each once.

    Optuna's grid is the product of every parameter's values; with conditional parameters that
    product holds one configuration several times (plain SGD with momentum 0.5 and with 0.9). Here
    the grid is `grid_points`: a parameter that does not apply to a point holds a placeholder that
    is never asked for. Optuna's bookkeeping of visited points (by grid id, safe across workers) is
    kept; only the list of points is replaced.

    Optuna's grid sampler also calls Study.stop() once the grid is exhausted, which only works inside
    Study.optimize; this loop uses ask-and-tell and stops by its own budget, capped at the grid size.
    """

    def __init__(self, points: list[dict[str, Any]], search_space: dict[str, list[Any]], seed: int):
        super().__init__(search_space, seed=seed)
        names = self._param_names
        self._all_grids = [tuple(pt.get(n, search_space[n][0]) for n in names) for pt in points]
        self._n_min_trials = len(self._all_grids)
        self._rng.rng.shuffle(self._all_grids)

    def after_trial(self, study, trial, state, values) -> None:
        pass


# Registry class names that this module provides itself, in place of Optuna's.
_SAMPLER_CLASSES = {"GridSampler": _ConditionalGridSampler}


def make_sampler(recipe: Recipe, resumed_after: int = 0):
    """The recipe's sampler. A resumed study seeds it past the trials it already has: the same seed
    again would replay the random stream and propose the points it already tried."""
    params = recipe.search.sampler
    spec = SAMPLERS[params.name]
    kwargs = {k: v for k, v in params.model_dump().items() if k != "name"}
    # Optuna's random state takes 0..2**32-1 only: the seed of a resumed study wraps around in that range
    seed = (recipe.train.seed + 1_000_003 * resumed_after) % (SEED_MAX + 1)
    if spec.needs_grid:
        kwargs["points"] = grid_points(recipe)
        kwargs["search_space"] = {p.path: _grid_values(p) for p in plan(recipe.search.space)}
        # A grid point is known by its index in the shuffled grid, so a resumed study must shuffle
        # exactly as before: the plain seed, or its visited points would name other configurations.
        seed = recipe.train.seed
    cls = _SAMPLER_CLASSES.get(spec.optuna_class) or getattr(optuna.samplers, spec.optuna_class)
    # Conditional spaces make model-based samplers fall back to independent sampling for some
    # parameters; that is expected here, so Optuna's per-trial warning about it is switched off.
    accepted = inspect.signature(cls).parameters
    quiet = ("warn_independent_sampling", "warn_asynchronous_seeding")
    kwargs.update(
        {k: False for k in quiet if k in accepted and accepted[k].default is True}
    )  # not deprecated
    with warnings.catch_warnings():  # "experimental" (GP, QMC) is Optuna's label, not the user's problem
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return cls(seed=seed, **kwargs)


def make_pruner(recipe: Recipe):
    params = pruner_of(recipe)
    kwargs = {k: v for k, v in params.model_dump().items() if k != "name"}
    if params.name == "hyperband":
        searched = recipe.search.space.get("train.epochs")  # the longest trial decides the top rung
        top = (max(searched.choices) if searched.choices else searched.high) if searched else 0
        kwargs["max_resource"] = max(recipe.train.epochs, int(top))
    return getattr(optuna.pruners, PRUNERS[params.name].optuna_class)(**kwargs)


# Optuna's categorical choices must be None, bool, int, float or str; others travel as JSON text.
def _encode(choice: Any) -> Any:
    return choice if choice is None or isinstance(choice, (bool, int, float, str)) else json.dumps(choice)


class TrialSuggest:
    """sweepnn.space.Suggest over an Optuna trial; parameter names are the dotted config paths."""

    def __init__(self, trial: optuna.Trial):
        self.trial = trial

    def float(self, path, low, high, *, log, step):
        return self.trial.suggest_float(path, low, high, log=log, step=step)

    def int(self, path, low, high, *, log, step):
        return self.trial.suggest_int(path, low, high, log=log, step=step)

    def categorical(self, path, choices):
        encoded = [_encode(c) for c in choices]
        picked = self.trial.suggest_categorical(path, encoded)
        return choices[encoded.index(picked)]
