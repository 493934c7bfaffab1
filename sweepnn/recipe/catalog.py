"""Every option family by name: for `sweepnn options`, the docs and registry-driven tests."""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from sweepnn.errors import SweepnnError, UnknownOptionError, choices_text, did_you_mean
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
    """The reference of sweepnn's own options as Markdown (of every family, or of those given):
    docs/options.md's copy is checked against this by a test, so options installed packages
    register are left out (`sweepnn options` lists them)."""
    lines = []
    for reg in FAMILIES.values() if registries is None else registries:
        lines += [
            f"**{reg.family}** ({len(reg.builtins)})",
            "",
            "| name | parameters (defaults) | description |",
            "| --- | --- | --- |",
        ]
        for name, spec in reg.builtins.items():
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


def _loadable(reg: Registry) -> list[str]:
    """The installed options of a family that load; one that cannot is left out of the schema (and
    says why in `sweepnn options`), so a broken plugin does not take the others' schema with it."""
    out = []
    for name in reg.names():
        if name in reg.builtins:
            continue
        try:
            reg[name]
        except SweepnnError:
            continue
        out.append(name)
    return out


def with_installed(schema: dict[str, Any]) -> dict[str, Any]:
    """The recipe's JSON Schema with the options installed packages register (entry points) added to
    their families' unions, so an editor completes and checks them as it does the built-ins. Loads
    those plugins: a listing names them all."""
    from pydantic import create_model

    extra = {reg.family: _loadable(reg) for reg in FAMILIES.values() if reg.extension is not None}
    extra = {family: names for family, names in extra.items() if names}
    if not extra:
        return schema
    models = {f"{family}:{n}": FAMILIES[family][n].params for family, names in extra.items() for n in names}
    holder = create_model("Installed", **{f"m{i}": (m, ...) for i, m in enumerate(models.values())})
    generated = holder.model_json_schema(ref_template="#/$defs/{model}")
    schema.setdefault("$defs", {}).update(generated.get("$defs", {}))

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            mapping = (node.get("discriminator") or {}).get("mapping")
            if mapping:
                for family, names in extra.items():
                    if set(mapping) == set(FAMILIES[family].builtins):
                        for n in names:
                            ref = f"#/$defs/{FAMILIES[family][n].params.__name__}"
                            mapping[n] = ref
                            node["oneOf"].append({"$ref": ref})
                        for sibling in schema_siblings.get(id(node), []):
                            sibling["enum"] = [*sibling["enum"], *names]
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    # the shorthand `model: name` beside a union: an anyOf of an enum of names and the union itself
    schema_siblings: dict[int, list[dict]] = {}

    def pair(node: Any) -> None:
        if isinstance(node, dict):
            options = node.get("anyOf")
            if isinstance(options, list):
                enums = [o for o in options if isinstance(o, dict) and "enum" in o]
                unions = [o for o in options if isinstance(o, dict) and "discriminator" in o]
                for u in unions:
                    schema_siblings.setdefault(id(u), []).extend(enums)
            for value in node.values():
                pair(value)
        elif isinstance(node, list):
            for value in node:
                pair(value)

    pair(schema)
    visit(schema)
    return schema
