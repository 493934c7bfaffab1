"""Trackers: each finished trial of a sweep written to the experiment trackers practitioners already
read (TensorBoard, MLflow), as optional extras that are off unless `sweepnn run --track NAME` asks.

A trial is written once it is done, from what the study stored of it (sweepnn.record): the command's
process hears every worker's trials finish, and a stored trial reads the same for one trial, seed
repeats and a stacked group. Each tracker keys what it wrote by the trial's number and start time, so
a resumed sweep writes only the trials it has not; a study that starts over (new, or `--fresh`)
starts its trackers' records over too. A tracker that cannot be opened (library missing, bad
location) stops the run before any training; one that fails on a trial says so and the sweep goes on,
and the trials it missed are written when the sweep ends, or by the next run with `--track`.

This module imports nothing heavy (no tracker library, no recipe): the registry is what `--track`
offers and `sweepnn run --help` lists, read when the command line is built.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sweepnn.errors import InputError, choices_text, notice

if TYPE_CHECKING:
    from sweepnn.recipe.config import Recipe
    from sweepnn.results.trackers.trial import TrialRun

__all__ = ["TRACKERS", "Tracker", "TrackerName", "Tracking", "caught_up", "open_trackers"]


class Tracker(Protocol):
    """One study's records in one tracker."""

    label: str  # the tracker's name as its users write it: TensorBoard, MLflow
    where: str  # where its records are (a folder, a store's URI)
    reader: str  # the command that shows them

    def logged(self) -> dict[int, str]:
        """Trial number -> the start time (TrialRun.key) of the attempt written for it."""
        ...

    def log(self, run: TrialRun) -> None:
        """Write one finished trial, replacing an earlier attempt's record of the same number."""
        ...

    def clear(self) -> None:
        """Forget every trial written for this study (it starts over)."""
        ...


@dataclass(frozen=True)
class TrackerSpec:
    """A tracker sweepnn can write to: the library it needs (and the extra that installs it) and
    where its writer lives, imported only when a run asks for it."""

    name: str
    description: str  # what it writes where, as `sweepnn run --help` says it
    module: str  # the library's import name: missing means the extra is not installed
    extra: str
    writer: str  # "module:Class" of the writer; Class(recipe, results_dir) opens the study's records

    def check(self) -> None:
        """Raise InputError naming the extra when the library cannot be imported."""
        try:
            importlib.import_module(self.module)
        except ImportError as e:  # not installed, or installed broken (a dependency's wrong version)
            what = "is not installed" if e.name == self.module else f"does not import ({e})"
            raise InputError(
                f"--track {self.name} needs {self.module}, which {what}: pip install 'sweepnn[{self.extra}]'"
            ) from None

    def open(self, recipe: Recipe, results_dir: Path) -> Tracker:
        module, _, cls = self.writer.partition(":")
        return getattr(importlib.import_module(module), cls)(recipe, results_dir)


TRACKERS: dict[str, TrackerSpec] = {
    spec.name: spec
    for spec in (
        TrackerSpec(
            "tensorboard",
            "event files per trial in results/<study>/tensorboard/",
            "tensorboard",
            "tensorboard",
            "sweepnn.results.trackers.tensorboard_files:TensorBoardFiles",
        ),
        TrackerSpec(
            "mlflow",
            "a run per trial in results/mlflow.db (an experiment per study), or MLFLOW_TRACKING_URI's",
            "mlflow",
            "mlflow",
            "sweepnn.results.trackers.mlflow_runs:MlflowRuns",
        ),
    )
}
# the names as Typer's choices: `--track` takes only these, and `--help` lists them
TrackerName = Enum("TrackerName", {name: name for name in TRACKERS}, type=str)


def open_trackers(names: list[str], recipe: Recipe, results_dir: Path) -> list[Tracker]:
    """The named trackers, opened for the recipe's study: an unknown name, a missing library or a
    location that cannot be written is bad input, raised here, before anything trains."""
    unknown = [n for n in names if n not in TRACKERS]
    if unknown:
        raise InputError(f"unknown tracker {unknown[0]!r}; valid: {choices_text(TRACKERS)}")
    specs = [TRACKERS[n] for n in dict.fromkeys(names)]
    for spec in specs:  # every library first: nothing is made on disk for a run that cannot start
        spec.check()
    return [spec.open(recipe, results_dir) for spec in specs]


class Tracking:
    """sweepnn.sweep.study.Events passed on to a display, with each finished trial written to the
    trackers too. A tracker's failure is a notice, never the sweep's end; `catch_up` writes what was
    missed."""

    def __init__(self, display: Any, trackers: list[Tracker], recipe: Recipe):
        self.display, self.trackers, self.recipe = display, trackers, recipe

    def sweep_started(self, study, done, budget, resumed, best) -> None:
        if not resumed:  # a new study reuses the trial numbers: an older study's records would mix in
            for tracker in self.trackers:
                self._safely(tracker, "could not clear the records of an earlier study", tracker.clear)
        self.display.sweep_started(study, done, budget, resumed, best)

    def trial_started(self, number, params) -> None:
        self.display.trial_started(number, params)

    def epoch_done(self, number, epoch, epochs, metrics) -> None:
        self.display.epoch_done(number, epoch, epochs, metrics)

    def trial_done(self, trial, done, budget) -> None:
        from sweepnn.results.trackers.trial import trial_run

        self.display.trial_done(trial, done, budget)
        missed = f"trial {trial.number} not written (tried again when the sweep ends)"
        read: list[TrialRun] = []  # the trial read once for every tracker, inside: one it cannot read
        # is a notice, and stops no sweep

        def log(tracker: Tracker) -> None:
            if not read:
                read.append(trial_run(trial, self.recipe))
            tracker.log(read[0])

        for tracker in self.trackers:
            self._safely(tracker, missed, log, tracker)

    def catch_up(self, trials) -> int:
        """Write the finished trials of the study that a tracker does not have (earlier runs', or
        those a failure missed); returns how many writes were made."""
        from sweepnn.results.trackers.trial import key_of, trial_run

        finished = [t for t in trials if _finished(t)]
        runs: dict[int, TrialRun] = {}  # made once, for the trials some tracker lacks
        writes = 0
        for tracker in self.trackers:
            have = self._safely(tracker, "could not read what was written", tracker.logged)
            if have is False:
                continue
            for t in finished:
                if have.get(t.number) != key_of(t):
                    run = runs.get(t.number) or runs.setdefault(t.number, trial_run(t, self.recipe))
                    done = self._safely(tracker, f"trial {t.number} not written", tracker.log, run)
                    writes += done is not False
        return writes

    def _safely(self, tracker: Tracker, what: str, fn, *args):
        """fn(*args); a failure of any kind (a full disk, a store gone away) is said, and False returned."""
        try:
            out = fn(*args)
        except Exception as e:  # the tracker's library raises its own types: none may stop the sweep
            notice(f"{tracker.label} at {tracker.where}: {what}: {type(e).__name__}: {e}")
            return False
        return True if out is None else out


def _finished(trial) -> bool:
    """A trial that trained (to its end, or cut short), not one asked for beyond the budget."""
    from sweepnn import record

    return trial.state.is_finished() and trial.user_attrs.get(record.OUTCOME) != "surplus"


def caught_up(events: Any, study) -> None:
    """After a sweep: what its trackers (if `events` has any) miss of the study, written now."""
    if isinstance(events, Tracking):
        events.catch_up(study.get_trials(deepcopy=False))
