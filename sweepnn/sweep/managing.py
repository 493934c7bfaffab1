"""Deleting, copying and renaming a study, on every storage (journal file, SQLite, PostgreSQL,
MySQL/MariaDB, Redis), together with its results folder results/<study>/.

A study is copied as optuna.copy_study does (directions, system and user attributes, every trial as
it was), with two differences: the copy's recipe carries its new name, so its result files, its
best.yaml and a later `sweepnn run` speak of the copy; and the copy is marked in progress
(COPY_OF) until it is whole, so a copy cut short by a crash is told from a finished one and replaced
when the command is run again. Storages have no rename, so a rename is a copy, then the move of the
folder, then the deletion of the old study: not atomic, but every step can be run again, and a
rename run again after a crash finishes the one it interrupted.

A results folder is removed or moved only when it is that study's: results/<name>/ itself (never a
link, never a path outside the results folder) holding a recipe.yaml that sweepnn wrote for a study
of that name.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml

from sweepnn import record
from sweepnn.errors import InputError, did_you_mean
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.limits import NAME_MAX
from sweepnn.sweep.liveness import stuck
from sweepnn.sweep.storage import DEFAULT_STORAGE, open_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)  # as sweepnn.sweep.study: no "A new study created"

# On a copy: {"study": the study it was copied from, "complete": whether every trial is in}.
COPY_OF = record.STUDY_COPY_OF
# Called with the new study and its results folder once the folder is in place, before the copy is
# marked whole (or the old study deleted), to write the result files there in the new name: they are
# made by sweepnn.results, a layer above this one (sweepnn.cli.studies.rewrite_files).
Rewrite = Callable[[Any, Path], None]
_NAME = next(m.pattern for m in Recipe.model_fields["name"].metadata if getattr(m, "pattern", None))


@dataclass(frozen=True)
class Found:
    """A study as the commands describe it before they change it."""

    name: str
    trials: int
    states: dict[str, int]  # the trials that are results, by state (sweepnn.record.state_counts)
    live: list[str]  # the workers training one of its trials right now
    folder: Path | None  # its results folder, when there is one that is the study's
    note: str  # why results/<name>/ is left alone, when it exists but is not the study's
    files: int  # files in the folder
    size: int  # their bytes
    models: int  # kept trials' weights (models/trial-<n>/)


def names(storage) -> list[str]:
    """The names of every study in the storage, sorted."""
    return sorted(s.study_name for s in storage.get_all_studies())


def find(storage, name: str) -> optuna.Study:
    """The study of this name; an error naming the studies there when there is none."""
    there = names(storage)
    if name not in there:
        raise InputError(
            f"no study '{name}' in this storage;{did_you_mean(name, there)}"
            f" studies here: {', '.join(there) or 'none'}"
        )
    return optuna.load_study(study_name=name, storage=storage)


def describe(storage, name: str, results_dir: Path, url: str | None = None) -> Found:
    """What deleting (or renaming) the study would touch: its trials, live workers, results folder.
    `url`: the storage's URL or journal path (None: the default journal under results_dir)."""
    study = find(storage, name)
    trials = study.get_trials(deepcopy=False)
    running = [t for t, _, stale in stuck(study) if not stale]  # a dead worker's trial is no obstacle
    live = sorted({str(t.user_attrs.get(record.WORKER, "an unknown worker")) for t in running})
    folder, note = study_folder(results_dir, name)
    if folder and _also_in_default(url, results_dir, name):
        default = results_dir / DEFAULT_STORAGE
        folder, note = None, f"{folder} is left alone: the study '{name}' in {default} has it too"
    files = [p for p in folder.rglob("*") if p.is_file()] if folder else []
    models = folder / "models" if folder else None
    kept = [p for p in models.iterdir() if p.is_dir()] if models and models.is_dir() else []
    return Found(
        name=name,
        trials=len(trials),
        states=record.state_counts(trials),
        live=live,
        folder=folder,
        note=note,
        files=len(files),
        size=sum(p.stat().st_size for p in files),
        models=len(kept),
    )


