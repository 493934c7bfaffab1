"""Optuna at the edge: storage, sampler, pruner, and the ask-and-tell loop that runs a sweep.

This is the only module that imports Optuna. A study is named by its recipe and remembers the
recipe's fingerprint, so running the same command again resumes it (finished trials count against
the budget) and running a changed recipe under the same name is refused rather than mixed in.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweepnn.config import Recipe
from sweepnn.errors import InputError, SweepnnError
from sweepnn.options.search import PRUNERS, SAMPLERS
from sweepnn.space import Param, apply, grid, plan, sample
from sweepnn.variants import pruner_of

DEFAULT_STORAGE = "studies.journal"
ATTR_FINGERPRINT = "sweepnn:fingerprint"
ATTR_RECIPE = "sweepnn:recipe"
# Parts of a recipe that may change between runs of one study: extending the budget is resuming.
_UNFINGERPRINTED = {
    "name": True,
    "description": True,
    "search": {"n_trials": True, "timeout": True, "test_top": True},
}
ATTR_TEST = "sweepnn:test:"  # + trial number: that trial's scores on the test split

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


class Interrupted(SweepnnError):
    """Ctrl-C or SIGTERM during a sweep; the running trial was recorded as interrupted."""

    def __init__(self, signal_name: str = "SIGINT"):
        self.signal_name = signal_name
        self.exit_code = 143 if signal_name == "SIGTERM" else 130
        super().__init__(
            f"interrupted by {signal_name}; the running trial was recorded as interrupted."
            " Run the same command again to resume."
        )


# ---- storage and study ---------------------------------------------------------------------------


def open_storage(url: str | None, results_dir: Path):
    """The embedded journal file under results/ by default; any Optuna storage URL or journal path."""
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend, JournalRedisBackend

    try:
        if url is None or "://" not in url:
            path = Path(url) if url else results_dir / DEFAULT_STORAGE
            path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(path)))
        if url.startswith(("redis://", "rediss://")):
            return JournalStorage(JournalRedisBackend(url))
        if url.split("://")[0].split("+")[0] not in (
            "sqlite",
            "postgresql",
            "mysql",
            "mariadb",
            "oracle",
            "mssql",
        ):
            raise InputError(
                f"unknown storage {url!r}: use a journal file path, redis://..., or a database URL"
                " (sqlite:///file.db, postgresql://..., mysql+pymysql://...)"
            )
        return RDBStorage(url)
    except InputError:
        raise
    except (OSError, ImportError, ValueError) as e:
        raise InputError(f"cannot open storage {url or results_dir / DEFAULT_STORAGE}: {e}") from None
    except Exception as e:  # a database driver's own connection error
        raise SweepnnError(f"cannot connect to storage {url}: {type(e).__name__}: {e}") from None


def fingerprint(recipe: Recipe) -> str:
    data = recipe.model_dump(mode="json", exclude=_UNFINGERPRINTED)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: data}


def recipe_changes(old: dict, new: dict, limit: int = 8) -> list[str]:
    """'path: old -> new' for each leaf that differs (the budget excluded)."""
    a, b = _flatten(old), _flatten(new)
    skip = ("name", "description", "search.n_trials", "search.timeout", "search.test_top")
    keys = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k) and not k.startswith(skip)]
    lines = [f"{k}: {a.get(k, '(absent)')!r} -> {b.get(k, '(absent)')!r}" for k in keys[:limit]]
    return lines + ([f"... and {len(keys) - limit} more"] if len(keys) > limit else [])


def study_exists(storage, name: str) -> bool:
    return any(s.study_name == name for s in storage.get_all_studies())


def open_study(recipe: Recipe, storage, fresh: bool = False) -> tuple[optuna.Study, bool]:
    """Create the recipe's study, or load it to resume. Returns (study, resumed)."""
    name = recipe.name
    if study_exists(storage, name):
        if fresh:
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


# ---- samplers and pruners from their registries ---------------------------------------------------


def _grid_values(p: Param) -> list[Any]:
    s = p.spec
    if s.choices is not None:
        return [_encode(c) for c in s.choices]
    step = s.step or 1
    n = round((s.high - s.low) / step)
    values = [round(s.low + i * step, 12) for i in range(n + 1)]  # 0.1 * 3 is 0.30000000000000004
    return [int(v) for v in values] if p.kind == "int" else [float(v) for v in values]


def grid_points(recipe: Recipe) -> list[dict[str, Any]]:
    return grid(recipe, _grid_values)


def grid_size(recipe: Recipe) -> int:
    return len(grid_points(recipe))


