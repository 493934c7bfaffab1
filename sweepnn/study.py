"""Optuna at the edge: storage, sampler, pruner, and the ask-and-tell loop that runs a sweep.

This is the only module that imports Optuna. A study is named by its recipe and remembers the
recipe's fingerprint, so running the same command again resumes it (finished trials count against
the budget) and running a changed recipe under the same name is refused rather than mixed in.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from sweepnn.config import Recipe
from sweepnn.errors import InputError, SweepnnError
from sweepnn.liveness import Heartbeats, recover_stale
from sweepnn.samplers import budget as sweep_budget
from sweepnn.samplers import grid_size, make_pruner, make_sampler
from sweepnn.space import apply
from sweepnn.storage import DEFAULT_STORAGE, open_storage, retrying
from sweepnn.trials import Step, top_numbers

__all__ = [  # names other modules import from here, the storage ones kept where they were first
    "DEFAULT_STORAGE",
    "Interrupted",
    "SweepSummary",
    "grid_size",
    "held_out_scores",
    "held_out_seeds",
    "held_out_spread",
    "make_pruner",
    "open_storage",
    "open_study",
    "run_sweep",
]

ATTR_FINGERPRINT = "sweepnn:fingerprint"
ATTR_RECIPE = "sweepnn:recipe"
# Parts of a recipe that may change between runs of one study: extending the budget is resuming.
_UNFINGERPRINTED = {
    "name": True,
    "description": True,
    "search": {"n_trials": True, "timeout": True, "test_top": True, "group_size": True},
}
ATTR_TEST = "sweepnn:test:"  # + trial number: that trial's scores on the test split
ATTR_TEST_SEEDS = "sweepnn:test-seeds:"  # + trial number: each seed's test scores, with seed repeats

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


class Interrupted(SweepnnError):
    """Ctrl-C or SIGTERM during a sweep; the `trials` running (in every worker) were recorded as
    interrupted."""

    def __init__(self, signal_name: str = "SIGINT", trials: int = 1):
        self.signal_name, self.trials = signal_name, trials
        self.exit_code = 143 if signal_name == "SIGTERM" else 130
        if trials == 0:
            what = "no trial was running"
        elif trials == 1:
            what = "the running trial was recorded as interrupted"
        else:
            what = f"the {trials} running trials were recorded as interrupted"
        super().__init__(f"interrupted by {signal_name}; {what}. Run the same command again to resume.")


def interrupted_numbers(study: optuna.Study) -> set[int]:
    """The trials an interruption cut short, in this run or an earlier one."""
    return {
        t.number for t in study.get_trials(deepcopy=False) if t.user_attrs.get("outcome") == "interrupted"
    }


# ---- storage and study ---------------------------------------------------------------------------


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
    """Trials by state, as list and show count them (sweepnn.trial_result.state_counts)."""
    from sweepnn.trial_result import state_counts as counts

    return counts(study.get_trials(deepcopy=False))


def fingerprint(recipe: Recipe) -> str:
    data = recipe.model_dump(mode="json", exclude=_UNFINGERPRINTED)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


_ABSENT = object()
_UNCHECKED = (
    ("name",),
    ("description",),
    ("search", "n_trials"),
    ("search", "timeout"),
    ("search", "test_top"),
    ("search", "group_size"),
)


def recipe_changes(old: dict, new: dict, limit: int = 8) -> list[str]:
    """'path: old -> new' once for each setting that differs (the budget excluded), at the path a
    user writes: a searched parameter added or removed is one line (`search.space['model.dropout']`),
    and so is an option switched for another (`train.optimizer: 'adam' -> 'sgd'`), not one per key
    below them."""
    from sweepnn.locations import dotted

    lines: list[str] = []

    def shown(value: Any) -> str:
        if value is _ABSENT:
            return "(absent)"
        if isinstance(value, dict):  # a searched parameter's unset keys (step: None) say nothing
            return repr({k: v for k, v in value.items() if v is not None and v is not False})
        return repr(value)

    def walk(a: Any, b: Any, loc: tuple) -> None:
        if a == b or loc in _UNCHECKED:
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


def study_gone(study: optuna.Study) -> bool:
    """Was this study deleted under us (by a run with --fresh, which may have made a new one of the
    same name)? Told by the study's id, not its name."""
    try:
        return study._storage.get_study_id_from_name(study.study_name) != study._study_id
    except KeyError:
        return True


