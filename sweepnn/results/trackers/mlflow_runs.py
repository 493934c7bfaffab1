"""MLflow: an experiment per study (named as the study) and a run per trial (`trial-<N>`): the trial's
searched values and whole configuration as params, every epoch's metrics (step = epoch), its state,
outcome and reason as tags, and the study's recipe as the artifact recipe.yaml.

The store is MLFLOW_TRACKING_URI when it is set (a server, a database), else a local SQLite file,
results/mlflow.db, one for every study of the results folder (each its experiment, so the MLflow UI
compares them, and a store's one-off creation, seconds on a slow disk, is paid once), with each study's
artifacts in results/<study>/mlflow-artifacts/. Not MLflow's plain-folder store (./mlruns): MLflow 3
keeps it in maintenance and refuses to open it unless told to.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

from sweepnn.errors import InputError
from sweepnn.recipe.config import Recipe
from sweepnn.results.trackers.trial import TrialRun

TRIAL, STARTED = "sweepnn.trial", "sweepnn.started"  # the tags that say which attempt a run holds

# MLflow's limits (its store refuses more): names of these characters and length, values of params
# and tags, entities per log_batch call
_NAME = re.compile(r"[\w./\- :]{1,250}")
_PARAM_CHARS, _TAG_CHARS = 6000, 8000
_METRICS_PER_BATCH, _PARAMS_PER_BATCH = 1000, 100

_STATUS = {"complete": "FINISHED", "failed": "FAILED", "crashed": "FAILED"}  # else KILLED (cut short)


class MlflowRuns:
    """The MLflow runs of one study; `mlflow ui --backend-store-uri <where>` shows them."""

    label = "MLflow"

    def __init__(self, recipe: Recipe, results_dir: Path):
        # a sweep's records are not usage data: MLflow's telemetry stays off unless the user sets it
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        for name in ("mlflow", "alembic"):  # the store's table creation logs at INFO on every new file
            logging.getLogger(name).setLevel(logging.WARNING)
        from mlflow.tracking import MlflowClient

        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            results_dir.mkdir(parents=True, exist_ok=True)
            uri = f"sqlite:///{(results_dir / 'mlflow.db').resolve()}"
        artifacts = None  # a tracking server keeps its own artifact store
        if _local(uri):  # else MLflow would put them in ./mlruns, wherever the command was started
            artifacts = (results_dir / recipe.name / "mlflow-artifacts").resolve().as_uri()
        self.where = _masked(uri, uri)
        self.reader = f"mlflow ui --backend-store-uri {self.where}"  # the skinny package has no UI: `mlflow`
        try:
            self.client = MlflowClient(tracking_uri=uri)
            found = self.client.get_experiment_by_name(recipe.name)
            if found is None:
                self.experiment = self.client.create_experiment(recipe.name, artifact_location=artifacts)
            else:
                self.experiment = found.experiment_id
                if found.lifecycle_stage == "deleted":  # deleted in the UI: a new sweep brings it back
                    self.client.restore_experiment(self.experiment)
        except Exception as e:  # MLflow's and its database driver's errors: the location is bad input
            why = _masked(f"{type(e).__name__}: {e}", uri)  # a driver's error may quote the URI
            raise InputError(f"cannot open the MLflow store {self.where}: {why}") from None

    def _runs(self, where: str = ""):
        token = None
        while True:
            page = self.client.search_runs([self.experiment], where, max_results=1000, page_token=token)
            yield from page
            token = page.token
            if not token:
                return

    def logged(self) -> dict[int, str]:
        out = {}
        for r in self._runs():
            tags = r.data.tags
            if r.info.status != "RUNNING" and tags.get(TRIAL, "").isdigit():
                out[int(tags[TRIAL])] = tags.get(STARTED, "")
        return out

    def log(self, run: TrialRun) -> None:
        for old in self._runs(f"tags.`{TRIAL}` = '{run.number}'"):
            if old.data.tags.get(STARTED) == run.key and old.info.status != "RUNNING":
                return  # written to its end already
            self.client.delete_run(old.info.run_id)  # an older study's trial N, or a write cut short
        from mlflow.entities import Metric, Param, RunTag

        start = _ms(run.started)
        made = self.client.create_run(
            self.experiment,
            start_time=start,
            run_name=f"trial-{run.number}",
            tags={TRIAL: str(run.number), STARTED: run.key},
        )
        run_id = made.info.run_id
        values = {**run.settings, **{k: _text(v) for k, v in run.params.items()}}  # searched ones win
        params = [Param(k, v[:_PARAM_CHARS]) for k, v in values.items() if _NAME.fullmatch(k)]
        tags = {"state": run.state, "outcome": run.outcome, "reason": run.reason, "study": run.study}
        tags = [RunTag(k, v[:_TAG_CHARS]) for k, v in tags.items() if _NAME.fullmatch(k)]
        metrics = [
            Metric(name, value, _epoch_ms(start, m), epoch)
            for epoch, m in run.history
            for name, value in m.items()
            if _NAME.fullmatch(name)
        ]
        end = _ms(run.finished) or int(time.time() * 1000)
        metrics += [Metric(name, value, end, run.last_epoch) for name, value in run.values.items()]
        for i in range(0, len(params), _PARAMS_PER_BATCH):
            self.client.log_batch(run_id, params=params[i : i + _PARAMS_PER_BATCH])
        for i in range(0, len(tags), _PARAMS_PER_BATCH):
            self.client.log_batch(run_id, tags=tags[i : i + _PARAMS_PER_BATCH])
        for i in range(0, len(metrics), _METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=metrics[i : i + _METRICS_PER_BATCH])
        self.client.log_text(run_id, run.recipe_yaml, "recipe.yaml")
        # last: a run that is not RUNNING is one written to its end (what logged() and log() trust)
        self.client.set_terminated(run_id, _STATUS.get(run.state, "KILLED"), end_time=_ms(run.finished))

    def clear(self) -> None:
        # sweepnn's runs alone: the experiment may be a shared server's, with runs of its users' own
        for r in list(self._runs()):
            if TRIAL in r.data.tags:
                self.client.delete_run(r.info.run_id)


def _local(uri: str) -> bool:
    """A store on this machine (a database file, a folder), not a tracking server."""
    return "://" not in uri or uri.split("://")[0].lower() in ("sqlite", "file")


def _text(value) -> str:
    return value if isinstance(value, str) else str(value)


def _ms(when) -> int | None:
    return int(when.timestamp() * 1000) if when is not None else None


def _epoch_ms(start: int | None, metrics: dict[str, float]) -> int:
    """An epoch's time: the trial's start plus its training seconds so far, when recorded."""
    if start is None:
        return int(time.time() * 1000)
    return start + int(metrics.get("train_time", 0.0) * 1000)


def _masked(text: str, uri: str) -> str:
    """`text` with the password of `uri` hidden, to be quoted in messages."""
    from sweepnn.sweep.storage import redact

    return redact(text, uri)