class _ConditionalGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler over the configurations a recipe can really produce, each once.

    Optuna's grid is the product of every parameter's values; with conditional parameters that
    product holds one configuration several times (plain SGD with momentum 0.5 and with 0.9). Here
    the grid is `grid_points`: a parameter that does not apply to a point holds a placeholder that
    is never asked for. Optuna's bookkeeping of visited points (by grid id, safe across workers) is
    kept; only the list of points is replaced.

    Optuna's grid sampler also calls Study.stop() once the grid is exhausted, which only works inside
    Study.optimize; this loop uses ask-and-tell and stops by its own budget, capped at the grid size.
    """

    def __init__(self, points: list[dict[str, Any]], search_space: dict[str, list[Any]], seed: int):
        super().__init__(search_space, seed=seed)
        names = self._param_names
        self._all_grids = [tuple(pt.get(n, search_space[n][0]) for n in names) for pt in points]
        self._n_min_trials = len(self._all_grids)
        self._rng.rng.shuffle(self._all_grids)

    def after_trial(self, study, trial, state, values) -> None:
        pass


# Registry class names that this module provides itself, in place of Optuna's.
_SAMPLER_CLASSES = {"GridSampler": _ConditionalGridSampler}


def make_sampler(recipe: Recipe, resumed_after: int = 0):
    """The recipe's sampler. A resumed study seeds it past the trials it already has: the same seed
    again would replay the random stream and propose the points it already tried."""
    params = recipe.search.sampler
    spec = SAMPLERS[params.name]
    kwargs = {k: v for k, v in params.model_dump().items() if k != "name"}
    seed = recipe.train.seed + 1_000_003 * resumed_after
    if spec.needs_grid:
        kwargs["points"] = grid_points(recipe)
        kwargs["search_space"] = {p.path: _grid_values(p) for p in plan(recipe.search.space)}
        # A grid point is known by its index in the shuffled grid, so a resumed study must shuffle
        # exactly as before: the plain seed, or its visited points would name other configurations.
        seed = recipe.train.seed
    cls = _SAMPLER_CLASSES.get(spec.optuna_class) or getattr(optuna.samplers, spec.optuna_class)
    # Conditional spaces make model-based samplers fall back to independent sampling for some
    # parameters; that is expected here, so Optuna's per-trial warning about it is switched off.
    accepted = inspect.signature(cls).parameters
    quiet = ("warn_independent_sampling", "warn_asynchronous_seeding")
    kwargs.update(
        {k: False for k in quiet if k in accepted and accepted[k].default is True}
    )  # not deprecated
    with warnings.catch_warnings():  # "experimental" (GP, QMC) is Optuna's label, not the user's problem
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return cls(seed=seed, **kwargs)


def make_pruner(recipe: Recipe):
    params = pruner_of(recipe)
    kwargs = {k: v for k, v in params.model_dump().items() if k != "name"}
    if params.name == "hyperband":
        searched = recipe.search.space.get("train.epochs")  # the longest trial decides the top rung
        top = (max(searched.choices) if searched.choices else searched.high) if searched else 0
        kwargs["max_resource"] = max(recipe.train.epochs, int(top))
    return getattr(optuna.pruners, PRUNERS[params.name].optuna_class)(**kwargs)


# Optuna's categorical choices must be None, bool, int, float or str; others travel as JSON text.
def _encode(choice: Any) -> Any:
    return choice if choice is None or isinstance(choice, (bool, int, float, str)) else json.dumps(choice)


class _TrialSuggest:
    """sweepnn.space.Suggest over an Optuna trial; parameter names are the dotted config paths."""

    def __init__(self, trial: optuna.Trial):
        self.trial = trial

    def float(self, path, low, high, *, log, step):
        return self.trial.suggest_float(path, low, high, log=log, step=step)

    def int(self, path, low, high, *, log, step):
        return self.trial.suggest_int(path, low, high, log=log, step=step)

    def categorical(self, path, choices):
        encoded = [_encode(c) for c in choices]
        picked = self.trial.suggest_categorical(path, encoded)
        return choices[encoded.index(picked)]


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
    ran: int = 0  # trials run by this invocation
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


def counted(trial: FrozenTrial) -> bool:
    """Does a trial use up budget? Finished ones do; interrupted ones are run again instead."""
    finished = trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return finished and trial.user_attrs.get("outcome") != "interrupted"


def best_value(study: optuna.Study, direction: str) -> float | None:
    """The best value of the first objective so far (earlier runs included), or None."""
    values = [t.values[0] for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    return (max if direction == "maximize" else min)(values) if values else None


def top_numbers(study: optuna.Study, recipe: Recipe) -> list[int]:
    """The numbers of the best `search.test_top` completed trials, by the first objective."""
    first = recipe.search.objectives[0]
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    ranked = sorted(complete, key=lambda t: t.values[0], reverse=first.direction == "maximize")
    return [t.number for t in ranked[: recipe.search.test_top]]


def score_test(study: optuna.Study, recipe: Recipe, device, leaders) -> None:
    """Score the best trials on the test split, once each (see sweepnn.holdout).

    Kept as study attributes, one per trial: a finished trial's own attributes cannot change.
    """
    from sweepnn.holdout import score_on_test

    for number in top_numbers(study, recipe):
        if ATTR_TEST + str(number) in study.user_attrs:
            continue
        trial = study.trials[number]
        cfg = apply(recipe, trial.user_attrs.get("params", trial.params))
        scores = score_on_test(cfg, device, leaders.weights.get(number))
        if not scores:
            return  # the dataset has no test split
        study.set_user_attr(ATTR_TEST + str(number), scores)


def held_out_scores(study: optuna.Study) -> dict[int, dict[str, float]]:
    """Trial number -> its test scores, for the trials that have them."""
    return {int(k.removeprefix(ATTR_TEST)): v for k, v in study.user_attrs.items() if k.startswith(ATTR_TEST)}


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


def run_sweep(
    recipe: Recipe,
    study: optuna.Study,
    device,
    events: Events,
    *,
    resumed: bool = False,
    on_progress: Callable[[], None] | None = None,
) -> SweepSummary:
    """Run trials until the budget (finished trials of earlier runs included) or the timeout is spent."""
    from sweepnn.data import load_data
    from sweepnn.holdout import Leaders
    from sweepnn.repeats import train_repeats
    from sweepnn.trainer import TRAINED, result_attrs, train

    summary = SweepSummary(study, resumed)
    leaders = Leaders(recipe.search.test_top)
    objectives = recipe.search.objectives
    budget = recipe.search.budget
    if SAMPLERS[recipe.search.sampler.name].needs_grid:
        budget = grid_size(recipe) if budget is None else min(budget, grid_size(recipe))
    requeue_interrupted(study)
    data = load_data(recipe.data, device)  # once, before the clock: a data error stops before any trial
    done = sum(counted(t) for t in study.get_trials(deepcopy=False))
    events.sweep_started(recipe.name, done, budget, resumed, best_value(study, objectives[0].direction))
    start = time.perf_counter()
    deadline = start + recipe.search.timeout if recipe.search.timeout else None
    trial = None
    try:
        while (budget is None or done < budget) and (deadline is None or time.perf_counter() < deadline):
            trial = study.ask()
            t0 = time.perf_counter()

            def report(epoch: int, metrics: dict[str, float], trial=trial) -> bool:
                events.epoch_done(trial.number, epoch, recipe.train.epochs, metrics)
                if len(objectives) > 1:
                    return False  # Optuna cannot prune multi-objective studies
                trial.report(metrics[objectives[0].metric], epoch)
                return trial.should_prune()

            try:
                cfg, params = sample(recipe, _TrialSuggest(trial))
                trial.set_user_attr("params", params)
                events.trial_started(trial.number, params)
                same_data = data if cfg.data == recipe.data else None
                if recipe.search.repeats > 1:
                    result = train_repeats(cfg, device, report, same_data)
                else:
                    result = train(cfg, device, report, data=same_data)
            except Exception as e:  # one bad trial must not end the sweep
                _release_memory(device)
                trial.set_user_attr("outcome", "failed")
                trial.set_user_attr("reason", f"{type(e).__name__}: {e}")
                trial.set_user_attr("seconds", time.perf_counter() - t0)
                frozen = study.tell(trial, state=TrialState.FAIL)
                summary.failures.append(f"trial {trial.number}: {type(e).__name__}: {e}")
            else:
                for k, v in result_attrs(result).items():
                    trial.set_user_attr(k, v)
                trial.set_user_attr("seconds", time.perf_counter() - t0)
                if result.outcome in TRAINED:  # stalled or overfitting trials still have a score
                    frozen = study.tell(trial, [result.metrics[o.metric] for o in objectives])
                    leaders.offer(frozen.number, result.model, top_numbers(study, recipe))
                elif result.outcome == "pruned":
                    frozen = study.tell(trial, state=TrialState.PRUNED)
                else:  # diverged: recorded with its parameters and reason, never "best"
                    frozen = study.tell(trial, state=TrialState.FAIL)
            trial = None
            done += 1
            summary.ran += 1
            events.trial_done(frozen, done, budget)
            if on_progress:
                on_progress()
        score_test(study, recipe, device, leaders)
    except KeyboardInterrupt as e:
        if trial is not None:
            trial.set_user_attr("outcome", "interrupted")
            trial.set_user_attr("reason", f"interrupted by {getattr(e, 'signal_name', 'SIGINT')}")
            study.tell(trial, state=TrialState.FAIL)
        raise Interrupted(getattr(e, "signal_name", "SIGINT")) from None
    finally:
        summary.seconds = time.perf_counter() - start
    return summary


def _release_memory(device) -> None:
    import gc

    gc.collect()
    if getattr(device, "type", "") == "cuda":
        import torch

        torch.cuda.empty_cache()
