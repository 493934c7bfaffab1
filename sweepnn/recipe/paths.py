"""Dotted paths into the recipe: what a path names, and replacing the value a path names.

`train.optimizer.lr` walks the configuration types: plain sections by field, option families through
the option a recipe chose (or every option, when asking whether a path can exist at all). A path may
also name a whole section (`data.augment`), which a search replaces with one of its listed settings.
The search space, the result columns and `compare --by` all speak in these paths.
"""

from __future__ import annotations

import copy
import difflib
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel

from sweepnn.errors import SweepnnError
from sweepnn.recipe.config import Recipe
from sweepnn.registry import OptionParams, Variants, variants

SEARCHABLE_SECTIONS = ("data", "model", "train")
# A searched section's choice for its defaults (off, for a section that is off unless a recipe gives it).
NONE = "none"


@dataclass(frozen=True)
class Target:
    """What a dotted path names in one variant of the configuration."""

    path: str
    annotation: Any  # the field's type with its constraints, for validating a value against it
    options: dict[str, type[OptionParams]] | None  # the choices, when the path selects an option


def unwrap(annotation: Any) -> Any:
    """`X | None` -> X, so optional fields walk like required ones."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def base_type(annotation: Any) -> Any:
    """The type a range searches: under `Annotated[...]` and `X | None`, and the number in a union
    of a number and a list (`dropout: float | list[float]` is searched as one float)."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    annotation = unwrap(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        numbers = [m for m in map(base_type, get_args(annotation)) if m in (int, float)]
        if numbers:
            return numbers[0]
    return annotation


def option_name(raw: Any) -> str | None:
    """The option a raw recipe value chooses: a string itself (`relu`) or a mapping's `name`; else None."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, Mapping):
        return raw.get("name")
    return None


def resolve(path: str, raw: Any = None, extra: Mapping[str, set[str]] | None = None) -> list[Target]:
    """Every place `path` names a field, one per option variant it can pass through.

    Without `raw` every variant is considered: does the path exist at all? With `raw` (a recipe as
    plain data) an option node is entered only through the option `raw` chose, plus any names in
    `extra[node path]`: does the path exist in this configuration (or in one the search can reach)?
    """
    return _walk_model(Recipe, path.split("."), raw, "", extra or {})


def _walk_model(model: type[BaseModel], segs: list[str], raw: Any, prefix: str, extra) -> list[Target]:
    field = model.model_fields.get(segs[0])
    if field is None:
        return []
    path = f"{prefix}.{segs[0]}" if prefix else segs[0]
    sub = raw.get(segs[0]) if isinstance(raw, Mapping) else None
    annotated = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return _walk(unwrap(field.annotation), annotated, segs[1:], sub, path, extra)


def _walk(ann: Any, annotated: Any, segs: list[str], raw: Any, path: str, extra) -> list[Target]:
    options = variants(ann)
    if options is not None:
        if not segs:
            return [Target(path, annotated, options)]
        if segs == ["name"]:
            return [Target(f"{path}.name", _name_type(options), options)]
        # Unknown choice (no raw data, or no name in it): every option might be the one.
        names = set(options) if option_name(raw) is None else {option_name(raw)} | set(extra.get(path, ()))
        found: list[Target] = []
        # registry order keeps the result deterministic; an import path (never listed) comes after
        for name in [*options, *sorted(n for n in names if n not in set(options))]:
            if name in names and name in options:
                chosen = raw if option_name(raw) == name and isinstance(raw, Mapping) else None
                found += _walk_model(options[name], segs, chosen, path, extra)
        return found
    if not segs:
        return [Target(path, annotated, None)]
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return _walk_model(ann, segs, raw, path, extra)
    return []  # a leaf with path segments left over names nothing


def _name_type(options: Mapping[str, Any]) -> Any:
    """What `path.name` takes: one of the options; for a family open to the user's code also an import
    path or an installed option (`model.name: [mlp, "nets:resnet"]`), checked by loading it."""
    if not isinstance(options, Variants):
        return Literal[tuple(options)]

    def known(name: str) -> str:
        try:
            options.registry[name]
        except SweepnnError as e:  # unknown, or an import that fails: said at the choice's line
            raise ValueError(str(e)) from None
        return name

    return Annotated[str, AfterValidator(known)]


def all_paths() -> list[str]:
    """Every searchable path, across all options: for 'did you mean' suggestions."""
    out: list[str] = []

    def fields(model: type[BaseModel], path: str) -> None:
        for name, field in model.model_fields.items():
            if name != "name" or not issubclass(model, OptionParams):  # an option's name is its node
                visit(unwrap(field.annotation), f"{path}.{name}")

    def visit(ann: Any, path: str) -> None:
        options = variants(ann)
        if options is not None:
            out.extend([path, f"{path}.name"])
            for variant in options.values():
                fields(variant, path)
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            fields(ann, path)
        else:
            out.append(path)

    for section in SEARCHABLE_SECTIONS:
        visit(unwrap(Recipe.model_fields[section].annotation), section)
    return sorted(set(out))


def section_of(targets: list[Target]) -> type[BaseModel] | None:
    """The section (a plain sub-model such as `data.augment`, not an option) that `targets` name, or None."""
    if not targets or any(t.options is not None for t in targets):
        return None
    kind = base_type(targets[0].annotation)
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def optional(annotation: Any) -> bool:
    """Is a field of this annotation off (None) unless a recipe gives it (`train.early_stopping`)?"""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def whole_setting(targets: list[Target], value: Any) -> Any:
    """A searched section's choice as recipe data: `none` (or null) is the section's defaults, or null
    for a section that is off unless given; `{}` is always the defaults. A copy: a trial's data is its own,
    never the space's choice."""
    if value is None or value == NONE:
        return None if optional(targets[0].annotation) else {}
    return copy.deepcopy(value)


