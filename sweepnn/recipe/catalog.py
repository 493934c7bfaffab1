"""Every option family by name: for `sweepnn options`, the docs and registry-driven tests."""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from sweepnn.errors import UnknownOptionError, choices_text, did_you_mean
from sweepnn.options.activations import ACTIVATIONS
from sweepnn.options.augment import AUGMENTATIONS
from sweepnn.options.datasets import DATASETS
from sweepnn.options.inits import INITS
from sweepnn.options.losses import LOSSES
from sweepnn.options.metrics import METRICS
from sweepnn.options.models import MODELS
from sweepnn.options.norms import NORMS
from sweepnn.options.optimizers import OPTIMIZERS
from sweepnn.options.regularizers import PENALTIES
from sweepnn.options.scalers import SCALERS
from sweepnn.options.schedules import SCHEDULES, WARMUPS
from sweepnn.options.search import PRUNERS, SAMPLERS
from sweepnn.registry import Registry

FAMILIES: dict[str, Registry] = {
    r.family: r
    for r in (
        DATASETS,
        MODELS,
        INITS,
        ACTIVATIONS,
        NORMS,
        OPTIMIZERS,
        SCHEDULES,
        WARMUPS,
        PENALTIES,
        SCALERS,
        AUGMENTATIONS,
        LOSSES,
        METRICS,
        SAMPLERS,
        PRUNERS,
    )
}


def family(name: str) -> Registry:
    """The registry of the option family `name`, in any case, a trailing 's' dropped ('Optimizers'); an
    unknown family is an UnknownOptionError listing the valid ones."""
    key = name.lower().rstrip("s") if name.lower() not in FAMILIES else name.lower()
    if key not in FAMILIES:
        raise UnknownOptionError(
            f"unknown option family {name!r};{did_you_mean(name, FAMILIES)} valid: {choices_text(FAMILIES)}"
        )
    return FAMILIES[key]


def default_text(value) -> str:
    """A default as the option listings show it: a nested option as its name, a string quoted, else str()."""
    if isinstance(value, dict):  # a nested option: its name
        return str(value.get("name"))
    return repr(value) if isinstance(value, str) else str(value)


def reference_markdown(registries: list[Registry] | None = None) -> str:
    """The option reference as Markdown (of every family, or of those given): docs/options.md's
    copy is checked against this by a test."""
    lines = []
    for reg in FAMILIES.values() if registries is None else registries:
        lines += [
            f"**{reg.family}** ({len(reg)})",
            "",
            "| name | parameters (defaults) | description |",
            "| --- | --- | --- |",
        ]
        for name, spec in reg.items():
            params = ", ".join(f"`{k}={default_text(v)}`" for k, v in spec.defaults().items())
            lines.append(f"| `{name}` | {params} | {spec.description} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


@dataclass(frozen=True)
class PlainField:
    """A setting of a recipe outside any option: set it where it stands, or search its path."""

    path: str
    kind: str  # what it takes, in a recipe's words
    default: Any
    description: str


def plain_fields() -> list[PlainField]:
    """Every field of the searchable sections that is not an option's parameter, from the schema:
    `train.epochs`, `train.regularization.clip_norm`, ... An option field itself (`train.optimizer`)
    is listed too, pointing at its family."""
    from sweepnn.recipe.config import Recipe
    from sweepnn.recipe.paths import SEARCHABLE_SECTIONS, unwrap
    from sweepnn.registry import variants

    out: list[PlainField] = []

    def visit(model: type[BaseModel], prefix: str) -> None:
        for name, f in model.model_fields.items():
            path, ann = f"{prefix}.{name}", unwrap(f.annotation)
            default = None if f.is_required() else f.get_default(call_default_factory=True)
            options = variants(ann)
            if options is not None:
                family = _family_of(options)
                kind = f"one {family} (sweepnn options {family})" if family else "an option"
                out.append(PlainField(path, kind, getattr(default, "name", None), f.description or ""))
            elif isinstance(ann, type) and issubclass(ann, BaseModel):
                visit(ann, path)
            else:
                kind = ", ".join([kind_text(f.annotation), *_bounds(f.metadata)])
                out.append(PlainField(path, kind, default, f.description or ""))

    for section in SEARCHABLE_SECTIONS:
        ann = unwrap(Recipe.model_fields[section].annotation)
        if variants(ann) is None:  # data and model are options: their parameters are listed there
            visit(ann, section)
        else:
            f = Recipe.model_fields[section]
            family = _family_of(variants(ann))
            default = f.get_default(call_default_factory=True)
            out.append(PlainField(section, f"one {family} (sweepnn options {family})", default.name, ""))
    return out


def fields_markdown() -> str:
    """The recipe's plain fields (`plain_fields`) as a Markdown table: path, takes, default, description."""
    lines = ["| path | takes | default | description |", "| --- | --- | --- | --- |"]
    for f in plain_fields():
        lines.append(f"| `{f.path}` | {f.kind} | `{default_text(f.default)}` | {f.description} |")
    return "\n".join(lines) + "\n"


def _family_of(options: dict[str, Any]) -> str | None:
    for reg in FAMILIES.values():
        if set(options) == set(reg):
            return reg.family
    return None


def _bounds(metadata: list[Any]) -> list[str]:
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    return [f"{sign} {getattr(m, k)}" for m in metadata for k, sign in signs.items() if hasattr(m, k)]


def kind_text(annotation: Any) -> str:
    """`int | None` -> 'whole number or null', `Literal['fp32', 'bf16']` -> 'fp32 | bf16'."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return kind_text(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = get_args(annotation)
        return " or ".join(kind_text(a) for a in args if a is not type(None)) + (
            " or null" if type(None) in args else ""
        )
    if origin is Literal:
        return " | ".join(map(str, get_args(annotation)))
    if origin is list:
        return f"list of {kind_text(get_args(annotation)[0])}"
    return {bool: "true/false", int: "whole number", float: "number", str: "text"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )
