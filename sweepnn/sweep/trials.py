"""Trials from asked to told: sample a configuration, train it (alone, with seed repeats, or in a
stacked group with others of its shape), and record its outcome in the study.

Recording waits out a storage that is briefly unreachable (see sweepnn.sweep.storage.retrying), so a
trained result is not lost to a database restart; an exception inside training fails that trial
alone, and the sweep goes on. A trial that is among the best `search.save_top` when it is recorded
has its weights staged on disk by the process that trained it (sweepnn.training.weights), for the
result files to keep.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from sweepnn import record, speed
from sweepnn.errors import notice
from sweepnn.recipe.budget import encode_choice
from sweepnn.recipe.checks import validates_on_test
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.space import sample
from sweepnn.record import TRAINED, result_attrs
from sweepnn.sweep.storage import retrying
from sweepnn.training.result import TrialResult


def top_numbers(study: optuna.Study, recipe: Recipe, k: int | None = None) -> list[int]:
    """The numbers of the best `k` (default `search.test_top`) completed trials, by the first
    objective; of equal values, the earlier trial first."""
    first = recipe.search.objectives[0]
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    ranked = sorted(complete, key=lambda t: t.values[0], reverse=first.direction == "maximize")
    return [t.number for t in ranked[: recipe.search.test_top if k is None else k]]


class Step:
    """What trials of one sweep share: its recipe, study, device, data, display and summary."""

    def __init__(self, recipe: Recipe, study: optuna.Study, device, data, events, summary, folder=None):
        self.recipe, self.study, self.device, self.data = recipe, study, device, data
        self.events, self.summary = events, summary
        self.objectives = recipe.search.objectives
        # results/<study>/, where trials among the best stage their weights; None: none are kept
        self.folder: Path | None = folder if recipe.search.save_top else None
        self.beats = None  # the running trials' sweepnn.sweep.liveness.Heartbeats: they carry progress
        # The process's one-off start-up is paid here, before any trial's clock, and recorded apart.
        retrying(study.set_user_attr, record.STUDY_STARTUP, warm_up(device))

    def epochs_of(self, cfg: Recipe) -> int:
        """The epochs a trial's configuration trains (its searched epochs, or as many as its steps take
        on its data): the total its progress is shown against."""
        if cfg.train.steps is None:
            return cfg.train.epochs
        from sweepnn.training.data import load_data
        from sweepnn.training.steps import planned_epochs

        data = self.data_for(cfg) or load_data(cfg.data, self.device)  # loaded already: cached
        return planned_epochs(cfg.train, len(data.x_train))

    def reporter(self, trial: optuna.Trial, cfg: Recipe | None = None, seed: int = 0):
        """The trainer's report(epoch, metrics) for one trial (`cfg`: its configuration, default the
        recipe): progress, then Optuna's pruning. With seed repeats, progress counts the epochs of
        every seed (epoch 14 of 30 is the second of three seeds' fourth), and only the first seed
        (`seed` 0) is told to the pruner."""
        total: list[int] = []  # found at the first epoch's end, when training has loaded its data
        repeats = (cfg or self.recipe).search.repeats

        def report(epoch: int, metrics: dict[str, float]) -> bool:
            if not total:
                total.append(self.epochs_of(cfg or self.recipe))
            shown, of = seed * total[0] + epoch, repeats * total[0]
            self.events.epoch_done(trial.number, shown, of, metrics)
            if self.beats is not None:
                first = self.objectives[0].metric
                self.beats.epoch_done(trial.number, shown, of, first, metrics.get(first))
            if seed > 0 or len(self.objectives) > 1:
                return False  # Optuna cannot prune multi-objective studies
            try:
                trial.report(metrics[self.objectives[0].metric], epoch)
            except UpdateFinishedTrialError:
                return True  # taken over by another worker: stop training it (store() drops it)
            return trial.should_prune()

        return report

    def start(self, trial: optuna.Trial) -> Recipe:
        """Sample the trial's configuration and say so."""
        cfg, params = sample(self.recipe, TrialSuggest(trial))
        retrying(trial.set_user_attr, "params", params)
        self.events.trial_started(trial.number, params)
        return cfg

    def data_for(self, cfg: Recipe):
        return self.data if cfg.data == self.recipe.data else None  # a searched data option loads its own

    def run_one(self, trial: optuna.Trial) -> FrozenTrial | None:
        """Sample one trial, train it, and tell the study its value and outcome."""
        from sweepnn.training.repeats import train_repeats
        from sweepnn.training.trainer import train

        t0 = time.perf_counter()
        try:
            cfg = self.start(trial)
            if self.recipe.search.repeats > 1:
                later = lambda r: self.reporter(trial, cfg, seed=r)  # noqa: E731
                result = train_repeats(cfg, self.device, self.reporter(trial, cfg), self.data_for(cfg), later)
            else:
                result = train(cfg, self.device, self.reporter(trial, cfg), data=self.data_for(cfg))
        except Exception as e:  # one bad trial must not end the sweep (CUDA out of memory included)
            return self.failed(trial, e, time.perf_counter() - t0)
        return self.conclude(trial, cfg, result, time.perf_counter() - t0)

    def run_group(self, trials: list[optuna.Trial]) -> list[FrozenTrial | None]:
        """Sample the trials, train those of one shape as stacked groups and the rest alone."""
        from sweepnn.training.stacked.train import group_key, train_group

        t0 = time.perf_counter()
        done: list[FrozenTrial | None] = []
        groups: dict[Any, list[tuple[optuna.Trial, Recipe]]] = {}
        for trial in trials:
            try:
                cfg = self.start(trial)
            except Exception as e:
                done.append(self.failed(trial, e, time.perf_counter() - t0))
                continue
            key = group_key(cfg)
            groups.setdefault(key if key is not None else ("alone", trial.number), []).append((trial, cfg))
        for members in groups.values():
            if len(members) == 1:  # nothing to stack it with: trained as usual
                done.append(self._train_alone(*members[0]))
                continue
            reports = [self.reporter(trial, cfg) for trial, cfg in members]
            try:
                results = train_group(
                    [cfg for _, cfg in members],
                    self.device,
                    lambda m, epoch, metrics, reports=reports: reports[m](epoch, metrics),
                    data=self.data_for(members[0][1]),
                )
            except Exception as e:
                done += [self.failed(trial, e, time.perf_counter() - t0) for trial, _ in members]
                continue
            for (trial, cfg), result in zip(members, results, strict=True):
                seconds = time.perf_counter() - t0
                done.append(self.conclude(trial, cfg, result, seconds, {"group_size": len(members)}))
        return done

    def _train_alone(self, trial: optuna.Trial, cfg: Recipe) -> FrozenTrial | None:
        from sweepnn.training.trainer import train

        t0 = time.perf_counter()
        try:
            result = train(cfg, self.device, self.reporter(trial, cfg), data=self.data_for(cfg))
        except Exception as e:
            return self.failed(trial, e, time.perf_counter() - t0)
        return self.conclude(trial, cfg, result, time.perf_counter() - t0)

    def failed(self, trial: optuna.Trial, e: Exception, seconds: float) -> FrozenTrial | None:
        release_memory(self.device)
        why = f"{type(e).__name__}: {e}"
        self.summary.failures.append(f"trial {trial.number}: {why}")
        attrs = {record.OUTCOME: "failed", record.REASON: why, record.SECONDS: seconds}
        return store(self.study, trial, attrs, state=TrialState.FAIL)

    def conclude(
        self,
        trial: optuna.Trial,
        cfg: Recipe,
        result: TrialResult,
        seconds: float,
        extra: dict[str, Any] | None = None,
    ) -> FrozenTrial | None:
        """Tell the study a trained trial's value (or that it was pruned or diverged)."""
        values = [result.metrics.get(o.metric) for o in self.objectives]
        finite = all(isinstance(v, float | int) and math.isfinite(v) for v in values)
        if result.outcome in TRAINED and not finite:
            result.outcome = "diverged"  # a non-finite objective is no score: never a best trial
            shown = zip(self.objectives, values, strict=True)
            result.reason = "objective " + ", ".join(f"{o.metric} = {v}" for o, v in shown)
        attrs = {**result_attrs(result), record.SECONDS: seconds, **(extra or {})}
        attrs[record.SPEED] = self.speed_of(result)
        if result.outcome in TRAINED:  # stalled or overfitting trials still have a score
            frozen = store(self.study, trial, attrs, values=values)
            if frozen is not None:
                search = self.recipe.search
                tested = 0 if validates_on_test(self.recipe) else search.test_top  # nothing held out
                ranked = retrying(top_numbers, self.study, self.recipe, max(tested, search.save_top))
                self.summary.leaders.offer(frozen.number, result.model, ranked[:tested])
                if self.folder is not None and frozen.number in ranked[: search.save_top]:
                    self.stage(frozen, cfg, result)
            return frozen
        if result.outcome == "pruned":
            return store(self.study, trial, attrs, state=TrialState.PRUNED)
        return store(self.study, trial, attrs, state=TrialState.FAIL)  # diverged: kept with its reason

    def speed_of(self, result: TrialResult) -> dict[str, Any]:
        """The trial's speed as it ends (sweepnn.speed): the area under its first objective's curve
        and, when the recipe names a target, the epochs and seconds it took to reach it."""
        search = self.recipe.search
        targets = speed.given_targets(search.target, search.maximized()) if search.target else []
        return speed.figures(result.history, targets, self.objectives[0].metric)

    def stage(self, frozen: FrozenTrial, cfg: Recipe, result: TrialResult) -> None:
        """Write a recorded trial's weights into the staging folder; with seed repeats, the first seed's
        network stands for the configuration (its curve is the trial's history, the one the pruner
        saw). A failure to write is said and the sweep goes on: the trial itself is recorded."""
        from sweepnn.training.data import load_data
        from sweepnn.training.weights import stage, training_info

        if result.model is None:
            return
        model = result.model[0] if cfg.search.repeats > 1 else result.model
        try:
            data = self.data_for(cfg) or load_data(cfg.data, self.device)  # a searched dataset: cached
            stage(self.folder, frozen.number, model, training_info(frozen.values, data, cfg.train.seed))
        except Exception as e:
            notice(f"trial {frozen.number}: its weights could not be saved ({type(e).__name__}: {e})")


def warm_up(device) -> float:
    """Pay torch's one-off start-up (the first optimizer imports torch._dynamo, the first backward
    loads its kernels) on a throwaway network, so that no trial's time holds it; its seconds."""
    import torch

    t0 = time.perf_counter()
    net = torch.nn.Linear(2, 2).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net(torch.zeros(1, 2, device=device)).sum().backward()
    opt.step()
    return time.perf_counter() - t0


def store(study: optuna.Study, trial: optuna.Trial, attrs: dict[str, Any], **tell) -> FrozenTrial | None:
    """A trial's result into the storage, waiting out a database that is restarting; None when the
    trial was meanwhile recorded as crashed by another worker (whose retry of it stands)."""
    try:
        for k, v in attrs.items():
            retrying(trial.set_user_attr, k, v)
        frozen = retrying(study.tell, trial, skip_if_finished=True, **tell)
    except UpdateFinishedTrialError:
        return dropped(trial)
    # finished by the other worker between the attributes and the tell: skip_if_finished gave back its trial
    return dropped(trial) if record.RETRIED in frozen.user_attrs else frozen


def dropped(trial: optuna.Trial) -> None:
    """Say that another worker retried this trial meanwhile, so this worker's result is dropped."""
    notice(
        f"trial {trial.number}: another worker recorded it as crashed while this one was silent (stopped"
        " or cut off past the grace period) and retried it; this worker drops its result and goes on"
    )


def release_memory(device) -> None:
    """Give back what a finished trial held: Python's garbage, and CUDA's cached blocks."""
    import gc

    gc.collect()
    if getattr(device, "type", "") == "cuda":
        import torch

        torch.cuda.empty_cache()


class TrialSuggest:
    """sweepnn.recipe.space.Suggest over an Optuna trial; parameter names are the dotted config paths."""

    def __init__(self, trial: optuna.Trial):
        self.trial = trial

    def float(self, path, low, high, *, log, step):
        value = self.trial.suggest_float(path, low, high, log=log, step=step)
        # on a step's grid, the value the recipe means: Optuna computes low + k * step, which is
        # 0.30000000000000004 for 0.1 + 2 * 0.1 (sweepnn.results.values.as_set reads stored ones alike)
        return float(f"{value:.12g}") if step is not None else value

    def int(self, path, low, high, *, log, step):
        return self.trial.suggest_int(path, low, high, log=log, step=step)

    def categorical(self, path, choices):
        encoded = [encode_choice(c) for c in choices]
        picked = self.trial.suggest_categorical(path, encoded)
        return choices[encoded.index(picked)]
