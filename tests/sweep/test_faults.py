"""Faults a sweep survives with nothing lost: killed workers, several local workers on the default
storage, a full or read-only results folder, a trial that raises or scores NaN."""

from __future__ import annotations

import csv
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
import torch
from conftest import sweepnn
from optuna.trial import TrialState

from sweepnn import record
from sweepnn.recipe.loading import load_text
from sweepnn.sweep.liveness import recover_stale
from sweepnn.sweep.opening import open_study
from sweepnn.sweep.storage import open_storage
from sweepnn.sweep.study import finished, run_sweep

QUICK = """\
description: quick trials
data: {name: blobs, n_samples: 300, classes: 3}
model: {name: mlp, depth: 1, width: 16}
train: {epochs: 2, batch_size: 64}
search:
  sampler: random
  pruner: none
  n_trials: 12
  space:
    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}
"""

SLOW = (
    QUICK.replace("n_samples: 300", "n_samples: 4000")
    .replace("epochs: 2", "epochs: 30")
    .replace("batch_size: 64", "batch_size: 16")
    .replace("n_trials: 12", "n_trials: 3")
)


def journal_study(folder: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(None, folder / "results"))


def states(study: optuna.Study) -> Counter:
    return Counter((t.state.name, t.user_attrs.get("outcome")) for t in study.get_trials())


class Silent:
    def __getattr__(self, name):
        return lambda *a, **k: None


# ---- workers and killed workers ------------------------------------------------------------------


