"""Workers that fail, are killed or stopped, and runs that must stop when told: met for real, with
real signals to real `sweepnn run --workers 2` processes on the default journal."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweepnn.sweep.journal import LOCK_SUFFIX

RECIPE = """\
description: worker faults
data: {name: blobs, n_samples: 2000, classes: 3}
model: {name: mlp, depth: 1, width: 16}
train: {epochs: 40, batch_size: 16}
search:
  sampler: random
  pruner: none
  n_trials: 6
  space:
    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}
"""


# Six trials of about a second: the worker starts two or three seconds after the command's own
# process, which would take all of four trials before it on a quick machine, and then no worker's
# trial is ever there to kill or stop.
N_TRIALS = 6


def start(folder: Path, *args: str, env: dict | None = None, recipe: str = RECIPE) -> subprocess.Popen:
    (folder / "w.yaml").write_text(recipe)
    return subprocess.Popen(
        [sys.executable, "-m", "sweepnn", "run", "w.yaml", "--device", "cpu", *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1", **(env or {})},
    )


def trials(folder: Path) -> list[optuna.trial.FrozenTrial]:
    from sweepnn.sweep.storage import open_storage

    journal = folder / "results" / "studies.journal"
    if not journal.exists():
        return []
    try:
        return optuna.load_study(study_name="w", storage=open_storage(str(journal), folder)).trials
    except KeyError:  # the study is not created yet
        return []


def pid_of(t: optuna.trial.FrozenTrial) -> int:
    return int(t.user_attrs.get("sweepnn:worker", ":0").rpartition(":")[2])


def wait_for(what: Callable[[], object], seconds: float, why: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.3)
    pytest.fail(f"waited {seconds:.0f}s for {why}")


def a_worker_trial(folder: Path, main: int) -> optuna.trial.FrozenTrial | None:
    """A trial that a worker other than the command's own process is training."""
    return next(
        (t for t in trials(folder) if t.state == TrialState.RUNNING and pid_of(t) not in (0, main)),
        None,
    )


