"""Commands that manage whole studies: delete, copy, rename (sweepnn.sweep.managing does the work).

`delete` shows what goes and asks first; without a terminal to ask on it refuses unless --yes is
given, so a script never deletes by accident. A study's results folder results/<study>/ goes, is
copied or moves with it (--keep-files leaves it), and a copy's or renamed study's result files are
rewritten in its new name. A study's name is the recipe's `name:`, so after a rename the old recipe
starts a new study under the old name: the commands say so.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from sweepnn.cli.app import app, err_console, errors_to_exit
from sweepnn.cli.results import ResultsOpt, StorageOpt
from sweepnn.errors import InputError, SweepnnError

StudyArg = Annotated[str, typer.Argument(metavar="STUDY", help="The study's name.", show_default=False)]
NewArg = Annotated[str, typer.Argument(metavar="NEW", help="The new name.", show_default=False)]
KeepFilesOpt = Annotated[
    bool, typer.Option("--keep-files", help="Leave the results folder results/<study>/ as it is.")
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Even while workers are training its trials (they then fail).")
]


def _say(text: str) -> None:
    """A line that quotes study names and paths: shown as safe text, never as rich markup."""
    from sweepnn.untrusted import safe_text

    typer.echo(safe_text(text, multiline=True))


def _where(storage: str | None, results: Path) -> str:
    from sweepnn.sweep.storage import DEFAULT_STORAGE, masked

    return masked(storage) if storage else str(results / DEFAULT_STORAGE)


def _size(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _trials(found) -> str:
    states = ", ".join(f"{n} {state}" for state, n in sorted(found.states.items()))
    return f"{found.trials} trial{'s' if found.trials != 1 else ''}" + (f": {states}" if states else "")


def _folder(found) -> str:
    models = f", {found.models} kept model{'s' if found.models != 1 else ''}" if found.models else ""
    return f"{found.folder}/ ({found.files} files{models}, {_size(found.size)})"


# What `sweepnn plot` and `sweepnn report` drew for the old name (titles, captions): removed, not
# redrawn, since drawing is theirs to do (and needs matplotlib); the command says how to make them again.
DRAWN = ("plots", "report.html")


def rewrite_files(study, folder: Path) -> None:
    """The result files in the folder written again from the study, so they name it by its new name;
    the charts and the report drawn for the old name are removed."""
    from sweepnn.results.files import write_results
    from sweepnn.sweep.reading import recipe_of

    gone = []
    for name in DRAWN:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.is_file() or path.is_symlink():
            path.unlink()
        else:
            continue
        gone.append(name)
    if gone:
        _say(
            f"Removed {' and '.join(gone)} (drawn for the old name):"
            " sweepnn plot and sweepnn report make them again."
        )

    try:
        recipe = recipe_of(study)
        if recipe is not None:
            write_results(study, recipe, folder.parent)
    except SweepnnError as e:  # its own code is not importable here: the files stay as they were
        err_console.print(
            f"Warning: the result files in {folder} still name the old study: {e}", markup=False
        )


def _recipe_note(old: str, new: str) -> None:
    _say(
        f"Its recipe is now named '{new}'. A recipe with `name: {old}` (or a file {old}.yaml without a"
        f" name) starts a new study '{old}' when run: set `name: {new}` in it to go on with '{new}'."
    )


@app.command()
@errors_to_exit
def delete(
    study: StudyArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (for scripts).")] = False,
    keep_files: KeepFilesOpt = False,
    force: ForceOpt = False,
    storage: StorageOpt = None,
    results: ResultsOpt = Path("results"),
) -> None:
    """Delete a study from the storage, with its results folder results/<study>/ (asks first)."""
    from sweepnn.sweep import managing
    from sweepnn.sweep.reading import open_for_reading

    store = open_for_reading(storage, results)
    found = managing.describe(store, study, results, storage)
    if not force:
        managing.refuse_live(found, "deleting")
    _say(f"Study '{study}' in {_where(storage, results)}: {_trials(found)}")
    if found.live:
        _say(f"Being trained right now by {', '.join(found.live)}: those runs will fail.")
    if found.folder:
        _say(f"Results folder {_folder(found)}: " + ("kept (--keep-files)" if keep_files else "deleted too"))
    elif found.note:
        _say(f"Note: {found.note}")
    if not yes:
        if not sys.stdin.isatty():
            raise InputError(
                f"deleting study '{study}' needs a yes: there is no terminal to ask on, so pass --yes."
                " Nothing was deleted"
            )
        if not typer.confirm(f"Delete study '{study}'?", default=False):
            err_console.print("Nothing deleted.")
            raise typer.Exit(1)
    managing.delete(
        store, study, results, url=storage, files=not keep_files, force=True
    )  # live ones were checked above
    gone = f" and {found.folder}/" if found.folder and not keep_files else ""
    _say(f"Deleted study '{study}'{gone}.")


@app.command()
@errors_to_exit
def copy(
    study: StudyArg,
    new: Annotated[
        str | None,
        typer.Argument(
            metavar="[NEW]",
            help="The copy's name (default: the same, with --to-storage).",
            show_default=False,
        ),
    ] = None,
    to_storage: Annotated[
        str | None,
        typer.Option(
            "--to-storage",
            help="Optuna storage URL or journal file to copy into (default: the study's own storage).",
            show_default=False,
        ),
    ] = None,
    keep_files: Annotated[
        bool, typer.Option("--keep-files", help="Do not copy the results folder results/<study>/.")
    ] = False,
    storage: StorageOpt = None,
    results: ResultsOpt = Path("results"),
) -> None:
    """Copy a study, trials and records whole, within its storage or into another one (any kind)."""
    from sweepnn.sweep import managing
    from sweepnn.sweep.reading import open_for_reading
    from sweepnn.sweep.storage import open_storage

    if new is None and to_storage is None:
        raise InputError("give the copy a name (sweepnn copy STUDY NEW), or another storage (--to-storage)")
    new = study if new is None else new
    store = open_for_reading(storage, results)
    target = store if to_storage is None else open_storage(to_storage, results)
    found, folder, replaced = managing.copy(
        store, study, new, results, to_storage=target, files=not keep_files, rewrite=rewrite_files
    )
    if replaced:
        _say(f"Replaced '{new}', the part of an earlier copy that was interrupted.")
    into = _where(to_storage, results) if to_storage else _where(storage, results)
    _say(f"Copied study '{study}' ({_trials(found)}) to '{new}' in {into}.")
    if folder:
        _say(f"Copied {found.folder}/ to {folder}/, its result files written for '{new}'.")
    elif found.note and not keep_files:
        _say(f"Note: {found.note}")
    if found.live:
        _say(
            f"Note: {', '.join(found.live)} are training trials of '{study}' right now: the copy holds them"
            " as running, and a run of the copy trains them again once those workers stop."
        )
    if new != study:
        _recipe_note(study, new)


@app.command()
@errors_to_exit
def rename(
    study: StudyArg,
    new: NewArg,
    force: ForceOpt = False,
    storage: StorageOpt = None,
    results: ResultsOpt = Path("results"),
) -> None:
    """Rename a study and its results folder (a copy, then the old one deleted: rerun if interrupted)."""
    from sweepnn.sweep import managing
    from sweepnn.sweep.reading import open_for_reading

    store = open_for_reading(storage, results)
    found, folder, resumed = managing.rename(
        store, study, new, results, url=storage, force=force, rewrite=rewrite_files
    )
    if resumed:
        _say(f"Finished the rename of '{study}' to '{new}' that was interrupted.")
    _say(f"Renamed study '{study}' ({_trials(found)}) to '{new}' in {_where(storage, results)}.")
    if folder:
        _say(f"Its results are in {folder}/ now, the files written for '{new}'.")
    elif found.note:
        _say(f"Note: {found.note}")
    _recipe_note(study, new)
