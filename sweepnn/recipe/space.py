"""The search space: dotted paths into the recipe, and how a trial is sampled from them.

A search path names a field of the configuration (`train.optimizer.lr`, `model.dropout`) or an option
choice (`model.activation`, or equivalently `model.activation.name`). A trial is the base recipe with
the sampled paths replaced, validated again.

Conditional parameters need no extra syntax: a parameter is sampled only when its path exists in the
configuration as chosen so far. Choices are sampled before the parameters under them, so with
`train.optimizer.name: [sgd, momentum, adam]` in the space, `train.optimizer.momentum` is sampled only
in trials that picked an optimizer that takes a momentum, and `train.optimizer.beta1` only for the
Adam family. When a trial switches an option, parameters the base recipe set for the old option are
dropped and the new option starts from its defaults.

Nothing here imports Optuna: sampling goes through the small `Suggest` protocol.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sweepnn.recipe.config import ParamSpec, Recipe
from sweepnn.recipe.paths import applies, base_type, resolve, set_path

# ---- the plan: which parameters, of which kind, in which order --------------------------------


@dataclass(frozen=True)
class Param:
    """One searched parameter of a plan: its dotted `path`, its range or choices (`spec`), how it is sampled
    (`kind`), and whether its value is an option's name (`selector`)."""

    path: str
    spec: ParamSpec
    kind: Literal["float", "int", "categorical"]
    selector: bool  # chooses an option (its value is an option name)

    @property
    def node(self) -> str:
        """The option or section this parameter lives in; a choice is made before its parameters."""
        if self.selector:
            return self.path.removesuffix(".name")
        return self.path.rpartition(".")[0]

    @property
    def short(self) -> str:
        parts = self.path.split(".")
        return parts[-2] if parts[-1] == "name" and len(parts) > 1 else parts[-1]


def plan(space: Mapping[str, ParamSpec]) -> list[Param]:
    """The parameters of a validated space, ordered so every choice precedes what depends on it."""
    params = []
    for path, spec in space.items():
        targets = resolve(path)
        selector = any(t.options is not None for t in targets)
        if not spec.is_range:
            kind = "categorical"
        else:
            kind = "int" if targets and all(base_type(t.annotation) is int for t in targets) else "float"
        params.append(Param(path, spec, kind, selector))
    order = {p.path: i for i, p in enumerate(params)}
    return sorted(params, key=lambda p: (p.node.count(".") + 1, not p.selector, order[p.path]))


def short_names(paths: list[str], fixed: Iterable[str] = ()) -> dict[str, str]:
    """Column names for tables: the last meaningful segment, longer where two would collide or where
    one would take the name of a table's own column (`fixed`: `train.epochs` beside `epochs`)."""

    def name(path: str, n: int) -> str:
        parts = path.split(".")
        if parts[-1] == "name" and len(parts) > 1:
            parts = parts[:-1]
        return ".".join(parts[-n:])

    taken = set(fixed)

    def clashes(out: dict[str, str]) -> set[str]:
        labels = list(out.values())
        return {s for s in labels if labels.count(s) > 1 or s in taken}

    out = {p: name(p, 1) for p in paths}
    for n in range(2, 8):
        clash = clashes(out)
        if not clash:
            break
        out = {p: (name(p, n) if s in clash else s) for p, s in out.items()}
    clash = clashes(out)
    # never two columns of one name: a path is never a fixed column's name (those have no section)
    return {p: (p if s in clash else s) for p, s in out.items()}


# ---- sampling -----------------------------------------------------------------------------------


class Suggest(Protocol):
    """What sampling needs from an optimizer of hyperparameters (Optuna's trial, in practice)."""

    def float(self, path: str, low: float, high: float, *, log: bool, step: float | None) -> float: ...
    def int(self, path: str, low: int, high: int, *, log: bool, step: int) -> int: ...
    def categorical(self, path: str, choices: list[Any]) -> Any: ...


def written(recipe: Recipe) -> dict[str, Any]:
    """The recipe as its author wrote it (defaults left out), so that switching an option gives the
    new option its own defaults rather than values the old one had by default."""
    return recipe.model_dump(mode="python", exclude_unset=True)


def sample(recipe: Recipe, suggest: Suggest) -> tuple[Recipe, dict[str, Any]]:
    """One trial: the base recipe with each applicable searched path replaced, validated again."""
    raw = written(recipe)
    full = recipe.model_dump(mode="python")  # kept in step with raw: it knows which option is in force
    chosen: dict[str, Any] = {}
    for p in plan(recipe.search.space):
        if not applies(full, p.path):
            continue
        s = p.spec
        if p.kind == "categorical":
            value = suggest.categorical(p.path, list(s.choices))
        elif p.kind == "int":
            value = suggest.int(p.path, int(s.low), int(s.high), log=s.log, step=int(s.step or 1))
        else:
            value = suggest.float(p.path, float(s.low), float(s.high), log=s.log, step=s.step)
        set_path(raw, p.path, value)
        set_path(full, p.path, value)
        chosen[p.path] = value
    return Recipe.model_validate(raw), chosen


def grid(recipe: Recipe, values: Callable[[Param], list[Any]]) -> list[dict[str, Any]]:
    """Every distinct configuration a grid search can reach, as {path: value} of the paths it sets.

    Not the product of every parameter's values: a parameter that does not apply under a choice
    (momentum for plain SGD) is left out of that branch instead of multiplying it, so each
    configuration appears once.
    """
    params = plan(recipe.search.space)
    points: list[dict[str, Any]] = []

    def walk(i: int, full: dict[str, Any], chosen: dict[str, Any]) -> None:
        if i == len(params):
            points.append(chosen)
            return
        p = params[i]
        if not applies(full, p.path):
            walk(i + 1, full, chosen)
            return
        for value in values(p):
            branch = copy.deepcopy(full)
            set_path(branch, p.path, value)
            walk(i + 1, branch, {**chosen, p.path: value})

    walk(0, recipe.model_dump(mode="python"), {})
    return points


def apply(recipe: Recipe, values: Mapping[str, Any]) -> Recipe:
    """The base recipe with fixed values at their paths (a finished trial's parameters)."""
    raw = written(recipe)
    for p in plan({k: v for k, v in recipe.search.space.items() if k in values}):
        set_path(raw, p.path, values[p.path])
    return Recipe.model_validate(raw)