def stopped_outside_the_lock(folder: Path, pid: int) -> None:
    """SIGSTOP a process while this test holds the journal's lock, so it is never stopped holding it
    (it would then block every reader, this test's too)."""
    fd = os.open(folder / "results" / f"studies.journal{LOCK_SUFFIX}", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.kill(pid, signal.SIGSTOP)
    finally:
        os.close(fd)


def still_running(folder: Path, number: int) -> bool:
    return trials(folder)[number].state == TrialState.RUNNING


def test_a_device_no_worker_can_use_is_bad_input_before_anything_starts(tmp_path):
    proc = start(tmp_path, "--workers", "2", "--devices", "cpu,cuda:7")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "cuda:7" in err and "Traceback" not in err
    assert not (tmp_path / "results").exists()


def test_a_killed_worker_fails_the_command_and_its_trial_is_retried(tmp_path):
    proc = start(tmp_path, "--workers", "2")
    victim = wait_for(lambda: a_worker_trial(tmp_path, proc.pid), 120, "a worker's trial")
    stopped_outside_the_lock(tmp_path, pid_of(victim))  # so its trial cannot finish before the kill
    assert still_running(tmp_path, victim.number)
    os.kill(pid_of(victim), signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert "worker 1 was killed by SIGKILL" in err and "worker(s) of this run failed" in err
    assert "Top trials of w" in out  # the trials that were trained are reported all the same
    done = trials(tmp_path)
    crashed = done[victim.number]
    assert (crashed.state, crashed.user_attrs["outcome"]) == (TrialState.FAIL, "crashed")
    retry = next(t for t in done if t.user_attrs.get("retry_of") == victim.number)
    assert retry.state == TrialState.COMPLETE and retry.params == victim.params
    assert not [t for t in done if t.state == TrialState.RUNNING]


@pytest.mark.parametrize("delay", [0.7])
def test_after_a_worker_is_killed_the_command_still_stops_on_sigterm(tmp_path, delay):
    """SIGKILL lands at different moments of the worker's writes (a heartbeat every 0.2 s); the
    command then gets SIGTERM and must end, with the trials it ran recorded."""
    proc = start(tmp_path, "--workers", "2", env={"SWEEPNN_HEARTBEAT_S": "0.2"})
    victim = wait_for(lambda: a_worker_trial(tmp_path, proc.pid), 120, "a worker's trial")
    time.sleep(delay)
    os.kill(pid_of(victim), signal.SIGKILL)
    wait_for(
        lambda: any(t.state == TrialState.RUNNING and pid_of(t) == proc.pid for t in trials(tmp_path)),
        120,
        "a trial of the command's own process",
    )
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)  # before: 15 and 33 minutes, deaf to SIGTERM
    assert proc.returncode == 143, err
    assert "interrupted by SIGTERM" in err
    assert any(t.user_attrs.get("outcome") == "interrupted" for t in trials(tmp_path))


def test_a_stopped_worker_resumed_after_its_grace_drops_its_trial_and_goes_on(tmp_path):
    env = {"SWEEPNN_HEARTBEAT_S": "0.5", "SWEEPNN_GRACE_S": "2"}
    proc = start(tmp_path, "--workers", "2", env=env)
    victim = wait_for(lambda: a_worker_trial(tmp_path, proc.pid), 120, "a worker's trial")
    worker = pid_of(victim)
    stopped_outside_the_lock(tmp_path, worker)
    try:  # the command's own process finds the silent trial, records it crashed and retries it
        wait_for(lambda: trials(tmp_path)[victim.number].state == TrialState.FAIL, 120, "the recovery")
    finally:
        os.kill(worker, signal.SIGCONT)
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    log = (tmp_path / "results" / "w" / "workers" / "worker-1.log").read_text()
    assert f"trial {victim.number}: another worker recorded it as crashed" in log
    assert "Traceback" not in log + err
    done = trials(tmp_path)
    assert done[victim.number].user_attrs["outcome"] == "crashed"
    retry = next(t for t in done if t.user_attrs.get("retry_of") == victim.number)
    assert retry.state == TrialState.COMPLETE
    counted = [t for t in done if t.state == TrialState.COMPLETE]
    assert len(counted) == N_TRIALS and not [t for t in done if t.state == TrialState.RUNNING]


def test_fresh_is_refused_while_another_run_trains_the_study(tmp_path):
    proc = start(
        tmp_path, recipe=RECIPE.replace("epochs: 40", "epochs: 120").replace("n_trials: 6", "n_trials: 2")
    )
    wait_for(lambda: any(t.state == TrialState.RUNNING for t in trials(tmp_path)), 120, "a running trial")
    fresh = subprocess.run(
        [sys.executable, "-m", "sweepnn", "run", "w.yaml", "--device", "cpu", "--fresh"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fresh.returncode == 2, fresh.stderr
    assert "is being run right now" in fresh.stderr and f":{proc.pid}" in fresh.stderr
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err  # the other run was not disturbed
    assert len([t for t in trials(tmp_path) if t.state == TrialState.COMPLETE]) == 2


def _hold_the_lock_once_training(folder: Path, proc: subprocess.Popen) -> int:
    """Wait for a trial, then take the journal's lock (a live holder: the run must wait for it)."""
    wait_for(lambda: any(t.state == TrialState.RUNNING for t in trials(folder)), 120, "a running trial")
    fd = os.open(folder / "results" / f"studies.journal{LOCK_SUFFIX}", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_run_stuck_after_sigterm_exits_within_its_grace(tmp_path):
    proc = start(tmp_path, env={"SWEEPNN_HEARTBEAT_S": "0.2"})
    fd = _hold_the_lock_once_training(tmp_path, proc)
    try:
        proc.send_signal(signal.SIGTERM)  # recording the interrupted trial now waits for the lock
        _, err = proc.communicate(timeout=90)
    finally:
        os.close(fd)
    assert proc.returncode == 143, err
    assert "not stopped 20s after SIGTERM: exiting now" in err
    # what it could not record, the next run finds: the trial's process is gone
    assert any(t.state == TrialState.RUNNING for t in trials(tmp_path))


def test_a_second_signal_exits_at_once(tmp_path):
    proc = start(tmp_path, env={"SWEEPNN_HEARTBEAT_S": "0.2"})
    fd = _hold_the_lock_once_training(tmp_path, proc)
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)  # well inside the 20 s the first signal allows
    finally:
        os.close(fd)
    assert proc.returncode == 130, err
    assert "SIGINT again: exiting now" in err


def test_a_study_deleted_under_a_run_stops_it_cleanly(tmp_path):
    """--fresh refuses while trials train; between two trials it can still win the race. The run
    that loses its study then stops with a message, not a traceback."""
    from sweepnn.sweep.storage import open_storage

    proc = start(tmp_path)
    wait_for(lambda: any(t.state == TrialState.RUNNING for t in trials(tmp_path)), 120, "a running trial")
    optuna.delete_study(study_name="w", storage=open_storage(None, tmp_path / "results"))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "study 'w' was deleted while this run was running it" in err and "Traceback" not in err
