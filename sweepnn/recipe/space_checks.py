"""Checks of a recipe's search space against the configuration, on plain data, before any training: each
path names a field, an option or a section (searched as whole settings), and each choice and range end is
a value that place takes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from sweepnn.errors import choices_text, did_you_mean
from sweepnn.recipe.config import ParamSpec
from sweepnn.recipe.locations import dotted, error_text, explain, found, shown
from sweepnn.recipe.paths import (
    NONE,
    SEARCHABLE_SECTIONS,
    Target,
    base_type,
    closest_path,
    option_name,
    resolve,
    section_of,
    whole_setting,
)


def check_value(targets: list[Target], value: Any) -> str | None:
    """None if some variant's field accepts `value`, else the first reason it does not."""
    reason = None
    for t in targets:
        model = (t.options or {}).get(option_name(value)) if isinstance(value, Mapping) else None
        try:
            if model is not None:  # {name: adamw, lr: ...}: that option's own parameters, named
                model.model_validate(value)
            else:
                TypeAdapter(t.annotation).validate_python(value, strict=True)  # as the recipe is
            return None
        except ValidationError as e:
            if model is not None:
                loc, msg = explain(e, value, root=model)[0]
                reason = f"{dotted(loc)}: {msg}" if loc and not msg.startswith("unknown key") else msg
            else:
                # keys are listed from the field's own model (crop's padding), not from the recipe's top
                kind = base_type(t.annotation)
                root = kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None
                explained = [msg for loc, msg in explain(e, value, root=root) if loc is not None]
                reason = explained[0] if explained else error_text(e.errors()[0])
    return reason


def space_problems(space: Mapping[str, Any], base: Mapping[str, Any]) -> list[tuple[tuple, str]]:
    """(location, message) for each path in a raw space that cannot be searched as written.

    Runs on plain data so it can report alongside the recipe's other errors; entries whose own
    shape is wrong (low > high, ...) are reported by the recipe's validation and skipped here.
    """
    problems: list[tuple[tuple, str]] = []
    specs: dict[str, ParamSpec] = {}
    seen: dict[str, str] = {}
    for path, raw_spec in space.items():
        path = str(path)  # YAML may give a number; pydantic reads it as text, so check it as text
        loc = ("search", "space", path)
        node = path.removesuffix(".name")
        if node in seen:
            problems.append((loc, f"'{path}' and '{seen[node]}' search the same thing; keep one"))
            continue
        seen[node] = path
        if path.split(".")[0] not in SEARCHABLE_SECTIONS:
            problems.append(
                (
                    loc,
                    f"search paths start with {', '.join(s + '.' for s in SEARCHABLE_SECTIONS)}"
                    f" ('{path}' does not){closest_path(path)}",
                )
            )
            continue
        targets = resolve(path)
        if not targets:
            problems.append((loc, f"'{path}' names no field of the recipe;{closest_path(path)}"))
            continue
        section = section_of(targets)
        if section is not None and "." not in path:
            # a top section is the recipe itself: its fields and sections are what a search names
            example = f"{path}.{next(iter(section.model_fields))}"
            problems.append(
                (loc, f"'{path}' is a section, not a value; search a field in it, e.g. '{example}'")
            )
            continue
        try:
            spec = ParamSpec.model_validate(raw_spec)
        except ValidationError:
            continue
        specs[path] = spec
        checked = (
            _section_problems(path, spec, targets, section)
            if section
            else _spec_problems(path, spec, targets)
        )
        problems += [((*loc, *sub), msg) for sub, msg in checked]
    # A setting replaces its section whole: a path inside it would be overwritten, or would overwrite it.
    wholes = [p for p, spec in specs.items() if spec.choices is not None and section_of(resolve(p))]
    for path in specs:
        outer = next((w for w in wholes if path.startswith(w + ".")), None)
        if outer is not None:
            problems.append(
                (
                    ("search", "space", path),
                    f"'{path}' is inside '{outer}', which is searched as whole settings: give"
                    f" {path.removeprefix(outer + '.')} in those settings instead",
                )
            )
    # Reachability: with the base recipe's options plus the options the space itself can choose.
    extra: dict[str, set[str]] = {}
    for path, spec in specs.items():
        if spec.choices and any(t.options for t in resolve(path)):
            extra.setdefault(path.removesuffix(".name"), set()).update(
                n
                for n in map(option_name, spec.choices)
                if n  # `relu` or {name: leaky_relu, ...}
            )
    for path in specs:
        if not resolve(path, base, extra):
            problems.append((("search", "space", path), _never_sampled(path, base)))
    return problems


