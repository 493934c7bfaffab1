"""Loading a recipe file into a validated `Recipe`, reporting every problem with file, line and path.

YAML is read with a safe loader that remembers where each key and value stands, so a pydantic error
at `train.optimizer.lr` can be printed as `recipe.yaml:12:9: train.optimizer.lr: ...`. Floats written
as `1e-3` (YAML 1.1 reads them as strings) are read as numbers, as YAML 1.2 does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sweepnn.checks import NAME_MAX, cross_problems, sampled_problems
from sweepnn.config import Recipe
from sweepnn.errors import InputError, Problem, RecipeError, choices_text, did_you_mean
from sweepnn.locations import Loc, dotted, raw_loc
from sweepnn.space_checks import space_problems


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads 1e-3 and 1E+5 as floats (YAML 1.1 requires a dot)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.\d*)?[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str, file: str) -> tuple[Any, dict[Loc, tuple[int, int]]]:
    """Plain data and a map from each key path to its (line, column), both 1-based."""
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

    def build(n: yaml.Node, loc: Loc) -> Any:
        marks.setdefault(loc, (n.start_mark.line + 1, n.start_mark.column + 1))
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                key = loader.construct_object(key_node, deep=True)
                if key in out:
                    where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                    problems.append(Problem(file, *where, dotted((*loc, key)), "key given twice"))
                marks[(*loc, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = build(value_node, (*loc, key))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, (*loc, i)) for i, item in enumerate(n.value)]
        return loader.construct_object(n, deep=True)

    data = build(node, ()) if node is not None else None
    if problems:
        raise RecipeError(problems)
    return data, marks


def _line(marks: Mapping[Loc, tuple[int, int]], loc: Loc) -> tuple[int | None, int | None]:
    for n in range(len(loc), -1, -1):
        if loc[:n] in marks:
            return marks[loc[:n]]
    return None, None


def _model_at(loc: Loc, raw: Any) -> type[BaseModel] | None:
    """The config model whose keys live at `loc` (for listing the valid keys)."""
    from sweepnn.paths import unwrap
    from sweepnn.registry import variants

    model: Any = Recipe
    node = raw
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part)
        if field is None:
            return None
        node = node.get(part) if isinstance(node, Mapping) else None
        ann = unwrap(field.annotation)
        options = variants(ann)
        if options is not None:
            name = node if isinstance(node, str) else node.get("name") if isinstance(node, Mapping) else None
            if name is None:  # left to the field's default option
                default = field.get_default(call_default_factory=True)
                name = getattr(default, "name", None)
            ann = options.get(name) if len(options) > 1 else next(iter(options.values()))
        model = ann
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _message(err: dict[str, Any], loc: Loc, raw: Any) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1], raw)
        valid = [k for k in (model.model_fields if model else {}) if k != "name"]
        if model is not None and not valid:
            return f"unknown key '{loc[-1]}': {model.model_fields['name'].default} takes no parameters"
        return f"unknown key '{loc[-1]}';{did_you_mean(loc[-1], valid)} valid keys: {choices_text(valid)}"
    if kind == "union_tag_invalid":
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        family = str(err.get("loc_family", loc[-1] if loc else "option"))
        tag = str(ctx.get("tag"))
        return f"unknown {family} '{tag}';{did_you_mean(tag, tags)} valid: {choices_text(tags)}"
    if kind == "union_tag_not_found":
        tags = _option_names(loc)
        return (
            f"missing 'name': say which {loc[-1] if loc else 'option'} this is (valid: {choices_text(tags)})"
        )
    if kind == "missing":
        return "required key is missing"
    if kind == "string_pattern_mismatch" and loc == ("name",):
        return (
            f"a study name starts with a letter or digit and has only letters, digits, '.', '_' and '-'"
            f" (got {err.get('input')!r})"
        )
    msg = err["msg"].removeprefix("Value error, ")
    if kind.endswith(("_type", "_parsing")) or kind in ("literal_error", "enum"):
        msg += f" (got {err.get('input')!r})"
    return msg


def _option_names(loc: Loc) -> list[str]:
    from sweepnn.paths import resolve

    targets = [t for t in resolve(".".join(map(str, loc))) if t.options] if loc else []
    return list(targets[0].options) if targets else []


def _problems_from(e: ValidationError, raw: Any, file: str, marks) -> list[Problem]:
    found: dict[Any, Problem] = {}
    for err in e.errors():
        loc, relevant = raw_loc(tuple(err["loc"]), raw)
        # members of a union (int | float) each complain about the same value: one complaint will do
        key = loc if len(loc) < len(err["loc"]) else (loc, err["msg"])
        if not relevant:
            continue
        if err["type"] == "union_tag_invalid" and (*loc, "name") in marks:
            loc = (*loc, "name")  # point at the misspelt name, not at the section
            err = {**err, "loc_family": loc[-2]}
        line, col = _line(marks, loc)
        found[key] = Problem(file, line, col, dotted(loc), _message(err, loc, raw))  # the last member's words
    return list(found.values())


def load_text(text: str, file: str, default_name: str | None = None) -> Recipe:
    """Validate recipe text; raise RecipeError listing every problem found."""
    raw, marks = parse_yaml(text, file)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RecipeError(
            [Problem(file, 1, 1, "", "a recipe is a mapping of sections (data, model, train, search)")]
        )
    if default_name and "name" not in raw:
        # the study name from the file name: only the characters a study name allows, and room left
        # for the -smoke and -best suffixes
        name = re.sub(r"[^A-Za-z0-9._-]", "-", default_name).lstrip("._-")[:NAME_MAX] or "recipe"
        raw = {"name": name, **raw}
    problems: list[Problem] = []
    recipe = None
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as e:
        problems += _problems_from(e, raw, file, marks)
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
