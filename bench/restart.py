"""How long a run takes to start training after a crash, against a run that starts on a clean study.

Each round starts `sweepnn run` on the default journal (under a relative `results/`, as a user
runs it) and times, from the process's start, the moment it stamps its first trial with its own
process id (the journal line `"sweepnn:worker":"host:pid"`). Three kinds of start, alternating:

- clean: the study exists and nothing went wrong before;
- after SIGKILL: the previous run was killed mid-trial at a random moment (its trial is left
  running, and the lock may have been held when it died);
- after a stale Optuna lock: a dangling `results/studies.journal.lock` symbolic link, which made
  every run wait for good before the journal had its own lock.

    python bench/restart.py [--rounds 5]

Prints a JSON line per start, then one with the medians and the ratios to a clean start.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIPE = """\
description: restart bench
data: {name: blobs, n_samples: 3000, classes: 3}
model: {name: mlp, depth: 1, width: 16}
train: {epochs: 20, batch_size: 16}
search:
  sampler: random
  pruner: none
  n_trials: 1000
  space:
    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}
"""
LIMIT_S = 120.0  # a start slower than this counts as hung


def start(folder: Path) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "sweepnn", "run", "r.yaml", "--device", "cpu", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, t0


def until_training(folder: Path, proc: subprocess.Popen, t0: float) -> float:
    """Seconds from the process's start to its first trial's stamp in the journal."""
    journal = folder / "results" / "studies.journal"
    mark = f':{proc.pid}"'.encode()
    offset = journal.stat().st_size if journal.exists() else 0
    while time.perf_counter() - t0 < LIMIT_S:
        if journal.exists():
            with open(journal, "rb") as f:
                f.seek(offset)
                chunk = f.read()
            if mark in chunk:
                return time.perf_counter() - t0
            offset += max(0, chunk.rfind(b"\n") + 1)
        time.sleep(0.02)
    return float("inf")


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(0)
    times: dict[str, list[float]] = {"clean": [], "after SIGKILL": [], "after a stale Optuna lock": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "r.yaml").write_text(RECIPE)
        proc, t0 = start(folder)  # creates the study
        until_training(folder, proc, t0)
        proc.terminate()
        proc.wait()
        for i in range(args.rounds):
            for case in times:
                if case == "after a stale Optuna lock":
                    (folder / "results" / "studies.journal.lock").symlink_to("results/studies.journal")
                proc, t0 = start(folder)
                s = until_training(folder, proc, t0)
                times[case].append(s)
                print(json.dumps({"round": i, "case": case, "seconds": round(s, 2)}), flush=True)
                if case == "clean":  # ends well: the next start is clean again
                    proc.terminate()
                    proc.wait()
                else:  # killed mid-trial, at a random moment: the next start is after a crash
                    time.sleep(rng.uniform(0.0, 1.5))
                    kill(proc)
                (folder / "results" / "studies.journal.lock").unlink(missing_ok=True)
            # the round's last kill leaves a crash behind: the next round's clean start is after one
            proc, t0 = start(folder)
            until_training(folder, proc, t0)
            proc.terminate()
            proc.wait()
    medians = {case: round(statistics.median(v), 2) for case, v in times.items()}
    clean = medians["clean"]
    summary = {
        "figure": "start to first trial",
        "median_seconds": medians,
        "worst_seconds": {case: round(max(v), 2) for case, v in times.items()},
        "vs_clean": {case: round(m / clean, 2) for case, m in medians.items()},
        "rounds": args.rounds,
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