def closest_path(path: str) -> str:
    """' did you mean 'x'?' for the searchable path (of any option) closest to `path`, or '' if none is."""
    close = difflib.get_close_matches(path, all_paths(), n=1, cutoff=0.5)
    return f" did you mean '{close[0]}'?" if close else ""


def applies(raw: Mapping[str, Any], path: str) -> bool:
    """Does `path` name a field of the configuration `raw` as chosen so far?"""
    return bool(resolve(path, raw))


def set_path(raw: dict[str, Any], path: str, value: Any) -> None:
    """Replace the value at `path` in plain recipe data, keeping the data consistent.

    Setting an option (`model.activation` or `model.activation.name`) to another option keeps only
    the parameters the new option also takes; a mapping value replaces the option whole. A section
    (`data.augment`) is replaced whole by the setting given, `none` being its defaults (`whole_setting`).
    """
    segs = path.split(".")
    selector_node = segs[:-1] if segs[-1] == "name" else segs
    named = resolve(".".join(selector_node))
    targets = [t for t in named if t.options is not None]
    if selector_node is segs and section_of(named) is not None:  # a whole setting: `data.augment: none`
        value = whole_setting(named, value)
    parent = raw
    for seg in selector_node[:-1] if targets else segs[:-1]:
        node = parent.get(seg)
        if isinstance(node, str):  # option shorthand: `relu` -> {name: relu}
            node = {"name": node}
        elif not isinstance(node, dict):
            node = {}
        parent[seg] = node
        parent = node
    if not targets:
        parent[segs[-1]] = value
        return
    key = selector_node[-1]
    if isinstance(value, Mapping):
        parent[key] = dict(value)
        return
    if not isinstance(value, str):  # an optional option switched on or off: `flip: true`, `crop: null`
        parent[key] = value
        return
    old = parent.get(key)
    old = {"name": old} if isinstance(old, str) else dict(old or {})
    if old.get("name") == value:
        return
    fields = targets[0].options[value].model_fields if value in targets[0].options else {}
    # A value the old option holds by default is not carried over, though the data says it: a recipe
    # dumped whole and read again (--smoke, overrides, a worker's copy, a stored study) holds every
    # default as if written, and the new option must start from its own (sgd's decay is not adamw's).
    previous = targets[0].options.get(old.get("name"))
    before = previous.model_fields if previous is not None else {}

    def carried(k: str, v: Any) -> bool:
        if k == "name" or k not in fields:
            return False
        # the old option's default, where the new option's own differs, stays behind
        return not (k in before and v == before[k].get_default() != fields[k].get_default())

    parent[key] = {"name": value, **{k: v for k, v in old.items() if carried(k, v)}}
