"""Samplers and pruners built from their registries, and Optuna's trial seen through `Suggest`.

The grid sampler is Optuna's, over the configurations a recipe can really produce (conditional
parameters make Optuna's plain product repeat some); the others are Optuna's own, seeded so a
resumed study does not replay the points it tried.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import optuna

from sweepnn.options.search import PRUNERS, SAMPLERS
from sweepnn.recipe.budget import grid_points, grid_values
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.limits import SEED_MAX
from sweepnn.recipe.space import plan


def pruner_of(recipe: Recipe):
    """The pruner in force: the recipe's, else median for one objective and none for several."""
    if recipe.search.pruner is not None:
        return recipe.search.pruner
    return PRUNERS.parse("median" if len(recipe.search.objectives) == 1 else "none")


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
        kwargs["search_space"] = {p.path: grid_values(p) for p in plan(recipe.search.space)}
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
    """Optuna's pruner for the recipe (pruner_of), told the longest trial where its entry asks."""
    params = pruner_of(recipe)
    kwargs = {k: v for k, v in params.model_dump().items() if k != "name"}
    if PRUNERS[params.name].takes_max_resource:
        kwargs["max_resource"] = longest_epochs(recipe)
    return getattr(optuna.pruners, PRUNERS[params.name].optuna_class)(**kwargs)


def _highest(recipe: Recipe, path: str, default: int) -> int:
    """The largest value a trial can give `path`: its searched choices or range's top, else `default`."""
    searched = recipe.search.space.get(path)
    if searched is None:
        return default
    return int(max(searched.choices) if searched.choices is not None else searched.high)


def longest_epochs(recipe: Recipe) -> int:
    """The most epochs a trial of the recipe reports to the pruner: the top rung of a pruner that asks.

    A budget in steps takes the more epochs the fewer steps an epoch has: the most steps over the
    steps per epoch of the largest batch, on the recipe's own data options (a searched data option
    changes the split's size; the base recipe's stands for it).
    """
    if recipe.train.steps is None and "train.steps" not in recipe.search.space:
        return max(recipe.train.epochs, _highest(recipe, "train.epochs", 0))
    from sweepnn.training.data import train_size
    from sweepnn.training.steps import batch_bounds

    steps = _highest(recipe, "train.steps", recipe.train.steps or 1)
    batch = _highest(recipe, "train.batch_size", recipe.train.batch_size)
    per_epoch = len(batch_bounds(train_size(recipe.data), batch)) - 1
    return -(-steps // per_epoch)