def study_exists(storage, name: str) -> bool:
    return any(s.study_name == name for s in storage.get_all_studies())


def refuse_fresh_while_running(study: optuna.Study) -> None:
    """--fresh deletes a study: never under a worker that is training one of its trials."""
    from sweepnn.liveness import ATTR_WORKER, is_stale

    now = time.time()
    live = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if not is_stale(t, now)]
    if live:
        who = sorted({str(t.user_attrs.get(ATTR_WORKER, "an unknown worker")) for t in live})
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
            old = study.user_attrs.get(ATTR_FINGERPRINT)
            if old is not None and old != fingerprint(recipe):
                changes = recipe_changes(
                    study.user_attrs.get(ATTR_RECIPE, {}), recipe.model_dump(mode="json")
                )
                raise InputError(
                    f"study '{name}' exists and was run with a different recipe:\n  "
                    + "\n  ".join(changes)
                    + "\nRun with --fresh to discard it and start over, or give the recipe another name."
                )
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
    study.set_user_attr(ATTR_FINGERPRINT, fingerprint(recipe))
    study.set_user_attr(ATTR_RECIPE, recipe.model_dump(mode="json"))
    return study, False


# ---- the sweep ------------------------------------------------------------------------------------


class Events(Protocol):
    """What a display hears about a running sweep."""

    def sweep_started(
        self, study: str, done: int, budget: int | None, resumed: bool, best: float | None
    ) -> None: ...
    def trial_started(self, number: int, params: dict[str, Any]) -> None: ...
    def epoch_done(self, number: int, epoch: int, epochs: int, metrics: dict[str, float]) -> None: ...
    def trial_done(self, trial: FrozenTrial, done: int, budget: int | None) -> None: ...


@dataclass
class SweepSummary:
    study: optuna.Study
    resumed: bool
    leaders: Any = None  # sweepnn.holdout.Leaders: the weights of the best trials trained here
    ran: int = 0  # trials run by this invocation
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    worker_failures: list[str] = field(default_factory=list)  # workers of this run that ended badly


def counted(trial: FrozenTrial) -> bool:
    """Does a finished trial use up budget? Not when it runs again: interrupted, or crashed and
    retried; nor a surplus trial, asked for when the budget was already spent."""
    if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL):
        return False
    outcome = trial.user_attrs.get("outcome")
    if outcome == "crashed":
        return not trial.user_attrs.get("sweepnn:retried", False)
    return outcome not in ("interrupted", "surplus")


def finished(study: optuna.Study) -> int:
    """Trials of the study that have used up budget."""
    return sum(counted(t) for t in study.get_trials(deepcopy=False))


def taken(trials: list[FrozenTrial]) -> int:
    """Budget used or in use: finished trials and the ones running now, in any worker."""
    return sum(counted(t) or t.state == TrialState.RUNNING for t in trials)


def surplus(study: optuna.Study, number: int, budget: int) -> bool:
    """Is trial `number` beyond the budget? Trial numbers are handed out one at a time by the
    storage, so of several workers asking at once, exactly the first `budget` get to train."""
    ahead = sum(
        t.number < number and (counted(t) or t.state in (TrialState.RUNNING, TrialState.WAITING))
        for t in study.get_trials(deepcopy=False)
    )
    return ahead >= budget


