"""Opening what sweeps stored, for the commands that read it (list, compare, show, export, plot): the
storage (a missing journal is an error, not a new empty one), sweepnn's studies with the recipe each
ran with, and Optuna's parameter importances. Nothing here writes to the storage.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from pydantic import ValidationError

from sweepnn import record
from sweepnn.errors import InputError, did_you_mean
from sweepnn.options.own import add_code_folder
from sweepnn.recipe.config import Recipe
from sweepnn.sweep.storage import DEFAULT_STORAGE, open_storage


@dataclass(frozen=True)
class Stored:
    """One sweepnn study, opened, with the recipe it was run with."""

    name: str
    study: Any  # optuna.Study
    recipe: Recipe

    @property
    def metric(self) -> str:
        return self.recipe.search.objectives[0].metric

    @property
    def direction(self) -> str:
        return self.recipe.search.objectives[0].direction


def open_for_reading(url: str | None, results_dir: Path):
    """The storage a sweep wrote; a missing journal file is an error here, not a new empty one."""
    if url is None or "://" not in url:
        path = Path(url) if url else results_dir / DEFAULT_STORAGE
        if not path.is_file():
            raise InputError(
                f"no studies at {path}: run `sweepnn run RECIPE` first, or point --storage or"
                " --results at the storage a sweep wrote"
            )
    return open_storage(url, results_dir)


def recipe_of(frozen_or_study) -> Recipe | None:
    """The recipe a study was run with, or None for a study sweepnn did not create."""

    attrs = frozen_or_study.user_attrs
    for folder in attrs.get(record.STUDY_CODE, []):  # where its own model or data came from
        if Path(folder).is_dir():
            add_code_folder(folder)
    raw = attrs.get(record.STUDY_RECIPE)
    if raw is None:
        return None
    try:
        return Recipe.model_validate(raw)
    except ValidationError as e:  # its own model or data no longer imports (moved, another machine)
        name = getattr(frozen_or_study, "study_name", "?")
        folders = ", ".join(attrs.get(record.STUDY_CODE, [])) or "the recipe's folder"
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(
            f"study '{name}' was run with code of its own that cannot be read here ({where}:"
            f" {first['msg']}); it was imported from {folders}: run from where that code is"
        ) from None


def load_studies(storage, names: list[str] | None) -> list[Stored]:
    """The named studies (all of sweepnn's when no names are given), each with its recipe."""
    frozen = {s.study_name: s for s in storage.get_all_studies()}
    if not names:
        names = sorted(n for n, s in frozen.items() if record.STUDY_RECIPE in s.user_attrs)
        if not names:
            raise InputError("the storage holds no sweepnn study yet: run `sweepnn run RECIPE` first")
    out = []
    for name in dict.fromkeys(names):  # a name given twice is compared once
        if name not in frozen:
            existing = ", ".join(sorted(frozen)) or "none"
            raise InputError(
                f"no study '{name}';{did_you_mean(name, frozen)} studies in this storage: {existing}"
            )
        recipe = recipe_of(frozen[name])
        if recipe is None:
            raise InputError(f"study '{name}' was not created by sweepnn: it has no recipe to read")
        out.append(Stored(name, optuna.load_study(study_name=name, storage=storage), recipe))
    return out


# Optuna's default importance evaluator, PED-ANOVA, compares where each parameter's values lie among the
# best `target_quantile` (10%) of the completed trials with where they lie among all of them, and its
# documentation asks for at least 5 trials in that top share to be stable. Below 5 / 0.1 = 50 completed
# trials the top share is a handful (one trial of five): the importances then say which values the one
# or two best trials happened to have, and a range (a spike where one best trial sits, on a 50-step grid)
# outweighs a choice of two by construction. Each parameter is judged on its own (its marginal), so the
# floor is a count of trials, not per parameter.
TOP_QUANTILE = (
    0.1  # Optuna's default PedAnovaImportanceEvaluator(target_quantile=0.1), which param_importances uses
)
TOP_TRIALS = 5  # "preferable to include at least 5 trials above target_quantile" (its docstring)
IMPORTANCE_FLOOR = math.ceil(TOP_TRIALS / TOP_QUANTILE)  # 50 completed trials


def importance_caveat(completed: int) -> str | None:
    """Why importances from this many completed trials are not to be trusted, or None at the floor."""
    if completed >= IMPORTANCE_FLOOR:
        return None
    top = max(1, math.ceil(TOP_QUANTILE * completed))
    return (
        f"Only {completed} completed trials: these importances rest on the best {top} (PED-ANOVA reads"
        f" the best {TOP_QUANTILE:.0%}) and say which values those happened to have; trust them from"
        f" {IMPORTANCE_FLOOR} completed trials on."
        "\nCompare the values themselves: sweepnn compare STUDY --by PATH"
    )


def param_importances(study, objective: int = 0) -> tuple[dict[str, float] | None, str]:
    """Optuna's importances (PED-ANOVA by default) for the `objective`-th objective, of the parameters
    every completed trial has and that vary; parameters only some trials have (conditional ones) cannot
    be compared this way."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        return None, f"needs at least 2 completed trials; this study has {len(complete)}"
    shared = set.intersection(*(set(t.params) for t in complete))
    varied = sorted(p for p in shared if len({repr(t.params[p]) for t in complete}) > 1)
    conditional = sorted({p for t in complete for p in t.params} - shared)
    left_out = f"left out (not in every trial): {', '.join(conditional)}" if conditional else ""
    if not varied:
        return None, "needs a searched parameter whose value varies among the completed trials" + (
            f"; {left_out}" if left_out else ""
        )
    target = None  # one objective: Optuna reads the direction from the study
    if len(study.directions) > 1:  # the one asked for, as "lower is better", which PED-ANOVA assumes
        sign = -1.0 if study.directions[objective].name == "MAXIMIZE" else 1.0
        target = lambda t: sign * t.values[objective]  # noqa: E731
    try:
        with warnings.catch_warnings():  # its reminder that a target is minimized: handled above
            warnings.simplefilter("ignore", UserWarning)
            values = optuna.importance.get_param_importances(study, params=varied, target=target)
    except (ValueError, RuntimeError) as e:
        return None, f"Optuna could not compute them: {e}"
    return dict(values), left_out


def load_study_named(name: str, url: str | None, results_dir) -> optuna.Study:
    """An existing study, read only; a clear error naming the studies there if it is not."""
    storage = open_storage(url, results_dir)
    names = [s.study_name for s in storage.get_all_studies()]
    if name not in names:
        from sweepnn.errors import did_you_mean

        raise InputError(
            f"no study '{name}' in this storage;{did_you_mean(name, names)}"
            f" studies here: {', '.join(sorted(names)) or 'none'}"
        )
    return optuna.load_study(study_name=name, storage=storage)


def state_counts(study: optuna.Study) -> dict[str, int]:
    """Trials by state, as list and show count them (sweepnn.record.state_counts)."""
    return record.state_counts(study.get_trials(deepcopy=False))
