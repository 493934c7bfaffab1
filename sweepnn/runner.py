"""One `sweepnn run`: open the study, run the sweep, keep the result files current, survive Ctrl-C."""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sweepnn.config import Recipe
from sweepnn.errors import SweepnnError
from sweepnn.storage import redact, transient
from sweepnn.study import Events, SweepSummary, open_storage, open_study, run_sweep, score_test

if TYPE_CHECKING:
    from sweepnn.results import Written

WRITE_EVERY_S = 2.0  # rewrite the result files at most this often while trials finish


@dataclass(frozen=True)
class RunOptions:
    results_dir: Path = Path("results")
    storage: str | None = None
    device: str = "auto"
    threads: int | None = None
    fresh: bool = False
    source: str = ""  # the recipe file, recorded in results/<study>/recipe.yaml
    workers: int = 1  # processes on this machine sharing the study (this one included)
    devices: list[str] | None = None  # one per worker, round robin; None: `device` for all
    worker: bool = False  # started by another run's Pool: train only; that run scores and writes


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered like Ctrl-C so the running trial is recorded the same way."""

    signal_name = "SIGTERM"


def _raise_interrupt(signum, frame):
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def signals_as_interrupt():
    """SIGINT and SIGTERM both stop the sweep through KeyboardInterrupt.

    SIGINT is installed explicitly, not left to Python's default: a process started in the
    background by a non-interactive shell (CI runners, `cmd &` in scripts) inherits SIGINT as
    *ignored*, and Python then never raises KeyboardInterrupt, so `kill -INT` would do nothing.
    """
    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _raise_interrupt)
    except ValueError:  # not the main thread (e.g. inside a test runner's worker)
        pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(recipe: Recipe, opts: RunOptions, events: Events) -> tuple[SweepSummary, Written | None]:
    """Run (or resume) the recipe's study; the result files are written even when interrupted."""
    from sweepnn.devices import auto_threads, resolve_device, set_threads
    from sweepnn.results import write_results  # pandas: imported by the runs that write results
    from sweepnn.workers import Pool, plan

    crew = plan(opts.workers, opts.device, opts.devices, opts.threads)
    device = resolve_device(crew[0].device)
    if device.type == "cpu":
        set_threads(crew[0].threads if opts.workers > 1 else opts.threads or auto_threads())
    from sweepnn.data import load_data

    load_data(recipe.data, device)  # missing or bad data files fail here, before a study is made
    storage = open_storage(opts.storage, opts.results_dir)
    study, resumed = open_study(recipe, storage, fresh=opts.fresh)
    last = [time.monotonic()]

    def keep_current() -> None:
        if not opts.worker and time.monotonic() - last[0] >= WRITE_EVERY_S:
            write_results(study, recipe, opts.results_dir, opts.source)
            last[0] = time.monotonic()

    pool = Pool(recipe, crew[1:], opts.storage, opts.results_dir) if len(crew) > 1 else None
    written = None
    try:
        with signals_as_interrupt():
            try:
                summary = run_sweep(recipe, study, device, events, resumed=resumed, on_progress=keep_current)
                if pool is not None:  # this worker is done; the others finish their last trials
                    summary.failures += pool.wait()
            except BaseException:
                if pool is not None:  # an interrupt here is one for every worker
                    pool.interrupt()
                    pool.wait()
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
        if not opts.worker:
            try:
                written = write_results(study, recipe, opts.results_dir, opts.source)
            except Exception as e:
                if not transient(e):
                    raise
                # the storage is gone: the result files stay as last written, the error above says why
    return summary, written
