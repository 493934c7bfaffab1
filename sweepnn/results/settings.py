"""The settings in which studies differ besides what they searched, read from the recipe each study
stored (record.STUDY_RECIPE, validated again by sweepnn.sweep.reading).

Two studies that fixed `model.norm: none` and `model.norm: batchnorm` search the same space and look
alike in every table of their trials; this finds that path. A path is listed when the studies do not
all set it alike: fixed to different values, searched in one and fixed in another (a `Searched`
stands for the search), or searched over different ranges. Paths every study sets alike are left out:
they are most of a recipe. An option that differs is one path (`train.optimizer`: adam, sgd), and of
its parameters only those both options have are compared: the others follow from the choice. A
section searched as whole settings is that one path too. A study's name and description tell it
apart already, and its search space is what the searched values are; the other search settings
(sampler, budget, objective) are compared like any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sweepnn.recipe.config import ParamSpec, Recipe
from sweepnn.results.analysis import NA, PathValues, canonical, label, read_path, value_of
from sweepnn.results.tables import fmt, trials_frame
from sweepnn.results.values import params_of
from sweepnn.sweep.reading import Stored

NOT_SETTINGS = ("name", "description")  # what names a study rather than configures it


@dataclass(frozen=True)
class Searched:
    """A path a study searched, in place of a fixed value: its range or its choices."""

    spec: ParamSpec

    def __str__(self) -> str:
        s = self.spec
        if s.choices is not None:
            return "searched: " + ", ".join(str(label(c)) for c in s.choices)
        how = " log" if s.log else f" step {fmt(s.step)}" if s.step is not None else ""
        return f"searched {fmt(s.low)}..{fmt(s.high)}{how}"


@dataclass(frozen=True)
class Setting:
    """A path the studies set differently; `values`: one per study in the order given, each the value
    as sweepnn.results.analysis reads a recipe (an option by its name, n/a where the path is not in
    that recipe), or a Searched."""

    path: str
    values: tuple[Any, ...]


def differing(studies: list[Stored]) -> list[Setting]:
    """The paths the studies set differently, in the order of the first study's recipe."""
    trees = [_tree(s.recipe) for s in studies]
    spaces = [{canonical(p): spec for p, spec in s.recipe.search.space.items()} for s in studies]
    found: dict[str, Setting] = {}
    _walk("", trees, spaces, found)
    # a path searched under an option the base recipe does not choose (momentum, where it is adam)
    for path in dict.fromkeys(p for space in spaces for p in space):
        if path not in found:
            values = tuple(
                Searched(space[path]) if path in space else read_path(tree, path)
                for space, tree in zip(spaces, trees, strict=True)
            )
            if _differ(values):
                found[path] = Setting(path, values)
    return list(found.values())


def frame(studies: list[Stored], settings: list[Setting]) -> pd.DataFrame:
    """The settings as a table people read: a row per path, a column per study."""
    rows = [[s.path, *(str(v) if isinstance(v, Searched) else v for v in s.values)] for s in settings]
    return pd.DataFrame(rows, columns=["setting", *(s.name for s in studies)])


def exported(studies: list[Stored], exact: bool = False) -> pd.DataFrame:
    """Every trial of the studies for `sweepnn export`, each study ranked (tables.trials_frame). With
    several: a `study` column first, searched paths under one spelling (`model.init`), and a column
    per path they set differently, holding each trial's value there: the one it sampled where its study
    searched the path, else its recipe's (as the trial's choices left it: n/a for momentum under adam)."""
    if len(studies) == 1:
        return trials_frame(studies[0].study, studies[0].recipe, exact=exact)
    differ = [d.path for d in differing(studies)]
    frames = []
    for s in studies:
        df = trials_frame(s.study, s.recipe, exact=exact)
        df = df.rename(columns={p: canonical(p) for p in s.recipe.search.space})
        fixed = [p for p in differ if p not in df]
        if fixed and len(df):
            reader = PathValues(s.recipe, fixed)
            values = [reader.of(params_of(s.study.trials[n], exact)) for n in df["number"]]
            for p in fixed:
                df[p] = [v[p] for v in values]
        df.insert(0, "study", s.name)
        frames.append(df)
    joined = pd.concat(frames, ignore_index=True)
    searched = (canonical(p) for s in studies for p in s.recipe.search.space)
    paths = [p for p in dict.fromkeys([*searched, *differ]) if p in joined]
    first = ["study", "rank", "number", "state", "outcome"]
    ahead = [c for c in joined if c.startswith("objective.") or c == "pareto"]  # where trials_frame has them
    return joined[[*first, *ahead, *paths, *(c for c in joined if c not in {*first, *ahead, *paths})]]


def _tree(recipe: Recipe) -> dict[str, Any]:
    """The recipe's settings as compared: its search space left out, a setting left to its default
    (no pruner named) as the one in force, so `median` and an unset pruner are alike, and the
    objectives as one text however many there are."""
    from sweepnn.sweep.samplers import pruner_of

    tree = {k: v for k, v in recipe.model_dump(mode="json").items() if k not in NOT_SETTINGS}
    tree["search"] = {k: v for k, v in tree["search"].items() if k != "space"}
    tree["search"]["pruner"] = pruner_of(recipe).model_dump(mode="json")
    # one objective and several written alike: 'val_accuracy (maximize), val_loss (minimize)'
    tree["search"]["objective"] = ", ".join(f"{o.metric} ({o.direction})" for o in recipe.search.objectives)
    return tree


_MISSING = object()


def _walk(path: str, nodes: list[Any], spaces: list[dict[str, ParamSpec]], found: dict[str, Setting]) -> None:
    """Compare the studies' values at `path` and, where all are sections, what lies under it."""
    searched = [space.get(path) for space in spaces]
    sections = all(isinstance(n, dict) for n in nodes)
    named = sections and any("name" in n for n in nodes)  # an option: told apart by its name
    if path and (not sections or named or any(searched)):  # before what lies under it, in reading order
        values = tuple(
            Searched(h) if h else _value(n, sections) for h, n in zip(searched, nodes, strict=True)
        )
        if _differ(values):
            found[path] = Setting(path, values)
    if not sections or (any(searched) and not named):  # a value, or a section searched whole
        return
    if named and len({n.get("name") for n in nodes}) > 1:  # parameters only one option has follow from it
        keys = [k for k in nodes[0] if all(k in n for n in nodes)]
    else:
        keys = list(dict.fromkeys(k for n in nodes for k in n))
    for key in (k for k in keys if k != "name"):
        _walk(f"{path}.{key}" if path else key, [n.get(key, _MISSING) for n in nodes], spaces, found)


def _value(node: Any, sections: bool) -> Any:
    """An option by its name where every study has one there (its parameters are rows of their own),
    else the whole value (`noise(std=0.1)` beside n/a)."""
    if node is _MISSING:
        return NA
    return value_of(node) if sections else label(node)


def _differ(values: tuple[Any, ...]) -> bool:
    """Whether the values are not all alike; two searches alike when their ranges or choices are."""
    keys = {
        json.dumps(["searched", v.spec.model_dump()] if isinstance(v, Searched) else v, default=str)
        for v in values
    }
    return len(keys) > 1
