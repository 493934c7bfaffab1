"""A sweep's budget: how many trials a recipe runs, and every point its grid sampler walks. Decided
from the recipe alone (no Optuna), so `validate`, `--smoke` and the run's first line all say the
number the sweep will run.
"""

from __future__ import annotations

import json
from typing import Any

from sweepnn.options.search import SAMPLERS
from sweepnn.recipe.config import DEFAULT_TRIALS, Recipe
from sweepnn.recipe.space import Param, grid


# Optuna's categorical choices must be None, bool, int, float or str; others travel as JSON text.
def encode_choice(choice: Any) -> Any:
    """`choice` as Optuna stores a categorical value: None, bool, int, float and str as they are, anything
    else (a list, a mapping) as its JSON text."""
    return choice if choice is None or isinstance(choice, (bool, int, float, str)) else json.dumps(choice)


def grid_values(p: Param) -> list[Any]:
    """The values a grid walks for one parameter: its choices (as `encode_choice` makes them), else low to
    high in steps of `step` (1 when none), as ints for an int parameter."""
    s = p.spec
    if s.choices is not None:
        return [encode_choice(c) for c in s.choices]
    step = s.step or 1
    n = round((s.high - s.low) / step)
    values = [round(s.low + i * step, 12) for i in range(n + 1)]  # 0.1 * 3 is 0.30000000000000004
    return [int(v) for v in values] if p.kind == "int" else [float(v) for v in values]


def grid_points(recipe: Recipe) -> list[dict[str, Any]]:
    """Every configuration the recipe's grid reaches, as {path: value}; a parameter that does not apply to a
    branch is left out of it (`space.grid`)."""
    return grid(recipe, grid_values)


def grid_size(recipe: Recipe) -> int:
    """How many configurations the recipe's grid holds; enumerates them all to count them."""
    return len(grid_points(recipe))


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