def test_local_workers_share_the_default_storage_and_train_exactly_the_budget(write_recipe, tmp_path):
    proc = sweepnn("run", write_recipe(QUICK, "quick"), "--workers", "3", "--device", "cpu", cwd=tmp_path)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    study = journal_study(tmp_path, "quick")
    trained = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(trained) == 12 and finished(study) == 12
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    assert len({t.user_attrs["sweepnn:worker"] for t in trained}) >= 1
    with open(tmp_path / "results" / "quick" / "trials.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 12  # no surplus rows
    logs = sorted((tmp_path / "results" / "quick" / "workers").glob("worker-*.log"))
    assert [p.name for p in logs] == ["worker-1.log", "worker-2.log"]


def test_a_killed_run_is_recovered_by_the_next_with_the_same_parameters(write_recipe, tmp_path):
    recipe = write_recipe(SLOW, "slow")
    proc = sweepnn("run", recipe, "--device", "cpu", cwd=tmp_path)
    journal = tmp_path / "results" / "studies.journal"
    deadline = time.monotonic() + 120
    running = None
    while running is None and time.monotonic() < deadline:  # wait until a trial trains
        time.sleep(0.5)
        if journal.exists():
            try:
                study = journal_study(tmp_path, "slow")
            except KeyError:
                continue
            running = next((t for t in study.trials if t.state == TrialState.RUNNING and t.params), None)
    assert running is not None, "no trial started"
    proc.send_signal(signal.SIGKILL)  # no chance to record anything
    proc.communicate(timeout=30)
    assert journal_study(tmp_path, "slow").trials[running.number].state == TrialState.RUNNING
    status = subprocess.run(
        [sys.executable, "-m", "sweepnn", "status", "slow"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert status.returncode == 0, status.stderr
    assert "Study slow: " in status.stdout and "1 running" in status.stdout
    row = next(line for line in status.stdout.splitlines() if re.match(rf"│\s+{running.number} │", line))
    assert "yes: its worker is gone" in row

    done = subprocess.run(
        [sys.executable, "-m", "sweepnn", "run", str(recipe), "--device", "cpu", "--trials", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    study = journal_study(tmp_path, "slow")
    crashed = study.trials[running.number]
    assert (crashed.state, crashed.user_attrs["outcome"]) == (TrialState.FAIL, "crashed")
    assert "stopped during the trial; retried" in crashed.user_attrs["reason"]
    retry = next(t for t in study.trials if t.user_attrs.get("retry_of") == running.number)
    assert retry.state == TrialState.COMPLETE and retry.params == running.params
    assert finished(study) == 2 and not [t for t in study.trials if t.state == TrialState.RUNNING]


def test_a_silent_worker_on_another_machine_is_recovered_after_its_grace(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEPNN_GRACE_S", "30")
    recipe = load_text(QUICK, "q.yaml", "q")
    study, _ = open_study(recipe, open_storage(None, tmp_path))
    fresh, silent = study.ask(), study.ask()
    for trial, beat in ((fresh, time.time()), (silent, time.time() - 120)):
        trial.suggest_float("train.optimizer.lr", 1e-3, 1e-1, log=True)
        trial.set_user_attr(record.WORKER, "another-machine:4242")
        trial.set_user_attr(record.BEAT, beat)
    assert recover_stale(study) == [silent.number]  # the recent heartbeat is left alone
    assert study.trials[fresh.number].state == TrialState.RUNNING
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].user_attrs["retry_of"] == silent.number
    assert recover_stale(study) == []  # once only


def test_retries_stop_after_the_limit(tmp_path):
    recipe = load_text(QUICK, "q.yaml", "q")
    study, _ = open_study(recipe, open_storage(None, tmp_path))
    for attempt in range(3):  # the first try and two retries, each dying at once
        trial = study.ask()
        trial.set_user_attr(record.WORKER, "another-machine:1")
        trial.set_user_attr(record.BEAT, 0.0)
        recover_stale(study)
        assert study.trials[trial.number].user_attrs["sweepnn:retried"] == (attempt < 2)
    assert not study.get_trials(states=(TrialState.WAITING,))


# ---- one bad trial -------------------------------------------------------------------------------


def test_a_trial_that_runs_out_of_memory_fails_alone(tmp_path, monkeypatch):
    """CUDA is not here, so its out-of-memory error is raised by the trainer on the second trial."""
    import sweepnn.training.trainer as trainer

    real, calls = trainer.train, []

    def train(cfg, device, report=None, data=None):
        calls.append(cfg)
        if len(calls) == 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real(cfg, device, report, data)

    monkeypatch.setattr(trainer, "train", train)
    recipe = load_text(QUICK.replace("n_trials: 12", "n_trials: 3"), "q.yaml", "q")
    study, _ = open_study(recipe, open_storage(None, tmp_path))
    summary = run_sweep(recipe, study, torch.device("cpu"), Silent())
    assert states(study) == Counter({("COMPLETE", "ok"): 2, ("FAIL", "failed"): 1})
    failed = study.get_trials(states=(TrialState.FAIL,))[0]
    assert failed.user_attrs["reason"].startswith("OutOfMemoryError: CUDA out of memory")
    assert summary.failures and "OutOfMemoryError" in summary.failures[0]


def test_a_non_finite_objective_is_never_a_score(tmp_path, monkeypatch):
    import sweepnn.training.trainer as trainer

    real = trainer.train

    def train(cfg, device, report=None, data=None):
        result = real(cfg, device, report, data)
        result.metrics["val_accuracy"] = math.nan
        return result

    monkeypatch.setattr(trainer, "train", train)
    recipe = load_text(QUICK.replace("n_trials: 12", "n_trials: 1"), "q.yaml", "q")
    study, _ = open_study(recipe, open_storage(None, tmp_path))
    run_sweep(recipe, study, torch.device("cpu"), Silent())
    (trial,) = study.trials
    assert (trial.state, trial.user_attrs["outcome"]) == (TrialState.FAIL, "diverged")
    assert trial.user_attrs["reason"] == "objective val_accuracy = nan"


# ---- where results go ------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB file system: room for a storage's first lines, not for much more."""
    mount = tmp_path / "full"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_a_clear_error_and_the_storage_stays_readable(cli, write_recipe, tmp_path, tiny_disk):
    (tiny_disk / "filler").write_bytes(b"\0" * (256 * 1024 - 8192))  # leave a few KiB
    storage = tmp_path / "studies.journal"  # on the roomy disk: the results go to the full one
    code, _, err = cli("run", write_recipe(), "--device", "cpu", "--storage", storage, "--results", tiny_disk)
    assert code == 1
    assert "cannot write results to" in err and "No space left on device" in err
    assert "the study itself is kept in its storage" in err
    study = optuna.load_study(study_name="tiny", storage=open_storage(str(storage), tmp_path))
    assert len([t for t in study.trials if t.state == TrialState.COMPLETE]) == 3


def test_a_read_only_results_folder_is_a_clear_error(cli, write_recipe, tmp_path):
    if not shutil.which("chattr"):
        pytest.skip("chattr is not installed")
    folder = tmp_path / "locked"
    folder.mkdir()
    locked = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    if locked.returncode != 0:
        pytest.skip(f"cannot make a folder read-only here: {locked.stderr.decode().strip()}")
    try:
        storage = tmp_path / "studies.journal"
        code, _, err = cli(
            "run", write_recipe(), "--device", "cpu", "--storage", storage, "--results", folder
        )
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    assert code == 1 and "cannot write results to" in err and "Operation not permitted" in err
    study = optuna.load_study(study_name="tiny", storage=open_storage(str(storage), tmp_path))
    assert len(study.trials) == 3
