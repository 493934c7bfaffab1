"""Reading finished studies back: which studies a storage holds, and the value every trial had at a
recipe path.

Everything here speaks the recipe's dotted paths, as the search space does. A trial records only the
values it sampled; a value it did not record (a path its recipe fixed, or one that only exists under
another option) is read from that study's recipe as the trial's choices left it, so two studies that
fixed different values (`norm: none` in one, `norm: batchnorm` in the other) compare on one footing.
The studies come opened from sweepnn.sweep.reading (the only place they are opened).
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

import pandas as pd

from sweepnn import record
from sweepnn.errors import InputError, SweepnnError, did_you_mean
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.paths import all_paths, base_type, closest_path, resolve
from sweepnn.recipe.space import apply, plan
from sweepnn.record import state_counts
from sweepnn.results.values import params_of
from sweepnn.speed import finite as _finite
from sweepnn.sweep.reading import Stored, recipe_of

NA = "n/a"  # the value of a path that does not exist in a trial's configuration (momentum under adam)
# A numeric path with more distinct values than this (a float range) is grouped into quartiles.
MAX_LEVELS = 8


def summaries(storage) -> pd.DataFrame:
    """One row per study in the storage: trial counts by state, and the best value of its objective."""
    rows = []
    for s in sorted(storage.get_all_studies(), key=lambda s: s.study_name):
        trials = storage.get_all_trials(storage.get_study_id_from_name(s.study_name), deepcopy=False)
        try:
            recipe = recipe_of(s)
        except SweepnnError:  # its own code cannot be read here: listed all the same, by its values
            recipe = None
        direction = s.directions[0].name.lower()
        metric = recipe.search.objectives[0].metric if recipe else "value"
        # the counts every command shows (sweepnn.training.result); a trial waiting to start is running
        by_state = {"complete": 0, "pruned": 0, "failed": 0, "running": 0, "interrupted": 0, "crashed": 0}
        for state, n in state_counts(trials).items():
            by_state[{"waiting": "running"}.get(state, state)] += n
        complete = [t for t in trials if t.state.name == "COMPLETE" and t.values]
        pick = max if direction == "maximize" else min
        best = pick(complete, key=lambda t: t.values[0]) if complete else None
        rows.append(
            {
                "study": s.study_name,
                "trials": sum(by_state.values()),
                **by_state,
                "objective": f"{metric} ({direction[:3]})",
                "best": best.values[0] if best else None,
                "best trial": best.number if best else None,
            }
        )
    columns = [
        "study",
        "trials",
        "complete",
        "pruned",
        "failed",
        "running",
        # interrupted and crashed trials are no failures: shown apart, where a study has any
        *(c for c in ("interrupted", "crashed") if any(r[c] for r in rows)),
        "objective",
        "best",
        "best trial",
    ]
    return pd.DataFrame(rows, columns=columns).astype({"best trial": "Int64"})


# ---- paths and the values trials had there -------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def canonical(path: str) -> str:
    """One spelling per path: an option choice without its `.name` (`model.init.name` -> `model.init`)."""
    node = path.removesuffix(".name")
    if node != path and any(t.options is not None for t in resolve(node)):
        return node
    return path


def check_paths(paths: list[str], studies: list[Stored]) -> list[str]:
    """The paths in canonical spelling; one that names nothing, or a whole section, is an error."""
    searched = sorted({canonical(p) for s in studies for p in s.recipe.search.space})
    out = []
    for path in paths:
        targets = resolve(path)
        if not targets:
            hint = closest_path(path) or did_you_mean(path, searched)
            raise InputError(
                f"--by {path!r} names no field of a recipe;{hint} searched in these studies: "
                f"{', '.join(searched) or 'nothing'} (any other recipe field works too, e.g. model.depth)"
            )
        sections = [t for t in targets if t.options is None and _is_section(t.annotation)]
        # a section a study searches as whole settings (data.augment: [none, {crop: ...}]) has values
        if len(sections) == len(targets) and canonical(path) not in searched:
            inside = sorted(p for p in all_paths() if p.startswith(path + "."))[:6]
            raise InputError(
                f"--by {path!r} is a section, not a value; name a field in it, e.g. {', '.join(inside)}"
                " (a section is compared whole where a study searches it as whole settings)"
            )
        out.append(canonical(path))
    return list(dict.fromkeys(out))


def _is_section(annotation: Any) -> bool:
    """Does a field of this annotation hold a section (a plain sub-model, not a single value)?"""
    from pydantic import BaseModel

    kind = base_type(annotation)
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def label(value: Any) -> Any:
    """A value as one table cell: options by name, with the parameters a search choice gave them; a
    section's whole setting by what it sets (`crop(padding=4), flip`; `none` when it switches nothing on,
    `defaults` for `{}`)."""
    if value is None:
        return NA
    if isinstance(value, dict):
        if "name" in value:
            extra = _settings({k: v for k, v in value.items() if k != "name"})
            return f"{value['name']}({extra})" if extra else value["name"]
        if not value:
            return "defaults"
        # An entry that is off (null) says nothing, and one switched on (`flip: true`) is its name: a
        # recipe's whole section, read with every entry spelled out, reads as the setting a search lists.
        on = {k: v for k, v in sorted(value.items()) if v is not None}
        return _settings(on, switches=True) if on else "none"
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value))
    return value


def _settings(values: dict[str, Any], switches: bool = False) -> str:
    """`k=v, ...`, a nested option spelled as label spells it (warmup=linear(epochs=2)), a nested section
    or entry named by its key with its settings in brackets (crop(padding=4)); with `switches`, a `true`
    is its key alone (flip)."""
    parts = []
    for k, v in values.items():
        if isinstance(v, dict) and v.get("name", k) == k:  # `crop: {padding: 4}`, or as dumped, named crop
            inner = {p: w for p, w in sorted(v.items()) if p != "name" and w is not None}
            parts.append(f"{k}({_settings(inner)})" if inner else k)
        elif isinstance(v, dict):
            parts.append(f"{k}={label(v)}")
        else:
            parts.append(k if switches and v is True else f"{k}={v}")
    return ", ".join(parts)


def read_path(data: Any, path: str) -> Any:
    """The value at a dotted path of a dumped recipe, as the tables show it: an option by its name, a
    section by what it sets (label), n/a where the path is not there."""
    for seg in path.split("."):
        if not isinstance(data, dict) or seg not in data:
            return NA
        data = data[seg]
    return value_of(data)


def value_of(node: Any) -> Any:
    """A dumped recipe's value as one table cell. A recipe spells out every parameter of an option;
    the name is what tells configurations apart."""
    return node["name"] if isinstance(node, dict) and "name" in node else label(node)


class PathValues:
    """The values the trials of one study had at some paths: sampled, or read from its recipe."""

    def __init__(self, recipe: Recipe, paths: list[str]):
        self.recipe, self.paths = recipe, paths
        # Only option choices change what a fixed path holds (switching the optimizer drops momentum).
        self.selectors = [p.path for p in plan(recipe.search.space) if p.selector]
        self._fixed: dict[str, dict[str, Any]] = {}

    def of(self, params: dict[str, Any]) -> dict[str, Any]:
        sampled = {canonical(k): v for k, v in params.items()}
        out = {p: label(sampled[p]) for p in self.paths if p in sampled}
        if len(out) < len(self.paths):
            fixed = self._recipe_values({s: params[s] for s in self.selectors if s in params})
            out.update({p: fixed[p] for p in self.paths if p not in out})
        return out

    def _recipe_values(self, choices: dict[str, Any]) -> dict[str, Any]:
        key = json.dumps(choices, sort_keys=True, default=str)
        if key not in self._fixed:
            try:
                cfg = apply(self.recipe, choices)
            except Exception:  # a recipe that no longer validates (sweepnn changed): its base values
                cfg = self.recipe
            data = cfg.model_dump(mode="json")
            self._fixed[key] = {p: read_path(data, p) for p in self.paths}
        return self._fixed[key]


def completed_frame(
    studies: list[Stored], paths: list[str], metric: str | None = None, target: Any = None
) -> pd.DataFrame:
    """Every completed trial of the studies: study, trial, value (the first objective, or `metric`
    from the trial's record), the value at each path, seconds, outcome, and `seeds` (the value of each
    seed repeat, or None). With a `target` (a sweepnn.speed.Target), also the epochs and seconds each
    trial took to reach it (`to_epochs`, `to_seconds`: NaN where it never did) and, with seed
    repeats, how many seeds ended at it (`seeds_reached`)."""
    from sweepnn import speed

    rows = []
    for s in studies:
        reader = PathValues(s.recipe, paths)
        judged = record.judged(s.study.get_trials(deepcopy=False))
        name = metric or s.metric
        for t in s.study.get_trials(deepcopy=False):
            if t.state.name != "COMPLETE" or not t.values:
                continue
            value = t.values[0] if metric is None else _metric_of(t, name, s.recipe)
            if not _finite(value):  # a metric this trial did not record
                continue
            repeats = t.user_attrs.get(record.REPEATS) or []
            seeds = [r[name] for r in repeats if _finite(r.get(name))]
            row = {
                "study": s.name,
                "trial": t.number,
                "value": value,
                **reader.of(params_of(t)),
                "seconds": t.user_attrs.get(record.SECONDS),
                "outcome": record.outcome_of(t, judged) or "ok",
                "seeds": tuple(seeds) if len(seeds) > 1 else None,
            }
            if target is not None:
                got = speed.reach(t.user_attrs.get(record.HISTORY) or [], target)
                row["to_epochs"], row["to_seconds"] = got if got else (math.nan, math.nan)
                ends = [r[target.metric] for r in repeats if _finite(r.get(target.metric))]
                row["seeds_reached"] = (
                    (sum(target.met(v) for v in ends), len(ends)) if len(ends) > 1 else None
                )
            rows.append(row)
    columns = ["study", "trial", "value", *paths, "seconds", "outcome", "seeds"]
    if target is not None:
        columns += ["to_epochs", "to_seconds", "seeds_reached"]
    return pd.DataFrame(rows, columns=columns)


def _metric_of(t, metric: str, recipe: Recipe) -> Any:
    """A trial's value of a recorded metric (its record's final metrics), or of a speed figure (`auc`,
    `late_gain`)."""
    metrics = t.user_attrs.get(record.METRICS) or {}
    if metric in metrics:
        return metrics[metric]
    if metric in ("auc", "late_gain"):
        from sweepnn.results.speed_columns import speed_of

        return speed_of(t, [], recipe)[metric]
    return None


def recorded_metrics(studies: list[Stored]) -> list[str]:
    """The metrics `compare --metric` can name: what the studies' completed trials recorded, and the
    speed figures read from their curves."""
    names: dict[str, None] = {}
    for s in studies:
        for t in s.study.get_trials(deepcopy=False):
            if t.state.name == "COMPLETE":
                for k, v in (t.user_attrs.get(record.METRICS) or {}).items():
                    if _finite(v) and k != "epoch":
                        names[k] = None
    return [*names, "auc", "late_gain"]


def levels(column: pd.Series) -> tuple[pd.Series, list[Any]]:
    """The column as groups in reading order: numbers ascending, then names, then n/a. A numeric
    column with many distinct values (a float range) becomes quartiles labelled by the values in them."""
    distinct = list(dict.fromkeys(column))
    numbers = [v for v in distinct if _finite(v)]
    if len(numbers) > MAX_LEVELS:
        numeric = column.map(lambda v: v if _finite(v) else math.nan).astype(float)
        bins = pd.qcut(numeric, 4, duplicates="drop")
        spans = numeric.groupby(bins, observed=True).agg(["min", "max"])
        names = {b: f"{_text(r['min'])}..{_text(r['max'])}" for b, r in spans.iterrows()}
        grouped = bins.map(names).astype(object).where(numeric.notna(), column)
        order = [names[b] for b in spans.index]
        return grouped, order + sorted((v for v in distinct if not _finite(v)), key=_order_key)
    return column, sorted(distinct, key=_order_key)


def binned(column: pd.Series) -> bool:
    """Whether levels() groups this column into quartiles (a numeric path with many values)."""
    return sum(1 for v in dict.fromkeys(column) if _finite(v)) > MAX_LEVELS


def _order_key(v: Any) -> tuple:
    if _finite(v):
        return (0, float(v), "")
    return (2 if v == NA else 1, 0.0, str(v))


def _text(v: float) -> str:
    from sweepnn.results.tables import fmt

    return fmt(float(v))
