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

A section is searched as a list of whole settings, each one choice: `data.augment: [none, {crop: {padding:
4}}, {flip: true}]` compares no augmentation, a crop, a flip. A choice replaces the base recipe's section
whole; `none` is the section's defaults (off, for one that is off unless given, as train.early_stopping).
Like an option given with parameters, a setting reaches Optuna as its JSON text (a categorical choice must
be a plain value: sweepnn.recipe.budget.encode_choice) and is recorded as written.

Nothing here imports Optuna: sampling goes through the small `Suggest` protocol.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sweepnn.recipe.config import ParamSpec, Recipe
from sweepnn.recipe.paths import applies, base_type, resolve, section_of, set_path

# ---- the plan: which parameters, of which kind, in which order --------------------------------


@dataclass(frozen=True)
class Param:
    """One searched parameter of a plan: its dotted `path`, its range or choices (`spec`), how it is sampled
    (`kind`), whether its value chooses what lies under it (`selector`: an option's name, or a `section`'s
    whole setting)."""

    path: str
    spec: ParamSpec
    kind: Literal["float", "int", "categorical"]
    # its value decides what the paths under it hold: an option's name, or a whole section's setting
    selector: bool
    section: bool = False  # a whole section (`data.augment`), searched as one choice among settings

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
        section = section_of(targets) is not None
        selector = section or any(t.options is not None for t in targets)
        if not spec.is_range:
            kind = "categorical"
        else:
            kind = "int" if targets and all(base_type(t.annotation) is int for t in targets) else "float"
        params.append(Param(path, spec, kind, selector, section))
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
        points_at = values(p)
        # the branch holds each choice itself, not the JSON text a grid may walk for a mapping
        as_data = (
            p.spec.choices
            if p.spec.choices is not None and len(p.spec.choices) == len(points_at)
            else points_at
        )
        for value, data in zip(points_at, as_data, strict=True):
            branch = copy.deepcopy(full)
            set_path(branch, p.path, data)
            walk(i + 1, branch, {**chosen, p.path: value})

    walk(0, recipe.model_dump(mode="python"), {})
    return points


def apply(recipe: Recipe, values: Mapping[str, Any]) -> Recipe:
    """The base recipe with fixed values at their paths (a finished trial's parameters: as recorded, or
    as Optuna keeps them, a mapping choice as its JSON text)."""
    raw = written(recipe)
    for p in plan({k: v for k, v in recipe.search.space.items() if k in values}):
        set_path(raw, p.path, choice_of(p.spec, values[p.path]))
    return Recipe.model_validate(raw)


def choice_of(spec: ParamSpec, value: Any) -> Any:
    """The listed choice a stored value stands for: a mapping choice (a section's setting, an option with
    its parameters) comes back from Optuna's own record as its JSON text; any other value is itself."""
    if spec.choices is None or not isinstance(value, str) or value in spec.choices:
        return value
    for choice in spec.choices:
        if isinstance(choice, (Mapping, list)) and json.dumps(choice) == value:
            return choice
    return value
