"""When a run resumes a study: the recipe it was started with must be the same but for the budget.
The fingerprint says whether it is; the changes say, at the paths a user writes, what differs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sweepnn.recipe.config import Recipe

# The parts of a recipe that may change between runs of one study: extending the budget, or giving
# more trials a test score, is resuming. The fingerprint leaves them out; so do the changes listed.
RESUMABLE = (
    ("name",),
    ("description",),
    ("code",),  # where the user's code is imported from: a moved project resumes its study
    ("search", "n_trials"),
    ("search", "timeout"),
    ("search", "test_top"),
    ("search", "save_top"),
    ("search", "group_size"),
    ("search", "target"),  # what the trials are timed to: read from their curves, never trained for
)


def _exclude(paths) -> dict:
    """pydantic's `exclude` for the paths: {"name": True, "search": {"n_trials": True, ...}}."""
    out: dict = {}
    for path in paths:
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = True
    return out


def fingerprint(recipe: Recipe) -> str:
    """What a study's recipe must keep for a later run to resume it: a digest of everything but the
    budget and the names (RESUMABLE)."""
    data = recipe.model_dump(mode="json", exclude=_exclude(RESUMABLE))
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


_ABSENT = object()


def recipe_changes(old: dict, new: dict, limit: int = 8) -> list[str]:
    """'path: old -> new' once for each setting that differs (the budget excluded), at the path a
    user writes: a searched parameter added or removed is one line (`search.space['model.dropout']`),
    and so is an option switched for another (`train.optimizer: 'adam' -> 'sgd'`), not one per key
    below them."""
    from sweepnn.recipe.locations import dotted

    lines: list[str] = []

    def shown(value: Any) -> str:
        if value is _ABSENT:
            return "(absent)"
        if isinstance(value, dict):  # a searched parameter's unset keys (step: None) say nothing
            return repr({k: v for k, v in value.items() if v is not None and v is not False})
        return repr(value)

    def walk(a: Any, b: Any, loc: tuple) -> None:
        if a == b or loc in RESUMABLE:
            return
        if isinstance(a, dict) and isinstance(b, dict) and a.get("name") == b.get("name"):
            for key in sorted(set(a) | set(b), key=str):
                walk(a.get(key, _ABSENT), b.get(key, _ABSENT), (*loc, key))
            return
        if isinstance(a, dict) and isinstance(b, dict):  # another option: its name says it
            lines.append(f"{dotted(loc)}: {a['name']!r} -> {b['name']!r}")
            return
        lines.append(f"{dotted(loc)}: {shown(a)} -> {shown(b)}")

    walk(old, new, ())
    out = lines[:limit]
    return out + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])
