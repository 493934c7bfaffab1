"""Optuna at the edge: storage, sampler, pruner, and the ask-and-tell loop that runs a sweep.

This is the only module that imports Optuna. A study is named by its recipe and remembers the
recipe's fingerprint, so running the same command again resumes it (finished trials count against
the budget) and running a changed recipe under the same name is refused rather than mixed in.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from sweepnn import record
from sweepnn.errors import SweepnnError, notice
from sweepnn.recipe.budget import budget as sweep_budget
from sweepnn.recipe.checks import scored_on, validates_on_test
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.space import apply
from sweepnn.record import outcome_of
from sweepnn.sweep.liveness import Heartbeats, recover_stale
from sweepnn.sweep.opening import study_gone
from sweepnn.sweep.storage import retrying
from sweepnn.sweep.trials import Step, top_numbers

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
    return {t.number for t in study.get_trials(deepcopy=False) if outcome_of(t) == "interrupted"}


# ---- the sweep ------------------------------------------------------------------------------------


class Events(Protocol):
    """What a display hears about a running sweep."""

    def sweep_started(
        self, study: str, done: int, budget: int | None, resumed: bool, best: float | None
    ) -> None: ...
    def trial_started(self, number: int, params: dict[str, Any]) -> None: ...
    def epoch_done(self, number: int, epoch: int, epochs: int, metrics: dict[str, float]) -> None: ...
    def trial_done(self, trial: FrozenTrial, done: int, budget: int | None) -> None: ...


class Quiet:
    """Events that nobody hears: a sweep run from Python, whose caller reads the summary it returns."""

    def sweep_started(self, study, done, budget, resumed, best) -> None:
        pass

    def trial_started(self, number, params) -> None:
        pass

    def epoch_done(self, number, epoch, epochs, metrics) -> None:
        pass

    def trial_done(self, trial, done, budget) -> None:
        pass


@dataclass
class SweepSummary:
    """What one run of a sweep did: its study, whether it resumed, the trials it ran and how long."""

    study: optuna.Study
    resumed: bool
    leaders: Any = None  # sweepnn.training.holdout.Leaders: the weights of the best trials trained here
    ran: int = 0  # trials run by this invocation
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    worker_failures: list[str] = field(default_factory=list)  # workers of this run that ended badly


def counted(trial: FrozenTrial) -> bool:
    """Does a finished trial use up budget? Not when it runs again: interrupted, or crashed and
    retried; nor a surplus trial, asked for when the budget was already spent."""
    if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL):
        return False
    outcome = trial.user_attrs.get(record.OUTCOME)
    if outcome == "crashed":
        return not trial.user_attrs.get(record.RETRIED, False)
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
    """Score the best trials on the test split, once each (see sweepnn.training.holdout); with seed repeats,
    every seed's network, and the trial's scores are their mean.

    Kept as study attributes, one per trial: a finished trial's own attributes cannot change. A recipe
    validated on the test split (data.val_fraction 0) chose its trials on it: nothing is left to score
    them on apart, and that is said rather than a test score made that would not be held out.
    """
    from sweepnn.training.holdout import score_seeds_on_test

    if validates_on_test(recipe):
        if recipe.search.test_top:
            notice(
                f"search.test_top {recipe.search.test_top} skipped: data.val_fraction 0 evaluated every"
                " epoch on the test split, so the trials were chosen on it; their val_* metrics are"
                " the test split's, and no held-out test score is left to make"
            )
        return
    for number in top_numbers(study, recipe):
        if record.STUDY_TEST + str(number) in study.user_attrs:
            continue
        trial = study.trials[number]
        cfg = apply(recipe, trial.user_attrs.get(record.PARAMS, trial.params))
        seeds = score_seeds_on_test(cfg, device, leaders.weights.get(number))
        if not seeds:
            return  # the dataset has no test split
        if len(seeds) > 1:  # before the mean: a trial with a mean has its seeds' scores
            study.set_user_attr(record.STUDY_TEST_SEEDS + str(number), seeds)
        study.set_user_attr(
            record.STUDY_TEST + str(number),
            {k: statistics.fmean(s[k] for s in seeds) for k in seeds[0] if k != "seed"},
        )


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
    from sweepnn.sweep.liveness import heartbeat_seconds

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
            trial.set_user_attr(record.OUTCOME, "surplus")
            study.tell(trial, state=TrialState.FAIL)
            break
        asked.append(trial)
    return asked


def requeue_interrupted(study: optuna.Study) -> int:
    """Enqueue once more, with the same parameters, each trial an interruption cut short."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get(record.RETRY_OF) for t in trials}
    n = 0
    for t in trials:
        if t.user_attrs.get(record.OUTCOME) == "interrupted" and t.number not in retried:
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
            if t.user_attrs.get(record.OUTCOME) == "surplus":
                continue  # asked for after the budget ran out, never trained
            if t.state == TrialState.FAIL and t.user_attrs.get(record.OUTCOME) == "failed":
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
    models_folder: Path | None = None,
) -> SweepSummary:
    """Run trials until the budget or the timeout is spent.

    The budget is the study's, not this process's: finished trials of earlier runs count, and so do
    the trials other workers are running, so any number of workers (here or on other machines)
    together train exactly `n_trials`. Before each trial the trials of dead workers are recovered
    (see sweepnn.sweep.liveness). With `everyone` the trials other workers finish meanwhile are reported
    (and counted in `ran`) too; `others_running` says whether this run's other workers still train,
    and the sweep reports their trials until they stop. Trials among the best `search.save_top` stage
    their weights under `models_folder` (results/<study>/; None: nothing is kept).
    """
    from sweepnn.training.data import load_data
    from sweepnn.training.holdout import Leaders

    on_test = validates_on_test(recipe)
    summary = SweepSummary(study, resumed, Leaders(0 if on_test else recipe.search.test_top))
    budget, _why = sweep_budget(recipe)
    recover_stale(study)
    requeue_interrupted(study)
    data = load_data(recipe.data, device)  # once, before the clock: a data error stops before any trial
    if on_test and everyone:  # where the objective is scored, said once by the command's process
        notice(f"{recipe.name}: {scored_on(recipe)}")
    first = recipe.search.objectives[0]
    events.sweep_started(recipe.name, finished(study), budget, resumed, best_value(study, first.direction))
    finishes = _Finishes(study, events, summary, budget, everyone)

    def between_trials() -> None:
        finishes.others()
        if on_progress:
            on_progress()

    start = time.perf_counter()
    deadline = start + recipe.search.timeout if recipe.search.timeout else None
    step = Step(recipe, study, device, data, events, summary, models_folder)
    # trials asked at once: a stacked group of up to group_size (one at a time with seed repeats)
    group = recipe.search.group_size if recipe.search.repeats == 1 else 1
    running: list[optuna.Trial] = []
    try:
        while deadline is None or time.perf_counter() < deadline:
            asked = _ask(study, budget, group, deadline, between_trials)
            if not asked:
                break
            running = asked
            with Heartbeats(asked) as step.beats:
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
                trial.set_user_attr(record.OUTCOME, "interrupted")
                trial.set_user_attr(record.REASON, f"interrupted by {getattr(e, 'signal_name', 'SIGINT')}")
                study.tell(trial, state=TrialState.FAIL)
            except UpdateFinishedTrialError:
                continue  # taken over meanwhile by another worker: its retry stands
            recorded += 1
        raise Interrupted(getattr(e, "signal_name", "SIGINT"), recorded) from None
    finally:
        summary.seconds = time.perf_counter() - start
    return summary
