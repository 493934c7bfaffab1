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
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, Literal, TypeVar, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WrapSerializer,
    WrapValidator,
    create_model,
    model_validator,
)

from sweepnn.errors import SweepnnError, UnknownOptionError, choices_text, did_you_mean


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


# What makes a spec out of a user's own code: (registry, option name, the loaded object) -> spec.
OwnCode = Callable[["Registry", str, Any], Any]


@dataclass(frozen=True)
class Extension:
    """How a family takes options from outside sweepnn (set by sweepnn.options.own): the entry-point
    group installed packages register under, a loader of a name (an entry point, or an import path
    `module:attr`) and the maker of a spec from what it loaded."""

    group: str
    names: Callable[[], list[str]]  # the group's registered names, read without importing anything
    load: Callable[[str], Any]  # name -> the object it names (raises InputError in the user's words)
    make: OwnCode


class Registry(Mapping[str, S], Generic[S]):
    """An ordered, read-only name -> spec mapping for one option family.

    A family open to a user's own code (`extension`) also knows the options installed packages
    register, listed after the built-ins, and any import path (`nets:resnet`); both are loaded only
    when a recipe or a listing names them, and from then on are looked up like built-ins."""

    def __init__(self, family: str, specs: list[S], base: type[OptionParams] = OptionParams):
        self.family = family
        self.base = base
        self.extension: Extension | None = None
        self._specs: dict[str, S] = {}
        self._own: dict[str, S] = {}  # options from outside sweepnn, loaded so far
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"duplicate {family} option {spec.name!r}")
            self._specs[spec.name] = self._with_params(spec)

    def _with_params(self, spec: S) -> S:
        validators = {"_check": model_validator(mode="after")(_after(spec.check))} if spec.check else None
        model = create_model(
            _model_name(self.family, spec.name),
            __base__=self.base,
            __doc__=spec.description,
            __validators__=validators,
            name=(Literal[spec.name], spec.name),
            **dict(spec.fields),
        )
        # The spec is frozen; its params model is computed once here, not on each access.
        spec.__dict__["params"] = model
        _FAMILY_OF[model] = self
        return spec

    @property
    def builtins(self) -> dict[str, S]:
        return dict(self._specs)

    def is_own(self, name: Any) -> bool:
        """Does `name` name an option from outside sweepnn: an import path, or an installed one?"""
        if self.extension is None or not isinstance(name, str) or name in self._specs:
            return False
        return name in self._own or ":" in name or name in self.extension.names()

    def __getitem__(self, name: str) -> S:
        if name in self._specs:
            return self._specs[name]
        if name in self._own:
            return self._own[name]
        if self.is_own(name):
            spec = self._with_params(self.extension.make(self, name, self.extension.load(name)))
            self._own[name] = spec
            return spec
        names = self.names()
        raise UnknownOptionError(
            f"unknown {self.family} {name!r};{did_you_mean(name, names)} valid: {choices_text(names)}"
        )

    def __iter__(self) -> Iterator[str]:
        """The built-ins: iterating (`items()`, a path walking every option, a test over the family)
        never imports a plugin, and sees the same options whatever recipes this process read."""
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        """Every name a recipe may give: the built-ins, then those installed packages register (read,
        not loaded) and any loaded import path; what a listing shows and a suggestion picks from."""
        installed = self.extension.names() if self.extension else []
        return list(dict.fromkeys([*self._specs, *installed, *self._own]))

    def __contains__(self, name: object) -> bool:
        return name in self._specs or name in self._own or self.is_own(name)

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
        """The annotation of a config field that holds one option of this family.

        The built-ins are a tagged union (what the JSON Schema shows); an option from outside sweepnn
        is validated against its own parameter model, so its errors are located like a built-in's."""
        models = tuple(spec.params for spec in self._specs.values())
        names = tuple(self._specs)
        union: Any = (
            models[0] if len(models) == 1 else Annotated[Union[models], Field(discriminator="name")]  # noqa: UP007
        )
        return Annotated[
            union,
            WrapValidator(self._validate_own),
            WrapSerializer(_serialize_own, when_used="always"),
            BeforeValidator(_shorthand, json_schema_input_type=Union[Literal[names], union]),  # noqa: UP007
        ]

    def _validate_own(self, value: Any, handler: Callable[[Any], Any]) -> Any:
        name = value.get("name") if isinstance(value, Mapping) else None
        if isinstance(value, OptionParams) and value.name in self._own:
            return value
        known = isinstance(name, str) and name in self._specs
        if known or not isinstance(name, str) or (self.extension is None):
            return handler(value)
        from pydantic import ValidationError
        from pydantic_core import PydanticCustomError

        try:  # an import path, an installed option, or a name no one knows (listed with the installed)
            model = self[name].params
        except SweepnnError as e:  # the import failed, or the factory cannot be typed: at its name
            error = PydanticCustomError("own_code", "{problem}", {"problem": str(e)})
            raise ValidationError.from_exception_data(
                "own code", [{"type": error, "loc": ("name",), "input": name}]
            ) from None
        return model.model_validate(value)


def _serialize_own(value: Any, handler: Callable[[Any], Any], info: Any) -> Any:
    """An option from outside sweepnn is not a member of the built-ins' union: dump it by its own model."""
    if isinstance(value, OptionParams) and _FAMILY_OF.get(type(value)) is not None:
        family = _FAMILY_OF[type(value)]
        if value.name in family._own:
            return value.model_dump(mode=info.mode, exclude_unset=info.exclude_unset)
    return handler(value)


# parameter model -> its registry: which family a node of a recipe belongs to, for the path resolver
_FAMILY_OF: dict[type, Registry] = {}


def _model_name(family: str, name: str) -> str:
    camel = "".join(part.capitalize() for part in re.sub(r"[^A-Za-z0-9]", " ", f"{family} {name}").split())
    return camel


class Variants(Mapping[str, type[OptionParams]]):
    """The options of one family's node as name -> parameter model: the built-ins and installed ones
    when iterated, and any import path when looked up (loading it)."""

    def __init__(self, registry: Registry):
        self.registry = registry

    def __getitem__(self, name: str) -> type[OptionParams]:
        if name not in self.registry:
            raise KeyError(name)
        return self.registry[name].params

    def __iter__(self) -> Iterator[str]:
        return iter(self.registry)

    def __len__(self) -> int:
        return len(self.registry)

    def __contains__(self, name: object) -> bool:
        return name in self.registry


def variants(annotation: Any) -> Mapping[str, type[OptionParams]] | None:
    """The options of a registry field annotation as name -> model, or None for other fields.

    Used by the path resolver: a dotted path walks through an option node by the option's name.
    """
    from typing import get_args, get_origin

    if get_origin(annotation) is Annotated:
        return variants(get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, OptionParams):
        models = [annotation]
    else:
        models = list(get_args(annotation))
        if not models or not all(isinstance(a, type) and issubclass(a, OptionParams) for a in models):
            return None
    family = _FAMILY_OF.get(models[0])
    if family is not None and family.extension is not None:
        return Variants(family)
    return {_literal(a): a for a in models}


def _literal(model: type[OptionParams]) -> str:
    from typing import get_args

    return get_args(model.model_fields["name"].annotation)[0]
