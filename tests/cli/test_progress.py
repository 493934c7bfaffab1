"""Progress while a sweep runs, through the real command: the live bar in a terminal (a pseudo-
terminal of pinned width), plain epoch lines at a bounded rate without one (a pipe, as in CI logs),
and `sweepnn status` showing a running trial's epoch and latest value."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import sweepnn

from sweepnn.errors import InputError
from sweepnn.results.display import duration, eta_seconds, plain_every

RECIPE = """\
name: follow
data: {name: blobs, n_samples: 400, classes: 3}
model: {name: mlp, depth: 1, width: 16}
train: {epochs: 4, batch_size: 32}
search:
  sampler: random
  pruner: none
  n_trials: 3
  test_top: 0
  save_top: 0
  space:
    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}
"""
EPOCH_LINE = re.compile(
    r"^  trial (\d+): epoch (\d+)/(\d+) val_accuracy (\S+)  \((\d+)/3 trials done(?:, best \S+)?; (.+)\)$"
)
COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # within a frame
MOVES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r|\n")  # between frames


def test_the_eta_is_the_trials_left_at_this_runs_pace_capped_by_the_timeout():
    # 2 trials and half of a third in 50 s: 20 s a trial; 10 left, of which the running half is done
    assert eta_seconds(50.0, 2, 10, 0.5, None) == pytest.approx(20.0 * 9.5)
    assert eta_seconds(50.0, 2, 10, 0.5, 60.0) == 60.0  # the timeout ends it first
    assert eta_seconds(50.0, 2, None, 0.5, 60.0) == 60.0  # no trial budget: the timeout alone
    assert eta_seconds(0.0, 0, 10, 0.0, None) is None  # no pace yet, no timeout: nothing to say
    assert eta_seconds(50.0, 2, None, 0.0, None) is None
    assert eta_seconds(50.0, 2, 10, 0.5, -5.0) == 0.0  # past the timeout: the last trial ends it
    assert [duration(s) for s in (0.4, 45, 185, 7620)] == ["0s", "45s", "3m05s", "2h07m"]


def test_the_plain_line_rate_is_a_setting_and_a_bad_one_is_bad_input(monkeypatch):
    monkeypatch.delenv("SWEEPNN_PROGRESS_S", raising=False)
    assert plain_every() == 5.0
    monkeypatch.setenv("SWEEPNN_PROGRESS_S", "0")
    assert plain_every() == 0.0
    for bad in ("-1", "soon", "nan"):
        monkeypatch.setenv("SWEEPNN_PROGRESS_S", bad)
        with pytest.raises(InputError, match="SWEEPNN_PROGRESS_S"):
            plain_every()


def _run_piped(tmp_path, every: str, recipe: str = RECIPE, **env: str) -> list[str]:
    (tmp_path / "follow.yaml").write_text(recipe)
    process = sweepnn(
        "run", tmp_path / "follow.yaml", "--results", tmp_path / "results", "--fresh",
        cwd=tmp_path, env={"SWEEPNN_PROGRESS_S": every, "COLUMNS": "100", **env},
    )  # fmt: skip
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    return COLOUR.sub("", out).splitlines()  # FORCE_COLOR colours the words: read past them


@pytest.mark.parametrize("colour", ["", "1"])
def test_without_a_terminal_every_finished_epoch_is_a_plain_line_when_the_rate_allows(tmp_path, colour):
    """FORCE_COLOR (CI systems set it for coloured logs) makes rich call the pipe a terminal: still
    plain lines, never a live bar's redraws."""
    lines = _run_piped(tmp_path, "0", FORCE_COLOR=colour)
    assert not [line for line in lines if re.search(r"follow ━+", line)]  # no frame of a bar
    epochs = [m for m in map(EPOCH_LINE.match, lines) if m]
    # every epoch of every trial, in order, with the trials done so far and the time spent and left
    assert [(int(m[1]), int(m[2])) for m in epochs] == [(t, e) for t in range(3) for e in range(1, 5)]
    assert all(int(m[3]) == 4 and 0 <= float(m[4]) <= 1 for m in epochs)
    assert [int(m[5]) for m in epochs] == [0] * 4 + [1] * 4 + [2] * 4
    # the pace is known from the first epoch on (a quarter of a trial), so every line has an ETA
    assert all(re.fullmatch(r"\d+s, ETA \d+s", m[6]) for m in epochs), [m[6] for m in epochs]
    # each trial's epochs come before its own finished line
    done = [i for i, line in enumerate(lines) if re.match(r"^  trial\s+\d+ ok", line)]
    assert len(done) == 3 and all(lines.index(epochs[4 * t + 3][0]) < done[t] for t in range(3))


