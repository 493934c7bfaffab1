"""Loading a recipe file into a validated `Recipe`, reporting every problem with file, line and path.

The YAML comes from yaml_reading with the line of every key and value, so a pydantic error at
`train.optimizer.lr` can be printed as `recipe.yaml:12:9: train.optimizer.lr: ...`; then sizes,
types, the search space and the checks across sections, every problem reported at once.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sweepnn.errors import Problem, RecipeError
from sweepnn.options.own import add_code_folder
from sweepnn.recipe.checks import cross_problems, sampled_problems, size_problems
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.limits import (
    NAME_MAX,
    PROBLEMS_MAX,
)
from sweepnn.recipe.locations import Loc, dotted, explain, raw_loc
from sweepnn.recipe.space_checks import space_problems
from sweepnn.recipe.yaml_reading import EXPONENT, UNREAD, parse_yaml, read_recipe


def _validate(raw: dict[str, Any]) -> Recipe:
    """Strict validation, with one documented leniency: a float written in quotes in exponent form
    (`lr: '1e-3'`, as YAML 1.1 tools write it) is that float, where a float is asked for."""
    try:
        return Recipe.model_validate(raw)
    except ValidationError as e:
        fixed, changed = copy.deepcopy(raw), False
        for err in e.errors():
            value = err.get("input")
            if err["type"] == "float_type" and isinstance(value, str) and EXPONENT.match(value.strip()):
                loc, _ = raw_loc(tuple(err["loc"]), raw)
                node = fixed
                for part in loc[:-1]:
                    node = node[part]
                node[loc[-1]] = float(value)
                changed = True
        if not changed:
            raise
    return Recipe.model_validate(fixed)


def _line(marks: Mapping[Loc, tuple[int, int]], loc: Loc) -> tuple[int | None, int | None]:
    for n in range(len(loc), -1, -1):
        if loc[:n] in marks:
            return marks[loc[:n]]
    return None, None


def load_text(text: str, file: str, default_name: str | None = None) -> Recipe:
    """Validate recipe text; raise RecipeError listing every problem found."""
    raw, marks, problems = parse_yaml(text, file)
    if raw is None:  # nothing, comments only, or `null`: not a default sweep nobody asked for
        empty = (
            "the recipe is empty; a recipe is a mapping of sections (data, model, train, search),"
            " e.g. data: {name: spirals}"
        )
        raise RecipeError([*problems, Problem(file, None, None, "", empty)])
    if not isinstance(raw, dict):
        raise RecipeError(
            [Problem(file, 1, 1, "", "a recipe is a mapping of sections (data, model, train, search)")]
        )
    if default_name and "name" not in raw:
        # the study name from the file name: only the characters a study name allows, and room left
        # for the -smoke and -trialN suffixes
        name = re.sub(r"[^A-Za-z0-9._-]", "-", default_name).lstrip("._-")[:NAME_MAX] or "recipe"
        raw = {"name": name, **raw}
    # Sizes first: a search space past the bounds of sweepnn.recipe.limits is refused before it is validated
    # (every choice is checked against the whole recipe, a grid is enumerated before training).
    sized = size_problems(raw)
    if sized:
        raise RecipeError(
            sorted(
                problems + [Problem(file, *_line(marks, loc), dotted(loc), m) for loc, m in sized],
                key=lambda p: (p.line or 0, p.column or 0),
            )
        )
    problems += _code_folders(raw.get("code"), file, marks)  # before validation: it imports from them
    recipe = None
    more: list[str] = []  # how many problems were left unexplained, said last
    try:
        recipe = _validate(raw)
    except ValidationError as e:
        # a value YAML could not read was said to be unreadable: that it is then missing is not news
        tagged = {p.path for p in problems if p.message.startswith(UNREAD)}
        explained = explain(e, raw, limit=PROBLEMS_MAX)
        more = [msg for loc, msg in explained if loc is None]
        problems += [
            Problem(file, *_line(marks, loc), dotted(loc), msg)
            for loc, msg in explained
            if loc is not None and dotted(loc) not in tagged
        ]
    space = (raw.get("search") or {}).get("space") if isinstance(raw.get("search"), Mapping) else None
    located: list[tuple[Loc, str]] = []
    if isinstance(space, Mapping):
        # Reachability is judged on the recipe with its defaults when it is valid, else on what it says.
        located += space_problems(space, recipe.model_dump() if recipe is not None else raw)
    if recipe is not None and not located:
        explicit = isinstance(raw.get("search"), Mapping) and "pruner" in raw["search"]
        located += cross_problems(recipe, explicit)
        if not located:
            located += sampled_problems(recipe, explicit)
    problems += [Problem(file, *_line(marks, loc), dotted(loc), msg) for loc, msg in located]
    if problems or more:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise RecipeError(problems + [Problem(file, None, None, "", m) for m in more])
    return recipe


def _code_folders(code: Any, file: str, marks) -> list[Problem]:
    """Make the folders a recipe's `code` lists importable (relative to the recipe's file); a folder that
    is not there is a problem at its line."""
    out = []
    for i, folder in enumerate(code if isinstance(code, list) else []):
        if not isinstance(folder, str):
            continue  # validation says what a folder must be
        path = Path(file).parent / folder
        if path.is_dir():
            add_code_folder(path)
        else:
            out.append(Problem(file, *_line(marks, ("code", i)), f"code[{i}]", f"no folder {str(path)!r}"))
    return out


def load(path: str | Path) -> Recipe:
    """Read and validate a recipe file; the study name defaults to the file name without suffix.

    The recipe's folder becomes importable first: a model or dataset it names by import path
    (`nets:resnet`) is found in a `nets.py` beside it."""
    add_code_folder(Path(path).parent)
    return load_text(read_recipe(path), str(path), default_name=Path(path).stem)
