"""What a trial and a study record in Optuna's storage, and how they are read back: the one module
that spells those names. It imports neither Optuna nor torch: a trial here is anything with
`user_attrs`, `state` and `number` (Optuna's FrozenTrial), a study anything with `user_attrs`.

A trial's user attributes (written by sweepnn.sweep, read by sweepnn.results and the commands):
    outcome      sweepnn's diagnosis: ok, or a failure sweepnn.outcomes names (symmetric, dead, saturated,
                 ... when it trained to its end), diverged, pruned, failed, interrupted, crashed, surplus
    reason       the diagnosis in words
    epochs, metrics, history    epochs trained, the final (or best) epoch's metrics, every epoch's
    repeats, metrics_std        with search.repeats: each seed's final metrics, and their spread
    params       the trial's configuration as dotted paths (what was searched and what was fixed)
    seconds      the trial's own training time (start-up is the study's, below)
    speed        the area under its objective's curve and, with search.target, the epochs and seconds
                 to it (sweepnn.speed; the tables time any target from `history` when read)
    retry_of     the trial whose interrupted or crashed attempt this one trains again
The study's: the recipe it was run with, its fingerprint, the start-up seconds of its latest run,
and each scored trial's test results (with seed repeats, each seed's too).
"""

from __future__ import annotations

import statistics
from typing import Any

from sweepnn.outcomes import JUDGED
from sweepnn.outcomes import TRAINED as TRAINED  # the outcomes of a trial that trained to its end

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
CHANCE = "chance"  # the validation score of a trivial predictor, what "stalled" and "far below" read
SPEED = "speed"  # how fast it trained: its objective curve's auc, epochs and seconds to the target
CHANGED = "changed"  # what sweepnn changed in a user's own network: swapped modules, initialized layers
# ... and what the workers' liveness check keeps on a running trial
WORKER = "sweepnn:worker"  # "host:pid" of the process training the trial
BEAT = "sweepnn:heartbeat"  # when that process last said it was alive (Unix time)
# where its training was at that beat, for `sweepnn status`: {"epoch", "epochs", "metric", "value"}
PROGRESS = "sweepnn:progress"
ATTEMPT = "sweepnn:attempt"  # 0 for a first try, n for the n-th retry after a crash
RETRIED = "sweepnn:retried"  # on a crashed trial: the number of the trial that retries it


# ---- a study's user attributes ---------------------------------------------------------------------
STUDY_RECIPE = "sweepnn:recipe"  # the recipe it was run with (JSON): a study sweepnn created has one
# + a top-level key of the recipe (data, model, train, search): that section as one line of YAML, so
# optuna-dashboard, which lists a study's attributes as rows, shows the recipe readably
STUDY_RECIPE_SECTION = "recipe."
STUDY_FINGERPRINT = "sweepnn:fingerprint"
# a copy's source and whether the copy is whole: set first and completed last (sweepnn copy, rename)
STUDY_COPY_OF = "sweepnn:copy-of"
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
    if result.chance is not None:
        attrs[CHANCE] = result.chance
    if result.repeats is not None:
        attrs[REPEATS] = result.repeats
        attrs[METRICS_STD] = result.metrics_std
    changed = getattr(result.model, "sweepnn_changes", None)  # set by the builder of an own model
    if changed:
        attrs[CHANGED] = list(changed)
    return attrs


def outcome_of(t: Any, judged: dict[int, tuple[str, str]] | None = None) -> str | None:
    """A finished trial's diagnosis, None for one that has none (running, or not sweepnn's); with the
    study's `judged` (see judged()), the outcome it takes against the rest of the study."""
    if judged and t.number in judged:
        return judged[t.number][0]
    return t.user_attrs.get(OUTCOME)


def reason_of(t: Any, judged: dict[int, tuple[str, str]] | None = None) -> str:
    """The diagnosis in words, as outcome_of gives the diagnosis."""
    if judged and t.number in judged:
        return judged[t.number][1]
    return t.user_attrs.get(REASON, "")


# ---- a trial against its study: what the same network reached --------------------------------------


def _val_score(metrics: dict) -> tuple[str, float | None]:
    score = "accuracy" if "val_accuracy" in metrics else "r2"
    value = metrics.get(f"val_{score}")
    finite = isinstance(value, int | float) and value == value and abs(value) != float("inf")
    return score, value if finite else None


def reached(trials) -> dict[str, float]:
    """The best validation score each network (sweepnn.outcomes.network_of) reached among the trials
    that completed."""
    from sweepnn.outcomes import network_of

    best: dict[str, float] = {}
    for t in trials:
        _, value = _val_score(t.user_attrs.get(METRICS) or {})
        if t.state.name == "COMPLETE" and value is not None:
            net = network_of(t.params)
            best[net] = max(best.get(net, value), value)
    return best


def against_study(
    outcome: str, history: list, metrics: dict, chance: float | None, params: dict, best: dict[str, float]
) -> tuple[str, str] | None:
    """The (outcome, reason) an `ok` or `slow` run takes when it is far below what its network reached
    (`best`, from reached()) and shows a cause for it; None when its outcome stands."""
    from sweepnn.outcomes import below_reach, network_of

    score, _ = _val_score(metrics)
    if chance is None:
        return None
    return below_reach(outcome, history, metrics, chance, score, best.get(network_of(params)))


def judged(trials) -> dict[int, tuple[str, str]]:
    """Trial number -> (outcome, reason) for the trials the study as a whole names otherwise than
    their own record: `ok` (and `slow`) runs far below what the same network reached in the study,
    with a cause. Read from the stored trials, so the names do not depend on the order the trials ran in."""
    trials = results_of(trials)
    best = reached(trials)
    out = {}
    for t in trials:
        outcome = t.user_attrs.get(OUTCOME)
        if outcome not in JUDGED:
            continue
        a = t.user_attrs
        found = against_study(
            outcome, a.get(HISTORY) or [], a.get(METRICS) or {}, a.get(CHANCE), t.params, best
        )
        if found is not None:
            out[t.number] = found
    return out


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
    that are results, as the study judges them (see judged())."""
    out: dict[str, int] = {}
    trials = list(trials)
    against = judged(trials)
    for t in results_of(trials):
        outcome = outcome_of(t, against) or state_of(t)
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
