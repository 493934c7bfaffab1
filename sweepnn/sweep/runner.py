"""One `sweepnn run`: open the study, run the sweep, keep the result files current, survive Ctrl-C."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweepnn.errors import SweepnnError, notice
from sweepnn.recipe.config import Recipe
from sweepnn.sweep.opening import open_study, study_gone
from sweepnn.sweep.storage import open_storage, redact, transient
from sweepnn.sweep.study import Events, Interrupted, SweepSummary, interrupted_numbers, run_sweep, score_test

WRITE_EVERY_S = 2.0  # rewrite the result files at most this often while trials finish


@dataclass(frozen=True)
class RunOptions:
    """How to run a recipe: where results and the storage go, the device and threads, workers."""

    results_dir: Path = Path("results")
    storage: str | None = None
    device: str = "auto"
    threads: int | None = None
    fresh: bool = False
    source: str = ""  # the recipe file, recorded in results/<study>/recipe.yaml
    workers: int = 1  # processes on this machine sharing the study (this one included)
    devices: list[str] | None = None  # one per worker, round robin; None: `device` for all
    worker: bool = False  # started by another run's Pool: train only; that run scores and writes
    # writes results/<study>/ from the study: (study, recipe, results_dir, source) -> Written. The
    # caller hands it in (sweepnn.results.files.write_results): results sit above the sweep, which
    # never imports them. None: no result files (a worker's run, or a caller that reads the study).
    write: Callable[..., Any] | None = None


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered like Ctrl-C so the running trial is recorded the same way."""

    signal_name = "SIGTERM"


# After an interruption, the longest a run may take to record its running trials and write its
# result files before it exits anyway: a stop must always stop. What it could not record, the next
# run finds (the trial's process is gone) and retries.
STOP_GRACE_S = 20.0


class _Stopper:
    """The handler of SIGINT and SIGTERM: the first raises KeyboardInterrupt (the sweep records its
    running trial) and starts a watchdog; a second signal, or the watchdog, exits at once."""

    def __init__(self) -> None:
        self.watchdog: threading.Timer | None = None
        self.pool = None  # the run's other workers, once started: they are told first

    def __call__(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        code = 143 if signum == signal.SIGTERM else 130
        if self.watchdog is not None:
            self.exit_now(
                f"{name} again: exiting now; the next run retries the trials that were running", code
            )
        if self.pool is not None:  # `kill -TERM <pid>` reaches this process alone: pass it on
            self.pool.interrupt()
        self.watchdog = threading.Timer(
            STOP_GRACE_S,
            self.exit_now,
            (
                f"not stopped {STOP_GRACE_S:.0f}s after {name}: exiting now; the next run retries the trials"
                " that were running",
                code,
            ),
        )
        self.watchdog.daemon = True
        self.watchdog.start()
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    def exit_now(self, message: str, code: int) -> None:
        """Leave without Python's shutdown, which would wait on whatever is stuck (a lock, a thread),
        and without leaving a worker behind (one stopped holding the journal's lock would block it)."""
        from sweepnn.sweep.workers import kill_all

        kill_all(self.pool)
        os.write(2, f"sweepnn: {message}\n".encode())
        os._exit(code)

    def disarm(self) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()


@contextmanager
def signals_as_interrupt():
    """SIGINT and SIGTERM both stop the sweep through KeyboardInterrupt, within STOP_GRACE_S.

    SIGINT is installed explicitly, not left to Python's default: a process started in the
    background by a non-interactive shell (CI runners, `cmd &` in scripts) inherits SIGINT as
    *ignored*, and Python then never raises KeyboardInterrupt, so `kill -INT` would do nothing.
    """
    previous = {}
    stopper = _Stopper()
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, stopper)
    except ValueError:  # not the main thread (e.g. inside a test runner's worker)
        pass
    try:
        yield stopper
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stopper.disarm()