def _section_problems(path: str, spec: ParamSpec, targets: list[Target], section: type[BaseModel]):
    """(location under the entry, message) for each choice of a section searched as whole settings, each
    validated as that section is in a recipe; two choices of one setting would train it twice."""
    fields = list(section.model_fields)
    example = f"{path}: [{NONE}, {{{fields[0]}: ...}}]"
    if spec.is_range:
        yield (), f"'{path}' is a section: list whole settings as choices, e.g. {example}"
        return
    seen: list[tuple[int, Any]] = []
    for i, choice in enumerate(spec.choices):
        value = whole_setting(targets, choice)
        if isinstance(value, Mapping):
            try:
                setting = section.model_validate(value).model_dump()
            except ValidationError as e:
                for sub, msg in explain(e, value, root=section):
                    yield ("choices", i, *(sub or ())), msg
                continue
        elif value is None:
            setting = None  # off
        else:
            yield (
                ("choices", i),
                f"a choice of {path} is a whole setting: a mapping of its fields ({choices_text(fields)}),"
                f" or {NONE} for its defaults (got {found(choice)})",
            )
            continue
        same = next((j for j, earlier in seen if earlier == setting), None)
        if same is not None:
            yield (
                ("choices", i),
                f"the same setting as choices[{same}] ({shown(spec.choices[same])}); keep one",
            )
            continue
        seen.append((i, setting))


def _spec_problems(path: str, spec: ParamSpec, targets: list[Target]):
    if not spec.is_range:
        options = next((t.options for t in targets if t.options is not None), None)
        for i, choice in enumerate(spec.choices):
            if options is not None and isinstance(choice, str) and choice not in options:
                family = path.removesuffix(".name").rpartition(".")[2]
                yield (
                    ("choices", i),
                    (
                        f"unknown {family} {choice!r};{did_you_mean(choice, options)}"
                        f" valid: {choices_text(options)}"
                    ),
                )
                continue
            reason = check_value(targets, choice)
            if reason:
                yield ("choices", i), f"choice {choice!r} is not valid for {path}: {reason}"
        return
    if any(t.options is not None for t in targets):
        yield (), f"{path} chooses an option; list the options as choices: [...]"
        return
    numeric = [t for t in targets if base_type(t.annotation) in (int, float)]
    if not numeric:
        yield (), f"{path} is not a number; give choices: [...] instead of low/high"
        return
    if all(base_type(t.annotation) is int for t in numeric):
        fractional = [
            k
            for k in ("low", "high", "step")
            if getattr(spec, k) is not None and float(getattr(spec, k)) != int(getattr(spec, k))
        ]
        for key in fractional:
            yield (key,), f"{path} is an integer; {key} must be a whole number (got {getattr(spec, key)})"
        if fractional:
            return
    for key in ("low", "high"):
        reason = check_value(numeric, getattr(spec, key))
        if reason:
            yield (key,), f"{key} {getattr(spec, key)} is out of range for {path}: {reason}"


def _never_sampled(path: str, base: Mapping[str, Any]) -> str:
    """Explain which option choice hides `path`, and how to reach it."""
    segs = path.split(".")
    for i in range(1, len(segs)):
        node = ".".join(segs[:i])
        targets = [t for t in resolve(node) if t.options is not None]
        if not targets:
            continue
        raw = base
        for s in segs[:i]:
            raw = raw.get(s) if isinstance(raw, Mapping) else None
        name = option_name(raw)
        takers = sorted(n for n, m in targets[0].options.items() if segs[i] in m.model_fields)
        if name is not None and segs[i] not in targets[0].options.get(name, BaseModel).model_fields:
            return (
                f"never sampled: {node} is '{name}', which has no '{segs[i]}'; options that take it:"
                f" {', '.join(takers)} (search {node}.name over some of them, or set {node} to one)"
            )
    return "never sampled with the options this recipe chooses"
