"""Where a problem is in a recipe: dotted key paths, and error locations cleaned of pydantic's tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sweepnn.catalog import FAMILIES

Loc = tuple[Any, ...]
_OPTIONS = frozenset(name for reg in FAMILIES.values() for name in reg)


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
