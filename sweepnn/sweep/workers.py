"""Several worker processes on this machine, sharing one study: `sweepnn run RECIPE --workers N`.

The command's own process is worker 0 (it shows the progress and writes the results); it starts
N-1 more with the same recipe and storage. Each is an ordinary `sweepnn run` that asks the storage
for trials until the study's budget is spent, so workers on other machines can join the same study
by running the same command against a shared database. On the CPU the cores are divided between
the workers (one torch thread each on a small machine, never more threads than cores); with
several GPUs each worker gets its own (`--devices cuda:0,cuda:1` or `auto`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sweepnn.errors import InputError
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.variants import to_yaml
from sweepnn.training.devices import auto_threads


@dataclass(frozen=True)
class Worker:
    """One worker process of a run: its `index` (0 is the command's own process), the device it trains on and
    its number of torch threads."""

    index: int
    device: str
    threads: int


def plan(n: int, device: str, devices: list[str] | None, threads: int | None) -> list[Worker]:
    """Which device and how many torch threads each of `n` workers gets."""
    if n < 1:
        raise InputError(f"--workers must be at least 1 (got {n})")
    if devices is None and device == "auto":
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        devices = [f"cuda:{i}" for i in range(gpus)] if gpus > 1 else None
    pool = devices or [device]
    from sweepnn.training.devices import resolve_device

    for name in dict.fromkeys(pool):  # a device a worker cannot use is bad input, before any worker starts
        resolve_device(name)
    per = threads or auto_threads(n)
    return [Worker(i, pool[i % len(pool)], per) for i in range(n)]


class Pool:
    """The extra worker processes of a run: started, stopped on an interrupt, waited for."""

    def __init__(self, recipe: Recipe, workers: list[Worker], storage: str | None, results_dir: Path):
        self.logs = results_dir / recipe.name / "workers"
        self.logs.mkdir(parents=True, exist_ok=True)
        # The recipe exactly as this process runs it (overrides, --smoke and all): the others run it too.
        spec = self.logs / "recipe.yaml"
        spec.write_text(to_yaml(recipe, "# the recipe every worker of this run runs"), encoding="utf-8")
        self.procs: list[tuple[Worker, subprocess.Popen, Path]] = []
        self.problems: list[str] = []  # a line for each worker that ended badly
        self._seen: set[int] = set()  # the workers whose end has been looked at
        self.interrupted = False
        for w in workers:
            log = self.logs / f"worker-{w.index}.log"
            # not --quiet: the log has the worker's first line and a line per trial it trains
            cmd = [sys.executable, "-m", "sweepnn", "run", str(spec), "--worker"]
            cmd += ["--device", w.device, "--threads", str(w.threads), "--results", str(results_dir)]
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            if storage:
                env["SWEEPNN_STORAGE"] = storage  # not on the command line, where `ps` shows passwords
            with open(log, "w", encoding="utf-8") as out:
                # a session of its own: Ctrl-C at the terminal reaches this process alone, which
                # passes it on once (a second signal would make a worker exit before it records)
                proc = subprocess.Popen(
                    cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
            self.procs.append((w, proc, log))

    def interrupt(self, sig: int = signal.SIGTERM) -> None:
        """Pass an interruption on: each worker records its running trial as interrupted and stops.

        SIGCONT follows, so a worker someone stopped (SIGSTOP, Ctrl-Z) gets the signal too. Once
        only: a second SIGTERM would make a worker exit at once, before it records its trial."""
        if self.interrupted:
            return
        self.interrupted = True
        for _, proc, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(sig)
                proc.send_signal(signal.SIGCONT)

    def running(self) -> bool:
        """Is any of the workers still running?"""
        return any(proc.poll() is None for _, proc, _ in self.procs)

    def check(self) -> list[str]:
        """A line for each worker that ended badly since the last check, while the run goes on."""
        fresh = []
        for w, proc, log in self.procs:
            code = proc.poll()
            if code is not None and w.index not in self._seen:
                self._seen.add(w.index)
                if self._bad(code):
                    self.problems.append(_problem(w, code, log))
                    fresh.append(self.problems[-1])
        return fresh

    def wait(self, timeout: float | None = None) -> list[str]:
        """Wait for every worker (one still running after `timeout` seconds is killed); a line for
        each that did not end well."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        for w, proc, log in self.procs:
            try:
                code = proc.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            if w.index not in self._seen:
                self._seen.add(w.index)
                if self._bad(code):
                    self.problems.append(_problem(w, code, log))
        return list(self.problems)

    def _bad(self, code: int) -> bool:
        """0 is a worker that finished; 130 and 143 one that an interruption of this run stopped."""
        return code != 0 and not (self.interrupted and code in (130, 143))


def _problem(w: Worker, code: int, log: Path) -> str:
    how = f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
    return f"worker {w.index} {how}{_last_words(log)}; its log: {log}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # a real-time signal has no name
        return f"signal {number}"


def kill_all(pool: Pool | None) -> None:
    """SIGKILL every worker still running: a run that exits at once leaves none behind."""
    for _, proc, _ in pool.procs if pool is not None else []:
        if proc.poll() is None:
            proc.kill()


def _last_words(log: Path) -> str:
    """The last line a worker wrote (its error, as a rule), for the message that reports it."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return f": {lines[-1]}" if lines else ""
