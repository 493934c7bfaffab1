"""Loading a recipe file into a validated `Recipe`, reporting every problem with file, line and path.

YAML is read with a safe loader that remembers where each key and value stands, so a pydantic error
at `train.optimizer.lr` can be printed as `recipe.yaml:12:9: train.optimizer.lr: ...`. Floats written
as `1e-3` (YAML 1.1 reads them as strings) are read as numbers, as YAML 1.2 does.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sweepnn.checks import NAME_MAX, cross_problems, sampled_problems
from sweepnn.config import Recipe
from sweepnn.errors import InputError, Problem, RecipeError
from sweepnn.locations import Loc, dotted, explain
from sweepnn.space_checks import space_problems


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads 1e-3 and 1E+5 as floats (YAML 1.1 requires a dot)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    # a digit before the exponent, as YAML 1.2 asks: `-e5` and `.e5` stay text
    re.compile(r"^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


# The tags of plain data, the only ones a recipe may use, spelled out or implied.
_PLAIN_TAGS = {
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}


def parse_yaml(text: str, file: str) -> tuple[Any, dict[Loc, tuple[int, int]], list[Problem]]:
    """Plain data, a map from each key path to its (line, column), both 1-based, and the problems
    found while reading (a key given twice), reported with the recipe's others rather than alone.
    A syntax error stops reading: it raises RecipeError."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise RecipeError([Problem(file, line, col, "", f"YAML syntax error: {e.problem or e}")]) from None
    finally:
        loader.dispose()
    marks: dict[Loc, tuple[int, int]] = {}
    problems: list[Problem] = []

    def refused(n: yaml.Node, loc: Loc) -> bool:
        """A tag that would build an object (`!!python/object/apply:os.system`) is never honoured."""
        if n.tag in _PLAIN_TAGS:
            return False
        tag = n.tag.replace("tag:yaml.org,2002:", "!!")
        problems.append(
            Problem(
                file,
                n.start_mark.line + 1,
                n.start_mark.column + 1,
                dotted(loc),
                f"YAML tag {tag} is refused: a recipe holds plain data (numbers, text, lists, mappings)",
            )
        )
        return True

    def build(n: yaml.Node, loc: Loc) -> Any:
        marks.setdefault(loc, (n.start_mark.line + 1, n.start_mark.column + 1))
        if refused(n, loc):
            return None
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                if refused(key_node, loc):
                    continue
                key = loader.construct_object(key_node, deep=True)
                where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if not isinstance(key, Hashable):  # `? [a, b]` or `{[1]: 2}`: YAML allows it, we don't
                    problems.append(Problem(file, *where, dotted(loc), f"a key must be a name, not {key!r}"))
                    continue
                if key in out:
                    problems.append(Problem(file, *where, dotted((*loc, key)), "key given twice"))
                marks[(*loc, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = build(value_node, (*loc, key))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, (*loc, i)) for i, item in enumerate(n.value)]
        return loader.construct_object(n, deep=True)

    data = build(node, ()) if node is not None else None
    return data, marks, problems


def _line(marks: Mapping[Loc, tuple[int, int]], loc: Loc) -> tuple[int | None, int | None]:
    for n in range(len(loc), -1, -1):
        if loc[:n] in marks:
            return marks[loc[:n]]
    return None, None


def load_text(text: str, file: str, default_name: str | None = None) -> Recipe:
    """Validate recipe text; raise RecipeError listing every problem found."""
    raw, marks, problems = parse_yaml(text, file)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RecipeError(
            [Problem(file, 1, 1, "", "a recipe is a mapping of sections (data, model, train, search)")]
        )
    if default_name and "name" not in raw:
        # the study name from the file name: only the characters a study name allows, and room left
        # for the -smoke and -trialN suffixes
        name = re.sub(r"[^A-Za-z0-9._-]", "-", default_name).lstrip("._-")[:NAME_MAX] or "recipe"
        raw = {"name": name, **raw}
    recipe = None
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as e:
        tagged = {p.path for p in problems if p.message.startswith("YAML tag")}  # said once is enough
        problems += [
            Problem(file, *_line(marks, loc), dotted(loc), msg)
            for loc, msg in explain(e, raw)
            if dotted(loc) not in tagged
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
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise RecipeError(problems)
    return recipe


def load(path: str | Path) -> Recipe:
    """Read and validate a recipe file; the study name defaults to the file name without suffix."""
    p = Path(path)
    if not p.is_file():
        hint = (
            f"; recipes here: {', '.join(sorted(str(q) for q in p.parent.glob('*.yaml')))}"
            if p.parent.is_dir() and any(p.parent.glob("*.yaml"))
            else ""
        )
        raise InputError(f"no recipe file at {path}{hint}")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {path}: {e}") from None
    return load_text(text, str(path), default_name=p.stem)
