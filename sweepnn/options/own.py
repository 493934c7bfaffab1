"""A user's own code as options: factories named by import path (`nets:resnet`, `mypkg.models:ResNet`)
and options that installed packages register through entry points (groups `sweepnn.models`,
`sweepnn.datasets`, `sweepnn.losses`, `sweepnn.metrics`).

A factory's parameters become the option's fields, typed from its signature (annotations and defaults)
or from a pydantic model it declares as `Params`, so a recipe's `depth: "20"` or a misspelt keyword is
a located load-time error and `search.space` addresses them (`model.depth: [20, 32]`) like any
built-in's. Nothing here imports a user's module until a recipe (or a listing) names it: entry points
are read, by name, not loaded; `sweepnn --help` and recipes of built-ins never run plugin code.

Failures in the user's code (an import that fails, a factory that raises or returns the wrong thing)
are InputErrors that name the user's own file and line, not sweepnn's.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from sweepnn.errors import InputError, did_you_mean
from sweepnn.options.users_code import failure, users_packages, where_in
from sweepnn.registry import Extension, Registry

# What a factory may ask for by parameter name that the data decides, not the recipe: the shape of
# one input example, its size flattened, its channels, and the number of outputs (classes, targets).
DATA_PARAMETERS: dict[str, Callable[[tuple[int, ...], int], Any]] = {
    "input_shape": lambda shape, outputs: tuple(shape),
    "in_features": lambda shape, outputs: _prod(shape),
    "in_channels": lambda shape, outputs: shape[0] if len(shape) > 1 else 1,
    "num_classes": lambda shape, outputs: outputs,
    "n_outputs": lambda shape, outputs: outputs,
    "outputs": lambda shape, outputs: outputs,
}
# Parameters known by name get the bounds of the built-ins' fields of that name.
KNOWN_BOUNDS = {"dropout": {"ge": 0, "lt": 1}}


def _prod(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


_FOLDERS: list[str] = []  # the folders add_code_folder made importable, in order


def code_folders() -> list[str]:
    """The recipe folders this process made importable: a study records them, so its readers find the
    user's code again."""
    return list(_FOLDERS)


def add_code_folder(folder: str | Path) -> None:
    """Make the modules in `folder` (a recipe's own folder) importable by name, here and in the
    processes this one starts (workers): first on sys.path and on PYTHONPATH, as Python does for a
    script's folder."""
    path = str(Path(folder).resolve())
    if path not in _FOLDERS:
        _FOLDERS.append(path)
    if path not in sys.path:
        sys.path.insert(0, path)
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if path not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([path, *parts])
    importlib.invalidate_caches()


# ---- loading what a name names -------------------------------------------------------------------


@functools.cache
def installed(group: str) -> dict[str, Any]:
    """The entry points of `group` by name: read from the installed packages' metadata, not loaded."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=group)}


def load_path(path: str, family: str) -> Any:
    """The object an import path `module:attr` (attr may be dotted: `mod:Class.build`) names."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise InputError(f"{family} {path!r}: an import path is module:name, e.g. nets:resnet")
    users_packages.add(module_name.split(".")[0])
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name == module_name or module_name.startswith(f"{e.name}."):  # not one it imports
            raise InputError(
                f"cannot import {module_name!r} for {family} {path!r}: no module {e.name!r} in the recipe's"
                " folder or on the Python path"
            ) from None
        raise failure(f"importing {module_name!r} for {family} {path!r}", e) from e
    except Exception as e:
        raise failure(f"importing {module_name!r} for {family} {path!r}", e) from e
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = _callables(obj)
            where = getattr(obj, "__file__", None)
            where = where_in(where, None) if where else getattr(obj, "__name__", module_name)
            listed = ", ".join(sorted(names)) or "nothing to call"
            raise InputError(
                f"{family} {path!r}: {where} has no {part!r};{did_you_mean(part, names)} it has: {listed}"
            )
        obj = getattr(obj, part)
    return obj


def _callables(obj: Any) -> list[str]:
    """The public callables of a module or class: a module's own first (not those it imports: `nn`,
    `Any`), all of them when it defines none."""
    names = [n for n in dir(obj) if not n.startswith("_") and callable(getattr(obj, n, None))]
    if inspect.ismodule(obj):
        own = [n for n in names if getattr(getattr(obj, n), "__module__", None) == obj.__name__]
        return own or names
    return names


def _loader(group: str, family: str) -> Callable[[str], Any]:
    def load(name: str) -> Any:
        if ":" in name:
            return load_path(name, family)
        ep = installed(group)[name]
        users_packages.add(ep.value.split(":")[0].split(".")[0].strip())
        try:
            return ep.load()
        except Exception as e:
            raise failure(f"loading {family} {name!r} (entry point {ep.value} of {group})", e) from e

    return load


