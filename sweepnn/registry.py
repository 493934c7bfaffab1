"""Registries: one per option family, mapping a short lowercase name to a frozen spec.

A spec says what an option is (a one-line description), which parameters it takes (a frozen pydantic
model generated from `fields`, so a recipe is checked against it) and how to build it (data the
family's builder reads: a torch class name, a pure function). The same registry drives recipe
validation, the JSON Schema, `sweepnn options`, conditional sampling and the tests, so adding an
option is adding one entry.

In a recipe an option is written as its name (`activation: relu`) or as a mapping with its name and
parameters (`activation: {name: leaky_relu, slope: 0.2}`); both validate to the entry's model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, Literal, TypeVar, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, model_validator

from sweepnn.errors import UnknownOptionError, choices_text, did_you_mean


class _Required:
    """Marks a parameter without a default in listings (`path=required`)."""

    def __repr__(self) -> str:
        return "required"


REQUIRED = _Required()


class Frozen(BaseModel):
    """Base of every configuration node: immutable, unknown keys are an error, and so are the
    infinite and NaN numbers YAML can spell (`.inf`, `1e400`): no setting means them.

    Strict: a value is taken as written, never converted (`true` is not a batch size of 1, `"3"` is
    not 3 epochs). A whole number is still a number where a float is asked for (`lr: 1`), and
    `1e-3` is a float because the loader reads it as one (sweepnn.recipe.loading)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class OptionParams(Frozen):
    """Base of the generated parameter model of one option; `name` tells the options apart."""

    name: str


@dataclass(frozen=True)
class Spec:
    """What every option has. Families subclass it to add how the option is built."""

    name: str
    description: str
    # parameter name -> (type, pydantic Field with default, bounds and a description)
    fields: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    # a check across parameters (raise ValueError with the message a user should read)
    check: Callable[[Any], None] | None = None

    @functools.cached_property
    def params(self) -> type[OptionParams]:
        raise NotImplementedError  # replaced per registry in Registry.__init__

    def defaults(self) -> dict[str, Any]:
        """Each parameter's default; "required" for those a recipe must give (a file's path)."""
        out: dict[str, Any] = {}
        for k, f in self.params.model_fields.items():
            if k != "name":
                value = REQUIRED if f.is_required() else f.get_default(call_default_factory=True)
                out[k] = value.model_dump() if isinstance(value, BaseModel) else value
        return out


S = TypeVar("S", bound=Spec)


def _after(check: Callable[[Any], None]):
    def validate(self):
        check(self)
        return self

    return validate


def _fill_name(default: str, value: Any) -> Any:
    if isinstance(value, Mapping) and "name" not in value:
        return {"name": default, **value}
    return value


def _shorthand(value: Any) -> Any:
    """`relu` is short for `{name: relu}`."""
    return {"name": value} if isinstance(value, str) else value


class Registry(Mapping[str, S], Generic[S]):
    """An ordered, read-only name -> spec mapping for one option family."""

    def __init__(self, family: str, specs: list[S], base: type[OptionParams] = OptionParams):
        self.family = family
        self._specs: dict[str, S] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"duplicate {family} option {spec.name!r}")
            validators = {"_check": model_validator(mode="after")(_after(spec.check))} if spec.check else None
            model = create_model(
                _model_name(family, spec.name),
                __base__=base,
                __doc__=spec.description,
                __validators__=validators,
                name=(Literal[spec.name], spec.name),
                **dict(spec.fields),
            )
            # The spec is frozen; its params model is computed once here, not on each access.
            spec.__dict__["params"] = model
            self._specs[spec.name] = spec

    def __getitem__(self, name: str) -> S:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownOptionError(
                f"unknown {self.family} {name!r};{did_you_mean(name, self._specs)}"
                f" valid: {choices_text(self._specs)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def parse(self, value: Any) -> OptionParams:
        """A name or a {name, ...} mapping -> that option's validated parameter model."""
        value = _shorthand(value)
        return self[value["name"]].params.model_validate(value)

    def type_for(self, default: str) -> Any:
        """`type`, where a mapping without a name means the default option: `model: {depth: 3}`."""
        self[default]  # fail at import time on a misspelt default
        return Annotated[self.type, BeforeValidator(functools.partial(_fill_name, default))]

    def default(self, name: str) -> Any:
        """A pydantic default factory for a config field holding this family's option `name`."""
        model = self[name].params
        return Field(default_factory=model)

    @functools.cached_property
    def type(self) -> Any:
        """The annotation of a config field that holds one option of this family."""
        models = tuple(spec.params for spec in self._specs.values())
        names = tuple(self._specs)
        union: Any = (
            models[0] if len(models) == 1 else Annotated[Union[models], Field(discriminator="name")]  # noqa: UP007
        )
        return Annotated[
            union,
            BeforeValidator(_shorthand, json_schema_input_type=Union[Literal[names], union]),  # noqa: UP007
        ]


def _model_name(family: str, name: str) -> str:
    camel = "".join(part.capitalize() for part in f"{family} {name}".replace("_", " ").split())
    return camel


def variants(annotation: Any) -> dict[str, type[OptionParams]] | None:
    """The options of a registry field annotation as name -> model, or None for other fields.

    Used by the path resolver: a dotted path walks through an option node by the option's name.
    """
    from typing import get_args, get_origin

    if get_origin(annotation) is Annotated:
        return variants(get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, OptionParams):
        return {_literal(annotation): annotation}
    args = get_args(annotation)
    if args and all(isinstance(a, type) and issubclass(a, OptionParams) for a in args):
        return {_literal(a): a for a in args}
    return None


def _literal(model: type[OptionParams]) -> str:
    from typing import get_args

    return get_args(model.model_fields["name"].annotation)[0]
