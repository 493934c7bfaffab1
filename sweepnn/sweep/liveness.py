"""Noticing dead workers: heartbeats on running trials, and recovery of the trials they leave behind.

A worker killed mid-trial (SIGKILL, a lost machine, the OOM killer) cannot say so: its trial stays
RUNNING in the storage forever. So while a trial trains, a thread stamps it with the time every
`SWEEPNN_HEARTBEAT_S` seconds (default 10), beside the worker's host and process id. Any worker,
before it asks for a trial, looks at the running ones: a trial whose process is gone (same host:
the pid is not alive) or whose stamp is older than `SWEEPNN_GRACE_S` (default three beats) is marked
failed ("crashed"), and enqueued again with the same parameters, up to `MAX_RETRIES` times.

This works the same on every storage (Optuna's own heartbeat exists for databases only, not for the
journal file that is the default).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from sweepnn import record
from sweepnn.errors import InputError

MAX_RETRIES = 2


# The bounds of the two settings: a beat more often than this is a busy loop of storage writes, and
# one rarer than an hour (or a grace within one beat) would call a live worker dead or a dead one live.
BEAT_RANGE_S = (0.1, 3600.0)


def _seconds(name: str, default: float, low: float, high: float) -> float:
    import math

    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a number of seconds") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise InputError(f"{name}={raw!r} is out of range: give seconds from {low:g} to {high:g}")
    return value


def heartbeat_seconds() -> float:
    """SWEEPNN_HEARTBEAT_S: how often a running trial is stamped (default 10 s)."""
    return _seconds("SWEEPNN_HEARTBEAT_S", 10.0, *BEAT_RANGE_S)


def grace_seconds() -> float:
    """SWEEPNN_GRACE_S: the silence after which a worker counts as dead (default three beats); more
    than two beats, so one late beat is never taken for a death."""
    beat = heartbeat_seconds()
    return _seconds("SWEEPNN_GRACE_S", 3 * beat, 2 * beat, 24 * 3600.0)


def worker_id() -> str:
    """This process as 'host:pid', the stamp a running trial carries so another worker can tell whether its
    process is alive."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeats:
    """Stamps running trials with the time, from one thread, until the context ends; with the time,
    where each trial's training is (its latest epoch and value, as `sweepnn status` shows it). That
    rides on the beat rather than being written every epoch: one write a beat, however short epochs are."""

    def __init__(self, trials: list[optuna.Trial]):
        self.trials = trials
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="sweepnn-heartbeat", daemon=True)
        self._where: dict[int, dict[str, Any]] = {}  # trial number -> its latest progress, not yet written

    def epoch_done(self, number: int, epoch: int, epochs: int, metric: str, value: float | None) -> None:
        """Note a trial's latest epoch, for its next beat to write."""
        self._where[number] = {"epoch": epoch, "epochs": epochs, "metric": metric, "value": value}

    def __enter__(self) -> Heartbeats:
        # the trial's start time serves as its first beat (one write less per trial)
        for trial in self.trials:
            trial.set_user_attr(record.WORKER, worker_id())
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(heartbeat_seconds()):
            for trial in self.trials:
                try:
                    trial.set_user_attr(record.BEAT, time.time())
                    where = self._where.pop(trial.number, None)
                    if where is not None:
                        trial.set_user_attr(record.PROGRESS, where)
                except Exception:  # told meanwhile, or a storage down for a moment: next beat
                    continue


def progress_of(trial: FrozenTrial) -> dict[str, Any] | None:
    """Where a running trial's training is: what its last beat wrote, or (before its first beat, for a
    single objective) the last value it reported to Optuna; None when it has reported nothing yet."""
    where = trial.user_attrs.get(record.PROGRESS)
    reported = trial.intermediate_values
    if reported and (where is None or max(reported) > where["epoch"]):
        epoch = max(reported)
        return {
            "epoch": epoch,
            "epochs": (where or {}).get("epochs"),
            "metric": None,
            "value": reported[epoch],
        }
    return where


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    try:  # a killed process its parent has not reaped yet is a zombie: dead all the same
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def is_stale(trial: FrozenTrial, now: float) -> bool:
    """Has the worker of this RUNNING trial stopped? Its process is gone, or its stamp is too old."""
    worker = trial.user_attrs.get(record.WORKER)
    beat = trial.user_attrs.get(record.BEAT)
    if beat is None and trial.datetime_start is not None:
        beat = trial.datetime_start.timestamp()  # died before its first stamp
    if worker:
        host, _, pid = worker.rpartition(":")
        if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
            return True  # on this machine a dead process is certain at once
    return beat is not None and now - beat > grace_seconds()


def recover_stale(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> list[int]:
    """Mark the trials of dead workers failed and retry them with the same parameters; their numbers.

    `trials`: the study's trials as just read, when the caller has them (saves a read).
    """
    now = time.time()
    storage = study._storage  # Optuna's public API cannot finish another process's trial
    recovered = []
    if trials is None:
        trials = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in trials:
        if t.state != TrialState.RUNNING or not is_stale(t, now):
            continue
        attempt = t.user_attrs.get(record.ATTEMPT, 0)
        retry = attempt < MAX_RETRIES
        worker = t.user_attrs.get(record.WORKER, "an unknown worker")
        try:
            storage.set_trial_user_attr(t._trial_id, record.OUTCOME, "crashed")
            storage.set_trial_user_attr(
                t._trial_id,
                "reason",
                f"worker {worker} stopped during the trial"
                + (f"; retried (attempt {attempt + 1} of {MAX_RETRIES})" if retry else "; no retries left"),
            )
            storage.set_trial_user_attr(t._trial_id, record.RETRIED, retry)
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        except UpdateFinishedTrialError:
            continue  # another worker recovered it first
        if retry:
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number, record.ATTEMPT: attempt + 1})
        recovered.append(t.number)
    return recovered


def stuck(study: optuna.Study) -> list[tuple[FrozenTrial, float, bool]]:
    """Every RUNNING trial with the seconds since its last heartbeat and whether it counts as stale."""
    now = time.time()
    out = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        beat = t.user_attrs.get(record.BEAT) or (t.datetime_start.timestamp() if t.datetime_start else now)
        out.append((t, now - beat, is_stale(t, now)))
    return out