def test_with_seed_repeats_every_seeds_epochs_show_as_the_trials_progress(tmp_path):
    repeated = RECIPE.replace("search:\n", "search:\n  repeats: 2\n").replace("n_trials: 3", "n_trials: 2")
    lines = _run_piped(tmp_path, "0", repeated)
    shown = [
        m for m in map(re.compile(EPOCH_LINE.pattern.replace("/3 trials", "/2 trials")).match, lines) if m
    ]
    # the second seed's epochs follow the first's: 8 epochs of a 2-seed trial of 4 epochs
    assert [(int(m[1]), int(m[2]), int(m[3])) for m in shown] == [
        (t, e, 8) for t in range(2) for e in range(1, 9)
    ]


def test_without_a_terminal_an_epoch_line_waits_until_nothing_was_said_for_a_while(tmp_path):
    lines = _run_piped(tmp_path, "600")
    # a line was said less than 600 s before each epoch (the study's first line, then each trial's)
    assert not [line for line in lines if EPOCH_LINE.match(line)]
    assert sum(bool(re.match(r"^  trial\s+\d+ ok", line)) for line in lines) == 3  # trials still said


def test_in_a_terminal_the_bar_shows_the_running_epoch_the_best_and_the_eta_within_its_width(tmp_path):
    longer = RECIPE.replace("epochs: 4", "epochs: 40").replace("n_samples: 400", "n_samples: 3000")
    (tmp_path / "follow.yaml").write_text(longer)  # trials of a second or two: the bar is drawn meanwhile
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "LINES": "40", "OMP_NUM_THREADS": "1", "TERM": "xterm"}
    env.pop("CI", None)  # rich treats a CI environment as a terminal that cannot move the cursor
    process = subprocess.Popen(
        [sys.executable, "-m", "sweepnn", "run", str(tmp_path / "follow.yaml"), "--results",
         str(tmp_path / "results")],
        cwd=tmp_path, env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=180) == 0
    os.close(master)
    text = COLOUR.sub("", b"".join(chunks).decode("utf-8", "replace"))
    frames = [f.rstrip() for f in MOVES.split(text) if f.strip()]
    bars = [f for f in frames if "follow" in f and "/3" in f and "epoch" in f]
    assert bars, "no frame of the bar showed the running trial"
    assert all(len(f) <= 100 for f in frames), max(frames, key=len)
    shown = re.compile(r"(\d)/3 best (\S+) .*ETA \S+.* trial (\d): epoch (\d+)/40 val_accuracy (\S+)")
    seen = [m for m in map(shown.search, bars) if m]
    assert seen, bars[-3:]
    assert {int(m[3]) for m in seen} >= {1, 2}  # the bar moved on with the trials
    assert all(m[2] == "-" or 0 <= float(m[2]) <= 1 for m in seen)


@pytest.mark.parametrize("objectives", ["val_accuracy", "[val_accuracy, val_loss]"])
def test_status_shows_each_running_trials_epoch_and_latest_value(tmp_path, objectives):
    """With one objective the value Optuna was told is read; with two (nothing is told until the end)
    the running trial's heartbeat carries it."""
    slow = RECIPE.replace("epochs: 4", "epochs: 400").replace("n_samples: 400", "n_samples: 4000")
    slow = slow.replace("search:\n", f"search:\n  objective: {objectives}\n")
    (tmp_path / "follow.yaml").write_text(slow)
    results = tmp_path / "results"
    env = {"SWEEPNN_HEARTBEAT_S": "0.2"}
    process = sweepnn("run", tmp_path / "follow.yaml", "--results", results, cwd=tmp_path, env=env)
    try:
        deadline = time.monotonic() + 120
        row = None
        while time.monotonic() < deadline and row is None:
            time.sleep(0.5)
            status = sweepnn("status", "follow", "--results", results, cwd=tmp_path, env=env)
            out, _ = status.communicate(timeout=60)
            # trial | epoch | val_accuracy | worker | ...: an epoch under way and a value read from it
            row = re.search(r"│\s+0 │\s+(\d+)/400 │\s+(\S+) │", out)
        assert row is not None, out
        assert "val_accuracy" in out and 1 <= int(row[1]) < 400 and 0 <= float(row[2]) <= 1
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
