"""Shared fixtures: tiny recipes on generated data, a CLI runner with a pinned width, one torch thread."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Small models on a shared 2-core machine: one thread is fastest and keeps test timings stable.
os.environ.setdefault("OMP_NUM_THREADS", "1")

TINY = """\
description: a tiny sweep for tests
data: {name: blobs, n_samples: 240, classes: 3}
model: {name: mlp, depth: 1, width: 16}
train:
  epochs: 2
  batch_size: 64
  optimizer: {name: adam, lr: 0.01}
search:
  sampler: random
  n_trials: 3
  space:
    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}
    model.activation: [relu, tanh]
"""


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory):
    """Generated datasets are cached in one folder per test session, never in the user's cache."""
    os.environ["SWEEPNN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["COLUMNS"] = "200"


@pytest.fixture
def write_recipe(tmp_path):
    """write_recipe(text, name='tiny') -> path of a recipe file in a fresh folder."""

    def write(text: str = TINY, name: str = "tiny") -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Run the real Typer app in-process from tmp_path; returns (exit code, stdout, stderr)."""
    from typer.testing import CliRunner

    from sweepnn.cli import app

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
        return result.exit_code, result.stdout, result.stderr

    return invoke


def sweepnn(*args, cwd: Path, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    """The real command in a process of its own (one torch thread, unbuffered, a wide terminal);
    `env`: variables set on top of these."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "sweepnn", *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def command_on(tmp_path: Path, command: str, recipe: Path, timeout: float) -> tuple[int, str, str]:
    """`sweepnn COMMAND RECIPE` (a run on the CPU into tmp_path/results) in a real process, within
    `timeout` seconds: (exit code, stdout, stderr)."""
    args = [command, recipe] + (
        ["--results", tmp_path / "results", "--device", "cpu"] if command == "run" else []
    )
    process = sweepnn(*args, cwd=tmp_path)
    try:
        out, err = process.communicate(timeout=timeout)  # a guard: a hang is a failure, not a wait
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"sweepnn {command} did not finish within {timeout}s")
    return process.returncode, out, err


# ---- helpers more than one test folder uses -------------------------------------------------------


def adam_losses(model, x, y, steps: int, lr: float = 1e-2) -> list[float]:
    """The cross-entropy of each of `steps` full-batch Adam steps on (x, y): a network that trains
    shows them falling."""
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


class Quiet:
    """Events that record what a display would have shown."""

    def __init__(self):
        self.epochs: list[tuple[int, int]] = []
        self.done: list[int] = []

    def sweep_started(self, study, done, budget, resumed, best):
        self.start = (done, budget, resumed)
        self.best_at_start = best

    def trial_started(self, number, params):
        pass

    def epoch_done(self, number, epoch, epochs, metrics):
        self.epochs.append((number, epoch))

    def trial_done(self, trial, done, budget):
        self.done.append(trial.number)