def best_value(study: optuna.Study, direction: str) -> float | None:
    """The best value of the first objective so far (earlier runs included), or None."""
    values = [t.values[0] for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    return (max if direction == "maximize" else min)(values) if values else None


def score_test(study: optuna.Study, recipe: Recipe, device, leaders) -> None:
    """Score the best trials on the test split, once each (see sweepnn.holdout); with seed repeats,
    every seed's network, and the trial's scores are their mean.

    Kept as study attributes, one per trial: a finished trial's own attributes cannot change.
    """
    from sweepnn.holdout import score_seeds_on_test

    for number in top_numbers(study, recipe):
        if ATTR_TEST + str(number) in study.user_attrs:
            continue
        trial = study.trials[number]
        cfg = apply(recipe, trial.user_attrs.get("params", trial.params))
        seeds = score_seeds_on_test(cfg, device, leaders.weights.get(number))
        if not seeds:
            return  # the dataset has no test split
        if len(seeds) > 1:  # before the mean: a trial with a mean has its seeds' scores
            study.set_user_attr(ATTR_TEST_SEEDS + str(number), seeds)
        study.set_user_attr(
            ATTR_TEST + str(number),
            {k: statistics.fmean(s[k] for s in seeds) for k in seeds[0] if k != "seed"},
        )


def held_out_scores(study: optuna.Study) -> dict[int, dict[str, float]]:
    """Trial number -> its test scores (with seed repeats, the mean over the seeds), for the trials
    that have them."""
    return {int(k.removeprefix(ATTR_TEST)): v for k, v in study.user_attrs.items() if k.startswith(ATTR_TEST)}


def held_out_seeds(study: optuna.Study) -> dict[int, list[dict[str, float]]]:
    """Trial number -> each seed's test scores ({seed, test_loss, test_accuracy or test_r2}), for the
    trials of a study with seed repeats that were scored on the test split."""
    return {
        int(k.removeprefix(ATTR_TEST_SEEDS)): v
        for k, v in study.user_attrs.items()
        if k.startswith(ATTR_TEST_SEEDS)
    }


def held_out_spread(study: optuna.Study) -> dict[int, dict[str, float]]:
    """Trial number -> the standard deviation of each test score over its seeds (seed repeats only)."""
    return {
        n: {k: statistics.stdev(s[k] for s in seeds) for k in seeds[0] if k != "seed"}
        for n, seeds in held_out_seeds(study).items()
    }


def _ask(
    study: optuna.Study,
    budget: int | None,
    k: int,
    deadline: float | None,
    on_wait: Callable[[], None] | None = None,
) -> list[optuna.Trial]:
    """Up to k new trials, no more than the study's budget leaves (every worker's trials counted).

    When the rest of the budget is being trained by other workers, wait for them to finish: one that
    dies or stops meanwhile leaves its trial to be retried, here, rather than running for ever.
    """
    from sweepnn.liveness import heartbeat_seconds

    asked: list[optuna.Trial] = []
    while len(asked) < k:
        # one read of the study per trial asked: on a database each read costs a round trip
        trials = retrying(study.get_trials, deepcopy=False)
        if retrying(recover_stale, study, trials):
            trials = retrying(study.get_trials, deepcopy=False)
        if budget is not None and taken(trials) >= budget:
            others = any(t.state == TrialState.RUNNING for t in trials)
            if asked or not others or (deadline is not None and time.perf_counter() >= deadline):
                break
            if on_wait is not None:
                on_wait()  # the trials the others finish meanwhile are reported as they finish
            time.sleep(min(2.0, max(0.2, heartbeat_seconds() / 2)))
            continue
        trial = retrying(study.ask)
        if budget is not None and surplus(study, trial.number, budget):
            # another worker asked in the same instant and the budget is spent: never train it
            trial.set_user_attr("outcome", "surplus")
            study.tell(trial, state=TrialState.FAIL)
            break
        asked.append(trial)
    return asked


def requeue_interrupted(study: optuna.Study) -> int:
    """Enqueue once more, with the same parameters, each trial an interruption cut short."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    n = 0
    for t in trials:
        if t.user_attrs.get("outcome") == "interrupted" and t.number not in retried:
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
            n += 1
    return n


class _Finishes:
    """Reports each trial of the study that finishes while this run runs, once: this worker's as it
    tells them, and (with `everyone`) the other workers' as they are found finished, so the
    command's own process shows every trial of the study and counts them all."""

    def __init__(self, study: optuna.Study, events: Events, summary: SweepSummary, budget, everyone: bool):
        self.study, self.events, self.summary, self.budget, self.everyone = (
            study,
            events,
            summary,
            budget,
            everyone,
        )
        self.seen = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}

    def mine(self, frozen: FrozenTrial) -> None:
        self.seen.add(frozen.number)
        self._report(frozen)

    def others(self) -> None:
        if not self.everyone:
            return
        for t in retrying(self.study.get_trials, deepcopy=False):
            if t.number in self.seen or not t.state.is_finished():
                continue
            self.seen.add(t.number)
            if t.user_attrs.get("outcome") == "surplus":
                continue  # asked for after the budget ran out, never trained
            if t.state == TrialState.FAIL and t.user_attrs.get("outcome") == "failed":
                self.summary.failures.append(f"trial {t.number}: {t.user_attrs.get('reason', '')}")
            self._report(t)

    def _report(self, trial: FrozenTrial) -> None:
        self.summary.ran += 1
        self.events.trial_done(trial, retrying(finished, self.study), self.budget)


