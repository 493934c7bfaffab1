"""What a trial and a study record in Optuna's storage, and how they are read back: the one module
that spells those names. It imports neither Optuna nor torch: a trial here is anything with
`user_attrs`, `state` and `number` (Optuna's FrozenTrial), a study anything with `user_attrs`.

A trial's user attributes (written by sweepnn.sweep, read by sweepnn.results and the commands):
    outcome      sweepnn's diagnosis: ok, saturated, stalled, vanishing, exploding, overfitting (it
                 trained to its end), diverged, pruned, failed, interrupted, crashed, surplus
    reason       the diagnosis in words
    epochs, metrics, history    epochs trained, the final (or best) epoch's metrics, every epoch's
    repeats, metrics_std        with search.repeats: each seed's final metrics, and their spread
    params       the trial's configuration as dotted paths (what was searched and what was fixed)
    seconds      the trial's own training time (start-up is the study's, below)
    retry_of     the trial whose interrupted or crashed attempt this one trains again
The study's: the recipe it was run with, its fingerprint, the start-up seconds of its latest run,
and each scored trial's test results (with seed repeats, each seed's too).
"""

from __future__ import annotations

import statistics
from typing import Any

# ---- a trial's user attributes ---------------------------------------------------------------------
OUTCOME = "outcome"
REASON = "reason"
EPOCHS = "epochs"
METRICS = "metrics"
HISTORY = "history"
REPEATS = "repeats"
METRICS_STD = "metrics_std"
PARAMS = "params"
SECONDS = "seconds"
RETRY_OF = "retry_of"
CHANGED = "changed"  # what sweepnn changed in a user's own network: swapped modules, initialized layers
# ... and what the workers' liveness check keeps on a running trial
WORKER = "sweepnn:worker"  # "host:pid" of the process training the trial
BEAT = "sweepnn:heartbeat"  # when that process last said it was alive (Unix time)
ATTEMPT = "sweepnn:attempt"  # 0 for a first try, n for the n-th retry after a crash
RETRIED = "sweepnn:retried"  # on a crashed trial: the number of the trial that retries it

# Outcomes of a trial that trained to its end (its objective counts); the others stopped it early.
TRAINED = ("ok", "saturated", "stalled", "vanishing", "exploding", "overfitting")

# ---- a study's user attributes ---------------------------------------------------------------------
STUDY_RECIPE = "sweepnn:recipe"  # the recipe it was run with (JSON): a study sweepnn created has one
STUDY_FINGERPRINT = "sweepnn:fingerprint"
STUDY_CODE = "sweepnn:code"  # the folders the user's own code was imported from (a recipe's folder)
STUDY_STARTUP = "sweepnn:startup_s"  # its latest run's one-off start-up seconds: in no trial's time
STUDY_TEST = "sweepnn:test:"  # + trial number: that trial's scores on the test split
STUDY_TEST_SEEDS = "sweepnn:test-seeds:"  # + trial number: each seed's test scores, with seed repeats


def result_attrs(result: Any) -> dict[str, Any]:
    """What a finished trial stores beside its value, from the trainer's TrialResult: outcome,
    reason, epochs and curves (and each seed's metrics with seed repeats)."""
    attrs = {
        OUTCOME: result.outcome,
        REASON: result.reason,
        EPOCHS: result.epochs,
        METRICS: result.metrics,
        HISTORY: result.history,
    }
    if result.repeats is not None:
        attrs[REPEATS] = result.repeats
        attrs[METRICS_STD] = result.metrics_std
    changed = getattr(result.model, "sweepnn_changes", None)  # set by the builder of an own model
    if changed:
        attrs[CHANGED] = list(changed)
    return attrs


def outcome_of(t: Any) -> str | None:
    """A finished trial's diagnosis, None for one that has none (running, or not sweepnn's)."""
    return t.user_attrs.get(OUTCOME)


# ---- counting trials: the one place every command's counts come from ------------------------------


def state_of(t) -> str:
    """A stored trial's state as people read it: Optuna's, lowercase, with an attempt cut short by
    Ctrl-C or SIGTERM ('interrupted') and one whose worker died ('crashed') apart from failures."""
    outcome = t.user_attrs.get(OUTCOME)
    if outcome in ("interrupted", "crashed"):
        return outcome
    return {"FAIL": "failed"}.get(t.state.name, t.state.name.lower())


def retried(trials) -> dict[int, int]:
    """Attempts that were trained again -> the trial that trained them again. Such an attempt is
    history, not a result: it stays in trials.csv, out of rankings and of every count."""
    return {t.user_attrs[RETRY_OF]: t.number for t in trials if t.user_attrs.get(RETRY_OF) is not None}


def results_of(trials) -> list:
    """The trials that are results: without surplus ones (asked for once the budget was spent, never
    trained) and without attempts that were trained again."""
    trials = list(trials)
    again = retried(trials)
    return [t for t in trials if t.user_attrs.get(OUTCOME) != "surplus" and t.number not in again]


def state_counts(trials) -> dict[str, int]:
    """Trials by state (see state_of), of the trials that are results."""
    out: dict[str, int] = {}
    for t in results_of(trials):
        out[state_of(t)] = out.get(state_of(t), 0) + 1
    return out


def outcome_counts(trials) -> dict[str, int]:
    """Trials by sweepnn's diagnosis (ok, stalled, ..., pruned, failed, interrupted), of the trials
    that are results."""
    out: dict[str, int] = {}
    for t in results_of(trials):
        outcome = t.user_attrs.get(OUTCOME) or state_of(t)
        out[outcome] = out.get(outcome, 0) + 1
    return out


# ---- a study's test scores ------------------------------------------------------------------------


def held_out_scores(study) -> dict[int, dict[str, float]]:
    """Trial number -> its test scores (with seed repeats, the mean over the seeds), for the trials
    that have them."""
    attrs = study.user_attrs
    return {int(k.removeprefix(STUDY_TEST)): v for k, v in attrs.items() if k.startswith(STUDY_TEST)}


def held_out_seeds(study) -> dict[int, list[dict[str, float]]]:
    """Trial number -> each seed's test scores ({seed, test_loss, test_accuracy or test_r2}), for the
    trials of a study with seed repeats that were scored on the test split."""
    return {
        int(k.removeprefix(STUDY_TEST_SEEDS)): v
        for k, v in study.user_attrs.items()
        if k.startswith(STUDY_TEST_SEEDS)
    }


def held_out_spread(study) -> dict[int, dict[str, float]]:
    """Trial number -> the standard deviation of each test score over its seeds (seed repeats only)."""
    return {
        n: {k: statistics.stdev(s[k] for s in seeds) for k in seeds[0] if k != "seed"}
        for n, seeds in held_out_seeds(study).items()
    }
