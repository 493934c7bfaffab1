"""Where a problem is in a recipe, and what it is: dotted key paths, error locations cleaned of
pydantic's tags, and messages that name the valid keys and options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from sweepnn.errors import choices_text, did_you_mean
from sweepnn.recipe.catalog import FAMILIES
from sweepnn.registry import OptionParams

Loc = tuple[Any, ...]
_OPTIONS = frozenset(name for reg in FAMILIES.values() for name in reg)


def shown(value: Any, limit: int = 80) -> str:
    """A value as a message quotes it: its repr, cut short when long (a recipe can hold a megabyte
    of text), and never failing (Python will not write an int of more than 4300 digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of {value.bit_length():,} bits"
    try:
        text = repr(value)
    except ValueError:
        return f"a {type(value).__name__}"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def dotted(loc: Loc) -> str:
    """('search', 'space', 'train.optimizer.lr', 'low') -> search.space['train.optimizer.lr'].low"""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "." in str(part):
            out += f"['{part}']"
        else:
            out += f".{part}" if out else str(part)
    return out


def raw_loc(loc: Loc, raw: Any) -> tuple[Loc, bool]:
    """The error's location in the recipe as written, and whether the error is worth showing.

    Pydantic puts union tags in a location: an option's name (`optimizer.adam.lr`) and, for a
    plain union such as `float | list[float]`, the member tried (`dropout.list[constrained-float]`).
    Tags are dropped; an error from a union member of the wrong shape (the float member's complaint
    about a list) is not worth showing.
    """
    out: list[Any] = []
    node = raw
    for part in loc:
        if (
            isinstance(node, Mapping)
            and part not in node
            and node.get("name", part) == part
            and part in _OPTIONS
        ):
            continue  # the option's tag (also when the recipe left the name to its default)
        if isinstance(node, str) and part == node:  # option shorthand: `relu`
            continue
        tag = isinstance(part, str) and ("[" in part or part.startswith("function-"))
        if tag or (isinstance(part, str) and not isinstance(node, Mapping)):  # a union member's tag
            if part.startswith("list[") != isinstance(node, list):
                return tuple(out), False
            continue
        out.append(part)
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out), True


def _model_at(loc: Loc, raw: Any, root: type[BaseModel] | None = None) -> type[BaseModel] | None:
    """The config model whose keys live at `loc` below `root` (the recipe), for listing valid keys."""
    from sweepnn.recipe.config import Recipe
    from sweepnn.recipe.paths import base_type, unwrap
    from sweepnn.registry import variants

    model: Any = root or Recipe
    node = raw
    for part in loc:
        if get_origin(model) is dict:  # e.g. search.space: any key, each value one model
            model = base_type(get_args(model)[1])
            node = node.get(part) if isinstance(node, Mapping) else None
            continue
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


def _message(err: dict[str, Any], loc: Loc, raw: Any, root: type[BaseModel] | None = None) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1], raw, root)
        # an option's `name` says which option it is: not one of the parameters to list
        option = model is not None and issubclass(model, OptionParams)
        valid = [k for k in (model.model_fields if model else {}) if not (option and k == "name")]
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
            f" (got {shown(err.get('input'))})"
        )
    if kind in _EXPECTED or kind in ("model_type", "model_attributes_type"):
        return f"expected {_expected(kind, ctx, loc)}, got {found(err.get('input'))}"
    return error_text(err)