def run_sweep(
    recipe: Recipe,
    study: optuna.Study,
    device,
    events: Events,
    *,
    resumed: bool = False,
    on_progress: Callable[[], None] | None = None,
    everyone: bool = True,
    others_running: Callable[[], bool] | None = None,
) -> SweepSummary:
    """Run trials until the budget or the timeout is spent.

    The budget is the study's, not this process's: finished trials of earlier runs count, and so do
    the trials other workers are running, so any number of workers (here or on other machines)
    together train exactly `n_trials`. Before each trial the trials of dead workers are recovered
    (see sweepnn.liveness). With `everyone` the trials other workers finish meanwhile are reported
    (and counted in `ran`) too; `others_running` says whether this run's other workers still train,
    and the sweep reports their trials until they stop.
    """
    from sweepnn.data import load_data
    from sweepnn.holdout import Leaders

    summary = SweepSummary(study, resumed, Leaders(recipe.search.test_top))
    budget, _why = sweep_budget(recipe)
    recover_stale(study)
    requeue_interrupted(study)
    data = load_data(recipe.data, device)  # once, before the clock: a data error stops before any trial
    first = recipe.search.objectives[0]
    events.sweep_started(recipe.name, finished(study), budget, resumed, best_value(study, first.direction))
    finishes = _Finishes(study, events, summary, budget, everyone)

    def between_trials() -> None:
        finishes.others()
        if on_progress:
            on_progress()

    start = time.perf_counter()
    deadline = start + recipe.search.timeout if recipe.search.timeout else None
    step = Step(recipe, study, device, data, events, summary)
    # trials asked at once: a stacked group of up to group_size (one at a time with seed repeats)
    group = recipe.search.group_size if recipe.search.repeats == 1 else 1
    running: list[optuna.Trial] = []
    try:
        while deadline is None or time.perf_counter() < deadline:
            asked = _ask(study, budget, group, deadline, between_trials)
            if not asked:
                break
            running = asked
            with Heartbeats(asked):
                told = step.run_one(asked[0]) if len(asked) == 1 and group == 1 else step.run_group(asked)
            running = []
            for frozen in told if isinstance(told, list) else [told]:
                if frozen is None:
                    continue  # taken over by another worker: its retry is the trial's result
                finishes.mine(frozen)
            between_trials()
        while others_running is not None and others_running():  # their last trials, reported as they end
            between_trials()
            time.sleep(0.2)
        finishes.others()
    except KeyError:
        if not study_gone(study):
            raise
        raise SweepnnError(
            f"study '{recipe.name}' was deleted while this run was running it (by a run with --fresh?);"
            " this run stops. Its trials are gone with the study."
        ) from None
    except KeyboardInterrupt as e:
        recorded = 0
        for trial in running:
            if trial.number not in {t.number for t in study.get_trials(states=(TrialState.RUNNING,))}:
                continue  # told already: its result stands
            try:
                trial.set_user_attr("outcome", "interrupted")
                trial.set_user_attr("reason", f"interrupted by {getattr(e, 'signal_name', 'SIGINT')}")
                study.tell(trial, state=TrialState.FAIL)
            except UpdateFinishedTrialError:
                continue  # taken over meanwhile by another worker: its retry stands
            recorded += 1
        raise Interrupted(getattr(e, "signal_name", "SIGINT"), recorded) from None
    finally:
        summary.seconds = time.perf_counter() - start
    return summary
