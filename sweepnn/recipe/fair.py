"""Budget-fair comparison: each value of one option tuned on its own, with an equal share of trials.

"Adam or SGD?" is unfair when both share one learning-rate search: the sampler drifts towards the
rates that suit whichever did well first, and the other is judged at rates chosen for its rival.
With `search.fair: train.optimizer.name` each optimizer becomes an *arm*: its own study (named
`<recipe>-<value>`, with its own sampler history), the option fixed to that value, the rest of the
space searched as usual, and `n_trials` (and any timeout) split equally between the arms. Each arm
is then compared at its best.
"""

from __future__ import annotations

from typing import Any

from sweepnn.errors import InputError
from sweepnn.options.search import SAMPLERS
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.paths import option_name, set_path
from sweepnn.recipe.space import written
from sweepnn.recipe.space_checks import space_problems


def arm_label(value: Any) -> str:
    """A value as a study-name suffix: an option's name, or the value itself."""
    name = option_name(value)
    text = str(name if name is not None else value)
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)


def arms(recipe: Recipe) -> list[tuple[str, Recipe]]:
    """(label, recipe) for each value of the fair path: the value fixed, the budget shared."""
    path = recipe.search.fair
    if path is None:
        return [("", recipe)]
    values = recipe.search.space[path].choices
    budget, timeout = recipe.search.budget, recipe.search.timeout
    if recipe.search.n_trials is None and SAMPLERS[recipe.search.sampler.name].needs_grid:
        budget = None  # each arm runs its own whole grid (sweepnn.recipe.budget)
    out = []
    for i, value in enumerate(values):
        raw = written(recipe)
        set_path(raw, path, value)
        space = {k: v for k, v in raw["search"]["space"].items() if k != path}
        # parameters that cannot apply under this value (momentum for adam) leave this arm's space
        unreachable = {loc[2] for loc, _ in space_problems(space, Recipe.model_validate(raw).model_dump())}
        raw["search"]["space"] = {k: v for k, v in space.items() if k not in unreachable}
        raw["search"].pop("fair")
        raw["name"] = f"{recipe.name}-{arm_label(value)}"
        if budget is not None:
            share = budget // len(values) + (1 if i < budget % len(values) else 0)
            if share == 0:
                raise InputError(
                    f"search.fair: {len(values)} values of {path} need at least {len(values)} trials"
                    f" (n_trials is {budget})"
                )
            raw["search"]["n_trials"] = share
        if timeout is not None:
            raw["search"]["timeout"] = timeout / len(values)
        out.append((arm_label(value), Recipe.model_validate(raw)))
    return out
