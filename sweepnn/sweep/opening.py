"""Opening a study for a run: created, resumed (its recipe unchanged but for the budget), started
again with --fresh, or refused with the reason. Also whether a study is still there under a run.
"""

from __future__ import annotations

import time
import warnings

import optuna
import yaml
from optuna.trial import TrialState

from sweepnn import record
from sweepnn.errors import InputError
from sweepnn.options.own import code_folders
from sweepnn.recipe.config import Recipe
from sweepnn.sweep.resuming import fingerprint, recipe_changes
from sweepnn.sweep.samplers import make_pruner, make_sampler


def study_gone(study: optuna.Study) -> bool:
    """Was this study deleted under us (by a run with --fresh, which may have made a new one of the
    same name)? Told by the study's id, not its name."""
    try:
        return study._storage.get_study_id_from_name(study.study_name) != study._study_id
    except KeyError:
        return True


def study_exists(storage, name: str) -> bool:
    """Does the storage hold a study of this name?"""
    return any(s.study_name == name for s in storage.get_all_studies())


def refuse_fresh_while_running(study: optuna.Study) -> None:
    """--fresh deletes a study: never under a worker that is training one of its trials."""
    from sweepnn.sweep.liveness import is_stale

    now = time.time()
    live = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if not is_stale(t, now)]
    if live:
        who = sorted({str(t.user_attrs.get(record.WORKER, "an unknown worker")) for t in live})
        raise InputError(
            f"study '{study.study_name}' is being run right now ({len(live)} trial(s) training, by"
            f" {', '.join(who)}): --fresh would delete it under them. Stop those runs first, or give"
            " this recipe another name."
        )


def open_study(recipe: Recipe, storage, fresh: bool = False) -> tuple[optuna.Study, bool]:
    """Create the recipe's study, or load it to resume. Returns (study, resumed)."""
    name = recipe.name
    if study_exists(storage, name):
        if fresh:
            refuse_fresh_while_running(optuna.load_study(study_name=name, storage=storage))
            optuna.delete_study(study_name=name, storage=storage)
        else:
            earlier = len(storage.get_all_trials(storage.get_study_id_from_name(name), deepcopy=False))
            study = optuna.load_study(
                study_name=name,
                storage=storage,
                sampler=make_sampler(recipe, resumed_after=earlier),
                pruner=make_pruner(recipe),
            )
            old = study.user_attrs.get(record.STUDY_FINGERPRINT)
            if old is not None and old != fingerprint(recipe):
                changes = recipe_changes(
                    study.user_attrs.get(record.STUDY_RECIPE, {}), recipe.model_dump(mode="json")
                )
                raise InputError(
                    f"study '{name}' exists and was run with a different recipe:\n  "
                    + "\n  ".join(changes)
                    + "\nRun with --fresh to discard it and start over, or give the recipe another name."
                )
            label_for_readers(study, recipe)  # a study made before sweepnn labelled it
            return study, True
    directions = [o.direction for o in recipe.search.objectives]
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        directions=directions,
        sampler=make_sampler(recipe),
        pruner=make_pruner(recipe),
        load_if_exists=True,
    )
    study.set_user_attr(record.STUDY_FINGERPRINT, fingerprint(recipe))
    study.set_user_attr(record.STUDY_RECIPE, recipe.model_dump(mode="json"))
    study.set_user_attr(record.STUDY_CODE, code_folders())
    label_for_readers(study, recipe)
    return study, False


class _OneLine(yaml.SafeDumper):
    """YAML on one line: a string with a line break is written double-quoted, its breaks as \\n (YAML's
    plain and single-quoted styles would fold them into real line breaks)."""


_OneLine.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar(
        "tag:yaml.org,2002:str", text, style='"' if "\n" in text else None
    ),
)


def label_for_readers(study, recipe: Recipe) -> None:
    """What optuna-dashboard and any Optuna reader need to read the study without sweepnn: the
    objectives' names (its values are `val_accuracy`, not "Objective 0"), and the recipe it was run
    with one attribute per section, as YAML (the full recipe is one JSON blob there)."""
    names = [o.metric for o in recipe.search.objectives]
    if study.metric_names != names:
        with warnings.catch_warnings():  # experimental in Optuna since 3.2, and stable in use
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(names)
    ran = study.user_attrs.get(record.STUDY_RECIPE) or recipe.model_dump(mode="json")
    for section, value in ran.items():
        key = record.STUDY_RECIPE_SECTION + section
        text = yaml.dump(value, Dumper=_OneLine, default_flow_style=True, sort_keys=False, width=1_000_000)
        text = text.strip().removesuffix("\n...").strip()  # a bare scalar ends its document with '...'
        if study.user_attrs.get(key) != text:
            study.set_user_attr(key, text)
