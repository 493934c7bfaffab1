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

from sweepnn.config import Recipe
from sweepnn.devices import auto_threads
from sweepnn.errors import InputError
from sweepnn.variants import to_yaml


@dataclass(frozen=True)
class Worker:
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
        for w in workers:
            log = self.logs / f"worker-{w.index}.log"
            cmd = [sys.executable, "-m", "sweepnn", "run", str(spec), "--worker", "--quiet"]
            cmd += ["--device", w.device, "--threads", str(w.threads), "--results", str(results_dir)]
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            if storage:
                env["SWEEPNN_STORAGE"] = storage  # not on the command line, where `ps` shows passwords
            with open(log, "w", encoding="utf-8") as out:
                proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
            self.procs.append((w, proc, log))

    def interrupt(self, sig: int = signal.SIGTERM) -> None:
        """Pass an interruption on: each worker records its running trial as interrupted and stops."""
        for _, proc, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(sig)

    def wait(self) -> list[str]:
        """Wait for every worker; a line for each that did not end well."""
        problems = []
        for w, proc, log in self.procs:
            code = proc.wait()
            if code not in (0, 130, 143):
                problems.append(f"worker {w.index} exited with code {code}; see {log}")
        return problems
