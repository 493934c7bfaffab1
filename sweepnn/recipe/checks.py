"""Checks across the sections of a validated recipe, and of every value its search can put in it."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from sweepnn.errors import choices_text
from sweepnn.options.augment import AUGMENTATIONS, active
from sweepnn.options.datasets import DATASETS, no_test_split, task_of
from sweepnn.options.losses import LOSSES
from sweepnn.options.metrics import METRICS
from sweepnn.options.search import SAMPLERS
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.limits import (
    CHOICES_MAX,
    GRID_MAX,
    NAME_MAX,
    SEED_MAX,
    SPACE_CHOICES_MAX,
    SPACE_PARAMS_MAX,
    seed_in_range,
)
from sweepnn.recipe.locations import Loc, dotted, error_text, raw_loc
from sweepnn.recipe.paths import applies, set_path
from sweepnn.recipe.space import plan, written


def size_problems(raw: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """A search space past the bounds of `sweepnn.recipe.limits`, judged on the recipe as written, before
    it is validated: validation checks every choice against the whole recipe."""
    search = raw.get("search")
    space = search.get("space") if isinstance(search, Mapping) else None
    if not isinstance(space, Mapping):
        return []
    out: list[tuple[Loc, str]] = []
    if len(space) > SPACE_PARAMS_MAX:
        out.append(
            (
                ("search", "space"),
                f"{len(space):,} searched parameters; the bound is {SPACE_PARAMS_MAX} in one space",
            )
        )
    total = 0
    for path, spec in space.items():
        listed = isinstance(spec, list)
        choices = spec if listed else spec.get("choices") if isinstance(spec, Mapping) else None
        if not isinstance(choices, list):
            continue
        total += len(choices)
        if len(choices) > CHOICES_MAX:
            loc = ("search", "space", path, *(() if listed else ("choices",)))
            out.append((loc, f"{len(choices):,} choices; the bound is {CHOICES_MAX:,} for one parameter"))
    if total > SPACE_CHOICES_MAX and not out:
        out.append(
            (
                ("search", "space"),
                f"{total:,} choices in all; the bound is {SPACE_CHOICES_MAX:,} in one space",
            )
        )
    return out


def _grid_size(recipe: Recipe) -> int | None:
    """An upper bound on the configurations of a grid search (the product of its parameters' numbers
    of values), computed without enumerating them; None when a parameter has no finite set."""
    size = 1
    for p in plan(recipe.search.space):
        s = p.spec
        if s.choices is not None:
            n = len(s.choices)
        elif s.step is None and p.kind != "int":
            return None  # reported on its own: the grid needs a step
        elif all(isinstance(v, int) for v in (s.low, s.high, s.step or 1)):
            n = (s.high - s.low) // (s.step or 1) + 1
        else:
            ratio = (s.high - s.low) / (s.step or 1)
            n = math.floor(ratio + 1e-9) + 1 if math.isfinite(ratio) and ratio < 10**18 else 10**18 + 1
        size *= max(n, 1)
        if size > 10**18:  # past any bound; and a product of huge ranges need not be written out
            break
    return size


def _seeds(node: Any, loc: Loc) -> Iterator[tuple[Loc, int]]:
    """Every seed field in a validated recipe (named `seed` or `*_seed`), whatever option holds it.
    The search space is left out: its values are checked one by one in the recipe."""
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            value = getattr(node, name)
            if (
                (name == "seed" or name.endswith("_seed"))
                and isinstance(value, int)
                and not isinstance(value, bool)
            ):
                yield (*loc, name), value
            elif loc != ("search",) or name != "space":
                yield from _seeds(value, (*loc, name))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _seeds(value, (*loc, i))


def seed_problems(recipe: Recipe) -> list[tuple[Loc, str]]:
    """Seeds outside what numpy, torch and Optuna take (0..2**32-1), also those a run derives: with
    search.repeats k, a trial trains with seeds seed..seed+k-1."""
    out: list[tuple[Loc, str]] = []
    for loc, value in _seeds(recipe, ()):
        try:
            seed_in_range(value)
        except ValueError as e:
            out.append((loc, str(e)))
    last = recipe.train.seed + recipe.search.repeats - 1
    if 0 <= recipe.train.seed <= SEED_MAX < last:
        out.append(
            (
                ("train", "seed"),
                f"with search.repeats {recipe.search.repeats} the trials train with seeds up to {last},"
                f" past {SEED_MAX} (2**32 - 1, what numpy and Optuna take); use a seed of at most"
                f" {SEED_MAX - recipe.search.repeats + 1}",
            )
        )
    return out


def cross_problems(recipe: Recipe, explicit_pruner: bool) -> list[tuple[Loc, str]]:
    """Checks across sections that a single field cannot make on its own."""
    s = recipe.search
    out: list[tuple[Loc, str]] = []
    if len(recipe.name) > NAME_MAX:
        out.append(
            (("name",), f"a study name has at most {NAME_MAX} characters (this one has {len(recipe.name)})")
        )
    out += seed_problems(recipe)
    sampler = SAMPLERS[s.sampler.name]
    if len(s.objectives) > 1:
        if not sampler.multi_objective:
            able = [n for n, spec in SAMPLERS.items() if spec.multi_objective]
            out.append(
                (
                    ("search", "sampler"),
                    f"{sampler.name} optimizes one objective; with several use one of: {choices_text(able)}",
                )
            )
        if explicit_pruner and s.pruner is not None and s.pruner.name != "none":
            out.append(
                (("search", "pruner"), "Optuna cannot prune multi-objective studies; use pruner: none")
            )
        metrics = [o.metric for o in s.objectives]
        if len(set(metrics)) != len(metrics):
            out.append((("search", "objective"), "the same metric is listed twice"))
    out += _data_problems(recipe.data)
    out += _length_problems(recipe)
    out += _scored_split_problems(recipe)
    kind = DATASETS[recipe.data.name].kind
    if recipe.train.channels_last and (recipe.model.name != "cnn" or kind != "image"):
        out.append(
            (
                ("train", "channels_last"),
                f"channels_last lays out images for a 2-D cnn; this recipe trains a {recipe.model.name}"
                f" on {kind} data ({recipe.data.name}): leave it false",
            )
        )
    task = task_of(recipe.data)
    if recipe.train.loss is not None and LOSSES[recipe.train.loss.name].task not in (None, task):
        fitting = [n for n, spec in LOSSES.items() if spec.task == task]
        out.append(
            (
                ("train", "loss"),
                f"{recipe.train.loss.name} is a {LOSSES[recipe.train.loss.name].task} loss"
                f" but {recipe.data.name} is a {task} dataset; use one of: {choices_text(fitting)}",
            )
        )
    metric_locs = [
        (("search", "objective", *((i,) if isinstance(s.objective, list) else ())), o.metric)
        for i, o in enumerate(s.objectives)
    ]
    if recipe.train.early_stopping is not None:
        metric_locs.append((("train", "early_stopping", "metric"), recipe.train.early_stopping.metric))
    metric_locs += [(("search", "target", metric), metric) for metric in s.target or {}]
    for loc, metric in metric_locs:
        if METRICS[metric].task not in (None, task):
            fitting = [n for n, spec in METRICS.items() if spec.task in (None, task)]
            out.append(
                (
                    loc,
                    f"{metric} is not recorded for {task} ({recipe.data.name}); use one of:"
                    f" {choices_text(fitting)}",
                )
            )
    if s.fair is not None:
        spec = s.space.get(s.fair)
        if spec is None or spec.choices is None or len(spec.choices) < 2:
            choices = [k for k, v in s.space.items() if v.choices is not None and len(v.choices) > 1]
            out.append(
                (
                    ("search", "fair"),
                    f"'{s.fair}' is not a searched choice of several values; fair takes one of:"
                    f" {choices_text(choices) or '(none in this space: list choices under search.space)'}",
                )
            )
    if sampler.needs_grid:
        for p in plan(s.space):
            if p.kind == "float" and p.spec.step is None:
                out.append(
                    (
                        ("search", "space", p.path),
                        f"the grid sampler needs a finite set of values: give {p.path} choices or a step",
                    )
                )
        size = _grid_size(recipe)
        if size is not None and size > GRID_MAX:
            count = f"{size:,}" if size <= 10**18 else "more than 10**18"
            out.append(
                (
                    ("search", "sampler"),
                    f"the grid holds {count} configurations (the product of the parameters' numbers of"
                    f" values); the bound is {GRID_MAX:,}: list fewer values, or use a sampler that draws"
                    " (tpe, random)",
                )
            )
    return out


def _data_problems(data) -> list[tuple[Loc, str]]:
    """Augmentations that do not fit the dataset's inputs; a test split a dataset already has."""
    spec = DATASETS[data.name]
    out: list[tuple[Loc, str]] = []
    for aug, _params in active(data.augment):
        if spec.kind not in aug.kinds:
            fitting = [n for n, a in AUGMENTATIONS.items() if spec.kind in a.kinds]
            out.append(
                (
                    ("data", "augment", aug.name),
                    f"{aug.name} augments {' and '.join(aug.kinds)} inputs, but {data.name} is {spec.kind}"
                    f" data; for it use: {choices_text(fitting)}",
                )
            )
    if data.test_fraction > 0 and spec.has_test:
        out.append(
            (
                ("data", "test_fraction"),
                f"{data.name} has a test set of its own; leave test_fraction out (it is used as is)",
            )
        )
    # Only a built-in dataset is known to have no test split before it is read: an image folder's
    # files decide (`sweepnn validate` checks them), and so does a user's own loader (when it is read).
    known = data.name in DATASETS.builtins and spec.test_in_files is None
    if data.val_fraction == 0 and data.test_fraction == 0 and not spec.has_test and known:
        out.append((("data", "val_fraction"), no_test_split(f"{data.name} has no test split of its own")))
    return out