def run(recipe: Recipe, opts: RunOptions, events: Events) -> tuple[SweepSummary, Any]:
    """Run (or resume) the recipe's study; the result files are written (by `opts.write`) even when
    interrupted. Returns the summary and what `opts.write` gave back (sweepnn.results.files.Written)."""
    from sweepnn.sweep.liveness import grace_seconds
    from sweepnn.sweep.workers import Pool, plan
    from sweepnn.training.devices import auto_threads, resolve_device, set_threads

    grace_seconds()  # the liveness settings are checked (bad ones are bad input) before anything runs
    crew = plan(opts.workers, opts.device, opts.devices, opts.threads)
    device = resolve_device(crew[0].device)
    if device.type == "cpu":
        set_threads(crew[0].threads if opts.workers > 1 else opts.threads or auto_threads())
    from sweepnn.training.data import load_data
    from sweepnn.training.preflight import check_model

    # missing or bad data files fail here, before a study is made; so do a model that cannot be
    # built or take that data, and a loss or metric of the user's that fails
    check_model(recipe, load_data(recipe.data, device), device)
    # from the storage's opening (it may wait for the journal's lock) to the result files' writing
    with signals_as_interrupt() as stopper:
        try:
            storage = open_storage(opts.storage, opts.results_dir)
            study, resumed = open_study(recipe, storage, fresh=opts.fresh)
        except KeyboardInterrupt as e:
            raise Interrupted(getattr(e, "signal_name", "SIGINT"), trials=0) from None
        folder = opts.results_dir / recipe.name
        if opts.fresh:  # the kept models were the discarded study's trials: a new trial 0 is another
            from sweepnn.training.weights import discard

            discard(folder)
        pool = Pool(recipe, crew[1:], opts.storage, opts.results_dir) if len(crew) > 1 else None
        stopper.pool = pool
        return _sweep(recipe, opts, events, study, resumed, device, pool)


def _sweep(recipe: Recipe, opts: RunOptions, events: Events, study, resumed: bool, device, pool):
    """The sweep of one run and its result files; `pool`: the other workers on this machine, or None."""
    last = [time.monotonic()]
    write = opts.write if not opts.worker else None

    def write_results(*args):
        return write(*args) if write is not None else None

    def keep_current() -> None:
        for line in pool.check() if pool is not None else []:
            notice(line)  # a worker that fails is said when it fails, not only at the end
        if write is not None and time.monotonic() - last[0] >= WRITE_EVERY_S:
            try:
                write_results(study, recipe, opts.results_dir, opts.source)
            except Exception as e:
                if not transient(e):
                    raise
                return  # the storage is restarting: the files are written again after the next trial
            last[0] = time.monotonic()

    written = None
    cut_before = interrupted_numbers(study) if pool is not None else set()
    try:
        try:
            summary = run_sweep(
                recipe,
                study,
                device,
                events,
                resumed=resumed,
                on_progress=keep_current,
                everyone=not opts.worker,  # the command's process reports every worker's trials
                others_running=pool.running if pool is not None else None,
                models_folder=opts.results_dir / recipe.name,  # where trials stage their weights
            )
            if pool is not None:  # this worker is done; the others finish their last trials
                summary.worker_failures += pool.wait()
        except BaseException as e:
            if pool is not None:  # an interrupt here is one for every worker
                pool.interrupt()
                pool.wait(timeout=STOP_GRACE_S / 2)
                if isinstance(e, Interrupted):  # the trials every worker recorded, not this one's alone
                    raise Interrupted(e.signal_name, len(interrupted_numbers(study) - cut_before)) from None
            raise
        if not opts.worker:
            score_test(study, recipe, device, summary.leaders)
    except Exception as e:
        if not transient(e):
            raise
        raise SweepnnError(
            f"lost the storage for longer than sweepnn waits: {redact(str(e), opts.storage).splitlines()[0]}."
            " Finished trials are kept there; run the same command again to resume."
        ) from None
    finally:
        if write is not None:
            try:
                written = write_results(study, recipe, opts.results_dir, opts.source)
            except Exception as e:
                if not (transient(e) or (isinstance(e, KeyError) and study_gone(study))):
                    raise
                # the storage or the study is gone: the result files stay as last written, and the
                # error above says why
    return summary, written