def study_folder(results_dir: Path, name: str, *also: str) -> tuple[Path | None, str]:
    """results/<name>/ when it is the study's (its recipe.yaml names `name`, or one of `also`), else
    None and, when something is there, why it is left alone."""
    if name in ("", ".", "..") or Path(name).name != name or os.sep in name:
        return None, f"the study's name {name!r} is no folder name under {results_dir}"
    folder = results_dir / name
    if not os.path.lexists(folder):
        return None, ""
    if folder.is_symlink() or not folder.is_dir():
        return None, f"{folder} is left alone: it is a link or not a folder"
    if folder.resolve().parent != results_dir.resolve():
        return None, f"{folder} is left alone: it is not inside {results_dir}"
    try:
        recipe = yaml.safe_load((folder / "recipe.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        recipe = None
    if not isinstance(recipe, dict) or recipe.get("name") not in (name, *also):
        return None, f"{folder} is left alone: it holds no recipe.yaml that sweepnn wrote for study '{name}'"
    return folder, ""


def _also_in_default(url: str | None, results_dir: Path, name: str) -> bool:
    """Does the default journal under results_dir, when it is not the storage at `url`, hold a study
    of this name? Studies of one name in two storages (a copy kept under its name) share one folder."""
    default = results_dir / DEFAULT_STORAGE
    if url is None or not default.is_file():
        return False
    if "://" not in url and Path(url).resolve() == default.resolve():
        return False
    return name in names(open_storage(None, results_dir))


def refuse_live(found: Found, doing: str) -> None:
    """Deleting or renaming a study under a running worker: it would go on writing to the old name."""
    if found.live:
        raise InputError(
            f"study '{found.name}' is being run right now (trials training, by {', '.join(found.live)}):"
            f" {doing} it would pull it from under them. Stop those runs first, or pass --force"
        )


def check_name(name: str) -> None:
    """A new study name must be one a recipe can give, so that `sweepnn run` can resume it."""
    if not re.fullmatch(_NAME, name) or len(name) > NAME_MAX:
        raise InputError(
            f"{name!r} is not a study name: it starts with a letter or digit, has only letters, digits,"
            f" '.', '_' and '-', and at most {NAME_MAX} characters"
        )


# ---- delete ----------------------------------------------------------------------------------------


def delete(
    storage, name: str, results_dir: Path, *, url: str | None = None, files: bool = True, force: bool = False
) -> Found:
    """Delete the study and (with `files`) its results folder; what was deleted. `url` as describe's."""
    found = describe(storage, name, results_dir, url)
    if not force:
        refuse_live(found, "deleting")
    # the folder first: a crash between the two leaves the study, and deleting it again finishes
    if files and found.folder:
        shutil.rmtree(found.folder)
    optuna.delete_study(study_name=name, storage=storage)
    return found


# ---- copy ------------------------------------------------------------------------------------------


def _copy_state(storage, new: str, old: str) -> str | None:
    """'partial' or 'whole' when `new` is a copy of `old` (left by an interrupted command), 'other'
    when `new` is another study, None when there is no study `new`."""
    if new not in names(storage):
        return None
    study = optuna.load_study(study_name=new, storage=storage)
    mark = study.user_attrs.get(COPY_OF)
    if not isinstance(mark, dict) or mark.get("study") != old:
        return "other"
    return "whole" if mark.get("complete") else "partial"


def _exists(new: str, where: str) -> InputError:
    return InputError(
        f"a study '{new}' exists {where}: choose another name, or delete it first (sweepnn delete {new})"
    )


def _copy_trials(storage, name: str, to_storage, new: str) -> optuna.Study:
    """The study copied under the new name, marked in progress; its recipe renamed."""
    source = optuna.load_study(study_name=name, storage=storage)
    copy = optuna.create_study(study_name=new, storage=to_storage, directions=source.directions)
    copy.set_user_attr(COPY_OF, {"study": name, "complete": False})  # first: a crash after it is told
    for key, value in storage.get_study_system_attrs(source._study_id).items():  # metric names among them
        to_storage.set_study_system_attr(copy._study_id, key, value)
    for key, value in source.user_attrs.items():
        if key == COPY_OF:  # the source's own mark, when it is a copy itself
            continue
        if key == record.STUDY_RECIPE and isinstance(value, dict):
            value = {**value, "name": new}
        if key == record.STUDY_RECIPE_SECTION + "name":  # the recipe as optuna-dashboard shows it
            value = new
        copy.set_user_attr(key, value)
    for trial in source.get_trials(deepcopy=False):  # in order: each keeps its number
        to_storage.create_new_trial(copy._study_id, template_trial=trial)
    return copy


def _finish(copy: optuna.Study, name: str) -> None:
    copy.set_user_attr(COPY_OF, {"study": name, "complete": True})


def copy(
    storage,
    name: str,
    new: str,
    results_dir: Path,
    *,
    to_storage=None,
    files: bool = True,
    rewrite: Rewrite,
) -> tuple[Found, Path | None, bool]:
    """Copy the study to `new` (in `to_storage`, or the same storage), and its results folder to
    results/<new>/ when the name changes. (what was copied, the new folder, whether an interrupted
    copy was replaced)."""
    to_storage = storage if to_storage is None else to_storage
    same_storage = to_storage is storage
    if same_storage and new == name:
        raise InputError(f"'{name}' is the study's own name: give the copy another name, or --to-storage")
    check_name(new)
    found = describe(storage, name, results_dir)
    state = _copy_state(to_storage, new, name)
    if state in ("other", "whole"):
        raise _exists(new, "in the storage copied to")
    target = results_dir / new
    moved = files and found.folder is not None and new != name
    if moved and os.path.lexists(target):
        if state != "partial":  # an interrupted copy's folder is replaced with it
            raise InputError(
                f"{target} exists already (left by another study?): move it away, or pass --keep-files"
            )
        if study_folder(results_dir, new, name)[0] is None:
            raise InputError(f"{target} exists and is not a results folder sweepnn wrote: move it away")
        shutil.rmtree(target)
    if state == "partial":
        optuna.delete_study(study_name=new, storage=to_storage)
    made = _copy_trials(storage, name, to_storage, new)
    if moved:
        partial = results_dir / f".{new}.copying-{os.getpid()}"  # renamed when whole
        try:
            shutil.copytree(found.folder, partial, symlinks=True)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        os.replace(partial, target)
        rewrite(made, target)
    _finish(made, name)
    return found, target if moved else None, state == "partial"


# ---- rename ----------------------------------------------------------------------------------------


def rename(
    storage,
    name: str,
    new: str,
    results_dir: Path,
    *,
    url: str | None = None,
    force: bool = False,
    rewrite: Rewrite,
) -> tuple[Found, Path | None, bool]:
    """Rename the study: copy it to `new`, move results/<name>/ to results/<new>/, delete the old one.
    Run again after a crash, it finishes. (what was renamed, the new folder, whether it resumed);
    `url` as describe's."""
    if new == name:
        raise InputError(f"the study is called '{name}' already")
    check_name(new)
    found = describe(storage, name, results_dir, url)
    if not force:
        refuse_live(found, "renaming")
    state = _copy_state(storage, new, name)
    if state == "whole" and len(find(storage, new).get_trials(deepcopy=False)) != found.trials:
        state = "other"  # a copy made before trials were added to the study: not this rename's
    if state == "other":
        raise _exists(new, "already")
    target = results_dir / new
    if found.folder and os.path.lexists(target):
        raise InputError(f"{target} exists already (left by another study?): move it away first")
    if state == "partial":
        optuna.delete_study(study_name=new, storage=storage)
    made = find(storage, new) if state == "whole" else _copy_trials(storage, name, storage, new)
    _finish(made, name)
    folder = None
    if found.folder:
        os.replace(found.folder, target)
        folder = target
    elif state == "whole":  # the folder the interrupted rename moved, if it got that far
        folder = study_folder(results_dir, new, name)[0]
    if folder:
        rewrite(made, folder)
    optuna.delete_study(study_name=name, storage=storage)
    return found, folder, state == "whole"


__all__ = ["COPY_OF", "Found", "check_name", "copy", "delete", "describe", "find", "rename", "study_folder"]