def _searched_values(spec) -> list[Any]:
    """The values a searched parameter can take that decide a check: its choices, or its range's ends."""
    return list(spec.choices) if spec.choices is not None else [spec.low, spec.high]


def _length_problems(recipe: Recipe) -> list[tuple[Loc, str]]:
    """A run's length is given once: `train.epochs` or `train.steps`, written or searched, not both."""
    t, space = recipe.train, recipe.search.space
    steps_set = t.steps is not None and "steps" in t.model_fields_set
    epochs_set = "epochs" in t.model_fields_set
    out: list[tuple[Loc, str]] = []
    if steps_set and epochs_set:
        out.append(
            (
                ("train", "steps"),
                f"give train.epochs or train.steps, not both: with steps ({t.steps}) a run takes exactly"
                " that many optimizer steps and its epochs follow from the data (the whole epochs that"
                f" fit, then a partial one); leave epochs ({t.epochs}) out",
            )
        )
    if "train.epochs" in space and (steps_set or "train.steps" in space):
        given = "is searched too" if "train.steps" in space else f"is set ({t.steps})"
        out.append(
            (
                ("search", "space", "train.epochs"),
                f"train.steps {given} and decides every trial's length: search train.steps instead"
                " of train.epochs, not both",
            )
        )
    elif "train.steps" in space and None in (space["train.steps"].choices or []):
        out.append(
            (
                ("search", "space", "train.steps"),
                "a searched train.steps lists step counts only: a null choice (the epochs instead) would"
                " make trials of two kinds of length; search train.epochs, or steps alone",
            )
        )
    elif "train.steps" in space and epochs_set:
        out.append(
            (
                ("search", "space", "train.steps"),
                f"train.epochs is set ({t.epochs}), but a searched train.steps decides every trial's"
                " length: leave train.epochs out",
            )
        )
    return out