def error_text(err: Mapping[str, Any]) -> str:
    """One pydantic error in the recipe's words: what is valid, then what the recipe holds. Bounds
    read "must be at least 1 (got -1)", not pydantic's "Input should be greater than or equal to"."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in _BOUNDS:
        return f"{_BOUNDS[kind](ctx)} (got {shown(err.get('input'))})"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind.endswith(("_type", "_parsing")):
        msg += f" (got {shown(err.get('input'))})"
    return msg


# What a recipe calls the kind of value a field takes, by pydantic's error type.
_EXPECTED = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "list_type": "a list",
    "dict_type": "a mapping (key: value, ...)",
}


def _n(bound: Any) -> Any:
    """A bound as a recipe would write it: 0, not 0.0."""
    return int(bound) if isinstance(bound, float) and bound.is_integer() else bound


# What a bound says, by pydantic's error type and its context: each is followed by what the recipe holds.
_BOUNDS = {
    "greater_than": lambda c: f"must be greater than {_n(c['gt'])}",
    "greater_than_equal": lambda c: f"must be at least {_n(c['ge'])}",
    "less_than": lambda c: f"must be less than {_n(c['lt'])}",
    "less_than_equal": lambda c: f"must be at most {_n(c['le'])}",
    "multiple_of": lambda c: f"must be a multiple of {_n(c['multiple_of'])}",
    "finite_number": lambda c: "must be a finite number",
    "literal_error": lambda c: f"must be {c['expected']}",
    "enum": lambda c: f"must be {c['expected']}",
    "too_short": lambda c: f"must have at least {c['min_length']} item(s)",
    "too_long": lambda c: f"must have at most {c['max_length']} item(s)",
    "string_too_short": lambda c: f"must have at least {c['min_length']} character(s)",
    "string_too_long": lambda c: f"must have at most {c['max_length']} character(s)",
}


def found(value: Any) -> str:
    """A value as the recipe spells it, with its kind where the kind is the point (`'3'` is text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null (nothing)"
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return f"the text {shown(value)}"
        return f"the text {shown(value)} (quoted, so not a number: write it without quotes)"
    if isinstance(value, list):
        return f"a list {shown(value)}"
    if isinstance(value, Mapping):
        return f"a mapping {shown(value)}"
    return shown(value)


def _expected(kind: str, ctx: Mapping[str, Any], loc: Loc) -> str:
    """What the field at `loc` takes, in a recipe's words: for a section or an option, its shape."""
    if loc[-2:-1] == ("space",) and loc[:1] == ("search",):
        return (
            "a range {low: ..., high: ...} or a list of choices [a, b, ...] (to fix"
            f" {loc[-1]} at one value, set it outside search.space)"
        )
    if loc == ("search", "space"):
        return "a mapping of dotted paths to ranges or choices (train.optimizer.lr: {low: 1e-4, high: 0.1})"
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    names = _option_names(loc)
    if names:
        return f"an option's name ({choices_text(names)}) or a mapping {{name: ..., parameter: value}}"
    if "objective" in loc[-2:]:
        return "a metric's name or a mapping {metric: ..., direction: ...}"
    return "a mapping (key: value, ...)"


def _option_names(loc: Loc) -> list[str]:
    from sweepnn.recipe.paths import resolve

    targets = [t for t in resolve(".".join(map(str, loc))) if t.options] if loc else []
    return list(targets[0].options) if targets else []


def explain(
    e: ValidationError, raw: Any, root: type[BaseModel] | None = None, limit: int | None = None
) -> list[tuple[Loc | None, str]]:
    """Each problem pydantic found in `raw` (a recipe as plain data): where it is, in the recipe's own
    key path, and what to do about it (the valid keys or options, the closest one suggested).

    `root` is the model `raw` was validated as, when that is a part of a recipe (one option's
    parameters, say) rather than a whole one. With `limit`, at most that many are explained (each
    costs a search for the closest name) and one more entry, at location None, says how many errors
    were left out.
    """
    found: dict[Any, tuple[Loc | None, str]] = {}
    errors = e.errors()
    for n, err in enumerate(errors):
        if limit is not None and len(found) >= limit:
            found[None] = (None, f"{len(errors) - n:,} more errors not listed (the first {limit} are)")
            break
        loc, relevant = raw_loc(tuple(err["loc"]), raw)
        # members of a union (int | float) each complain about the same value: one complaint will do
        key = loc if len(loc) < len(err["loc"]) else (loc, err["msg"])
        if not relevant:
            continue
        node = _node_at(raw, loc)
        if err["type"] == "union_tag_invalid" and isinstance(node, Mapping) and "name" in node:
            loc = (*loc, "name")  # point at the misspelt name, not at the section
            err = {**err, "loc_family": loc[-2]}
        found[key] = (loc, _message(err, loc, raw, root))  # the last member's words
    return list(found.values())


def _node_at(raw: Any, loc: Loc) -> Any:
    for part in loc:
        if isinstance(raw, Mapping):
            raw = raw.get(part)
        elif isinstance(raw, list) and isinstance(part, int) and part < len(raw):
            raw = raw[part]
        else:
            return None
    return raw
