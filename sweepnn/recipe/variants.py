"""Variants of a validated recipe: as YAML again, with command-line overrides, shrunk for CI smoke
runs, and the pruner in force."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from sweepnn.errors import InputError
from sweepnn.recipe.budget import budget
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.locations import dotted, error_text
from sweepnn.untrusted import REORDERING


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, but a text holding a bidirectional control is double-quoted, where the
    control can be written as an escape (YAML escapes the other control characters itself)."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if REORDERING.search(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(recipe: Recipe, header: str = "") -> str:
    """A recipe as YAML that `load` reads back to an equal recipe, with no control character raw in
    it: a description's escape sequences are YAML escapes (\\e), so `cat` shows them as text."""
    data = recipe.model_dump(mode="json", exclude_none=True)
    if recipe.train.steps is not None:  # a length in steps: epochs beside it would be refused on reading
        del data["train"]["epochs"]
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    body = REORDERING.sub(lambda m: f"\\u{ord(m.group()):04x}", body)  # only in double-quoted text
    return (header + "\n" if header else "") + body


def override(recipe: Recipe, **values: Any) -> Recipe:
    """The recipe with top-level overrides from the command line (None leaves a value alone)."""
    raw = recipe.model_dump(mode="python")
    if values.get("trials") is not None:
        raw["search"]["n_trials"] = values["trials"]
    if values.get("timeout") is not None:
        raw["search"]["timeout"] = values["timeout"]
    if values.get("seed") is not None:
        raw["train"]["seed"] = values["seed"]
    try:
        return Recipe.model_validate(raw)
    except ValidationError as e:
        raise InputError(
            "; ".join(f"{dotted(tuple(x['loc']))}: {error_text(x)}" for x in e.errors())
        ) from None


SMOKE_TRIALS = 3
SMOKE_EXAMPLES = 256


def smoke(
    recipe: Recipe, *, trials: int | None = None, timeout: float | str | None = None, **_: Any
) -> Recipe:
    """The recipe shrunk for CI: a few trials, one epoch (a budget in steps too), a slice of the data,
    its own study name.

    Every code path still runs (sampler, pruner, trainer, tables); only the sizes change. A budget
    the user gave on the command line (`trials`, `timeout`: the keywords of `override`, so a caller
    passes both the same flags) is theirs and wins over the shrinking.
    """
    raw = recipe.model_dump(mode="python")
    raw["name"] = f"{recipe.name}-smoke"
    raw["train"]["epochs"] = 1
    raw["train"].pop("steps", None)
    length = ("train.epochs", "train.steps")
    raw["search"]["space"] = {k: v for k, v in raw["search"]["space"].items() if k not in length}
    raw["search"]["n_trials"] = min(budget(recipe)[0] or SMOKE_TRIALS, SMOKE_TRIALS)
    if recipe.search.fair is not None:  # a fair comparison needs a trial for each of its arms
        raw["search"]["n_trials"] = len(recipe.search.space[recipe.search.fair].choices)
    if trials is not None:
        raw["search"]["n_trials"] = recipe.search.n_trials
    if timeout is None:
        raw["search"]["timeout"] = None
    raw["search"]["repeats"] = min(recipe.search.repeats, 2)  # still several seeds, fewer of them
    raw["data"]["limit"] = min(recipe.data.limit or SMOKE_EXAMPLES, SMOKE_EXAMPLES)
    return Recipe.model_validate(raw)


def uses_own_code(recipe: Recipe) -> bool:
    """Does the recipe name an option from outside sweepnn (an import path, an installed package's)?"""
    from sweepnn.options.datasets import DATASETS
    from sweepnn.options.losses import LOSSES
    from sweepnn.options.metrics import METRICS
    from sweepnn.options.models import MODELS

    named = [(MODELS, recipe.model.name), (DATASETS, recipe.data.name)]
    named += [(METRICS, o.metric) for o in recipe.search.objectives]
    if recipe.train.loss is not None:
        named.append((LOSSES, recipe.train.loss.name))
    return any(name not in reg.builtins for reg, name in named)


def with_code(recipe: Recipe, folders: list[str]) -> Recipe:
    """The recipe with the folders its own code was imported from (absolute), so that a copy written
    elsewhere (results/<study>/best.yaml) runs where it is; a recipe of built-ins is left as it is."""
    if not uses_own_code(recipe):
        return recipe
    return recipe.model_copy(update={"code": list(dict.fromkeys([*folders, *recipe.code]))})