def _scored_split_problems(recipe: Recipe) -> list[tuple[Loc, str]]:
    """data.val_fraction 0 scores the trials on the test split, any other value on a validation
    split: a search over it that holds both would rank trials scored on different splits."""
    spec = recipe.search.space.get("data.val_fraction")
    if spec is None:
        return []
    values = _searched_values(spec)
    if 0 in values and any(v != 0 for v in values):
        return [
            (
                ("search", "space", "data.val_fraction"),
                "data.val_fraction 0 scores a trial on the test split, the other values on a validation"
                " split: one study ranks its trials on one split; search values above 0, or fix it at 0",
            )
        ]
    return []


def validates_on_test(recipe: Recipe) -> bool:
    """Are this recipe's trials evaluated (and their objective scored) on the test split? So with
    data.val_fraction 0, fixed or in every searched value; then there is no held-out test score."""
    spec = recipe.search.space.get("data.val_fraction")
    if spec is not None:
        return all(v == 0 for v in _searched_values(spec))
    return recipe.data.val_fraction == 0


def scored_on(recipe: Recipe) -> str:
    """Where the recipe's val_* metrics (the objective, pruning, early stopping) are measured, in words."""
    if validates_on_test(recipe):
        return (
            "validated on the test split (data.val_fraction 0): the whole pool trains, the val_* metrics"
            " are the test split's, and no separate test score is made (search.test_top is skipped)"
        )
    return "validated on a validation split"


def sampled_problems(recipe: Recipe, explicit_pruner: bool) -> list[tuple[Loc, str]]:
    """Each choice and range end, put into the base recipe alone, must give a valid recipe: a value
    that is fine for its field can still break the whole (a regression dataset under an accuracy
    objective, a depth that no longer matches per-layer dropout rates)."""
    out: list[tuple[Loc, str]] = []
    full = recipe.model_dump()  # with defaults: which option is in force decides what applies
    for path, spec in recipe.search.space.items():
        tries = (
            [("choices", i, c) for i, c in enumerate(spec.choices)]
            if spec.choices is not None
            else [(end, None, getattr(spec, end)) for end in ("low", "high")]
        )
        for key, index, value in tries:
            if not applies(full, path):
                continue  # depends on another searched choice; checked through that choice
            raw = written(recipe)
            set_path(raw, path, value)
            loc = ("search", "space", path, key, *(() if index is None else (index,)))
            try:
                trial = Recipe.model_validate(raw)
            except ValidationError as e:
                err = e.errors()[0]
                where = dotted(raw_loc(tuple(err["loc"]), raw)[0])
                why = error_text(err)
                out.append((loc, f"{path} = {value!r} breaks the recipe: {where}: {why}"))
                continue
            if task_of(trial.data) != task_of(recipe.data):
                out.append(
                    (
                        loc,
                        f"{path} = {value!r} turns {task_of(recipe.data)} into {task_of(trial.data)};"
                        " one study optimizes one kind of objective: sweep each task in its own recipe",
                    )
                )
                continue
            out += [(loc, f"{path} = {value!r}: {msg}") for _, msg in cross_problems(trial, explicit_pruner)]
    return out