# ---- a factory's parameters as an option's fields ------------------------------------------------


def _annotation_of(default: Any) -> Any:
    """The type of a parameter that has a default but no annotation: the default's own."""
    if default is inspect.Parameter.empty or default is None:
        return Any
    if isinstance(default, (list, tuple)):
        return list[Any]
    return type(default)


def _hints(target: Callable) -> tuple[dict[str, Any], set[str]]:
    """The parameters' annotations, resolved, and the names of those that cannot be (a name imported
    only under TYPE_CHECKING): each resolved on its own, so one such name spoils no other."""
    try:
        return typing.get_type_hints(target), set()
    except Exception:
        pass
    hints: dict[str, Any] = {}
    unresolved: set[str] = set()
    namespace = getattr(inspect.unwrap(target), "__globals__", {})
    for name, ann in getattr(target, "__annotations__", {}).items():
        if isinstance(ann, str):
            try:
                ann = eval(ann, namespace)  # what typing.get_type_hints does, one name at a time
            except Exception:
                unresolved.add(name)
                continue
        hints[name] = ann
    return hints, unresolved


def _writable(ann: Any, default: Any) -> bool:
    """Can a recipe write a value of type `ann`, and its default be written back into one (best.yaml)?
    Not so for a module, a tensor or a class (`block=BasicBlock`): such a parameter keeps its default."""
    from pydantic import TypeAdapter

    try:
        adapter = TypeAdapter(ann)
        adapter.json_schema()
        if default is not ...:
            adapter.dump_python(default, mode="json")
    except Exception:
        return False
    return True


def signature_fields(factory: Callable, label: str, skip: set[str]) -> dict[str, tuple[Any, Any]]:
    """name -> (type, Field) of the factory's keyword parameters, or of its declared `Params` model;
    parameters in `skip` (what sweepnn passes itself) and *args/**kwargs left out, and so are those with
    a default a recipe cannot write (a module, a class, a tensor): the factory keeps their defaults."""
    declared = getattr(factory, "Params", None)
    if isinstance(declared, type) and issubclass(declared, BaseModel):
        return {k: (f.annotation, f) for k, f in declared.model_fields.items() if k not in skip}
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError) as e:
        raise InputError(f"{label}: cannot read the parameters of {factory!r}: {e}") from None
    hints, unresolved = _hints(target)
    fields: dict[str, tuple[Any, Any]] = {}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in skip or p.name == "self":
            continue
        if p.kind is p.POSITIONAL_ONLY:
            raise InputError(f"{label}: parameter {p.name!r} is positional-only; a recipe passes keywords")
        if p.name == "name":
            raise InputError(f"{label}: a parameter called 'name' clashes with the option's name; rename it")
        default = ... if p.default is inspect.Parameter.empty else p.default
        if isinstance(default, tuple):
            default = list(default)
        ann = hints.get(p.name, _annotation_of(p.default))
        if p.name in unresolved or not _writable(ann, default):
            if default is not ...:
                continue
            shown = p.annotation if isinstance(p.annotation, str) else getattr(ann, "__name__", ann)
            raise InputError(
                f"{label}: its parameter {p.name!r} takes {shown}, which a recipe cannot write;"
                " give it a default, or a type such as int, float, str or a list of them"
            )
        bounds = KNOWN_BOUNDS.get(p.name, {})
        fields[p.name] = (ann, Field(default, **bounds))
    return fields


def declared_check(factory: Callable) -> Callable[[Any], None] | None:
    """The check of a factory's declared `Params` model (its validators), run on a recipe's values: the
    option's own model has its fields but not its validators."""
    declared = getattr(factory, "Params", None)
    if not (isinstance(declared, type) and issubclass(declared, BaseModel)):
        return None

    def check(p: Any) -> None:
        from pydantic import ValidationError

        try:
            declared.model_validate({k: getattr(p, k) for k in declared.model_fields if hasattr(p, k)})
        except ValidationError as e:
            raise ValueError(
                "; ".join(f"{'.'.join(map(str, err['loc'])) or 'value'}: {err['msg']}" for err in e.errors())
            ) from None

    return check


def description_of(factory: Any, fallback: str) -> str:
    """The first line of the factory's docstring, the option's description (`sweepnn options`)."""
    doc = inspect.getdoc(factory) or ""
    return doc.strip().splitlines()[0] if doc.strip() else fallback


def open_family(registry: Registry, group: str, make: Callable[[Registry, str, Any], Any]) -> None:
    """Let `registry` take options from installed packages (entry-point `group`) and import paths."""
    registry.extension = Extension(
        group=group,
        names=lambda: sorted(installed(group)),
        load=_loader(group, registry.family),
        make=make,
    )
