"""What a trial costs beyond its training: sampler, storage and bookkeeping, at 100 and 1,000 trials.

Runs a 1,000-trial study through `sweepnn.sweep.runner.run` (what `sweepnn run` calls: the default journal
storage in a temporary results folder, the result files rewritten every couple of seconds as trials
finish) on a recipe whose training is nearly free: 64 blobs, a 4-unit MLP, 1 epoch, random sampling
of two parameters, the median pruner. Every `sweepnn.training.trainer.train` call is timed (the function is
wrapped in this process, for the benchmark only), and each trial's orchestration time is the time
from the previous trial's end to its own minus its time inside train(). Reported over trials 1-100
and 901-1000: the mean (the periodic rewrite of the result files included, spread over the trials)
and the median (a typical trial without a rewrite).

The reference is the quickstart's median trial time (recipes/quickstart.yaml run the same way, its
first --quickstart-trials trials, whole trials timed), measured in two blocks, before and after the
1,000-trial study, so machine load that drifts during the run weighs on both alike. Goal: the
overhead per trial at 1,000 trials is at most 5% of it. Last, the time `write_results` takes to
write the result files of the 1,000-trial study (median of --repeats).

    python bench/orchestration.py [--trials 1000] [--window 100] [--quickstart-trials 8] [--repeats 5]

Prints one JSON line per window, one for the quickstart reference, one for write_results, and one
with the goal ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

torch.set_num_threads(1)

import sweepnn.training.trainer  # noqa: E402
from sweepnn.recipe.loading import load, load_text  # noqa: E402
from sweepnn.results.files import write_results  # noqa: E402
from sweepnn.sweep.opening import open_study  # noqa: E402
from sweepnn.sweep.runner import RunOptions, run  # noqa: E402
from sweepnn.sweep.storage import open_storage  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

FREE = """\
description: training that costs next to nothing, so what is left is orchestration
data: {{name: blobs, n_samples: 64, classes: 2}}
model: {{name: mlp, depth: 1, width: 4}}
train: {{epochs: 1, batch_size: 64, optimizer: {{name: adam, lr: 0.01}}}}
search:
  sampler: random
  pruner: median
  n_trials: {trials}
  test_top: 0
  space:
    train.optimizer.lr: {{low: 1e-4, high: 1e-1, log: true}}
    model.activation: [relu, tanh]
"""


class Clock:
    """Events that timestamp every trial's end; with the train() wrapper's total, per-trial costs."""

    def __init__(self, timer: TrainTimer):
        self.timer = timer
        self.ends: list[float] = []  # perf_counter at each trial's end
        self.trained: list[float] = []  # train() seconds within each trial

    def sweep_started(self, study, done, budget, resumed, best):
        self.last, self.last_trained = time.perf_counter(), self.timer.total

    def trial_started(self, number, params):
        pass

    def epoch_done(self, number, epoch, epochs, metrics):
        pass

    def trial_done(self, trial, done, budget):
        self.ends.append(time.perf_counter())
        self.trained.append(self.timer.total - self.last_trained)
        self.last_trained = self.timer.total

    def trial_seconds(self) -> list[float]:
        """Each trial's wall time, from the previous trial's end (the sweep's start for the first)."""
        starts = [self.last, *self.ends[:-1]]
        return [e - s for s, e in zip(starts, self.ends, strict=True)]

    def overheads(self) -> list[float]:
        return [w - t for w, t in zip(self.trial_seconds(), self.trained, strict=True)]


class TrainTimer:
    """Wraps sweepnn.training.trainer.train, adding up the seconds spent inside it.
    sweepnn.sweep.trials imports train from its module at each call, so replacing the module
    attribute reaches every trial."""

    def __init__(self):
        self.total = 0.0
        self.original = sweepnn.training.trainer.train

    def __enter__(self):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return self.original(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - t0

        sweepnn.training.trainer.train = timed
        return self

    def __exit__(self, *exc):
        sweepnn.training.trainer.train = self.original


def sweep(recipe, results: Path) -> Clock:
    with TrainTimer() as timer:
        clock = Clock(timer)
        run(recipe, RunOptions(results_dir=results, device="cpu", threads=1, write=write_results), clock)
    return clock


def quickstart_block(trials: int, tmp: Path, block: int) -> list[float]:
    """Whole-trial seconds of the quickstart's first `trials` trials, in a fresh study."""
    recipe = load(ROOT / "recipes" / "quickstart.yaml")
    raw = recipe.model_dump()
    raw["search"]["n_trials"] = trials
    raw["search"]["test_top"] = 0
    return sweep(type(recipe).model_validate(raw), tmp / f"quickstart-{block}").trial_seconds()


def window(overheads: list[float], trained: list[float], lo: int, hi: int) -> dict:
    part, inside = overheads[lo:hi], trained[lo:hi]
    return {
        "trials": f"{lo + 1}-{hi}",
        "mean_overhead_ms": round(1e3 * statistics.fmean(part), 2),
        "median_overhead_ms": round(1e3 * statistics.median(part), 2),
        "max_overhead_ms": round(1e3 * max(part), 1),  # a trial that rewrote the result files
        "median_train_ms": round(1e3 * statistics.median(inside), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--quickstart-trials", type=int, default=8, help="per block; two blocks")
    ap.add_argument("--repeats", type=int, default=5, help="timings of write_results")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        quick = quickstart_block(args.quickstart_trials, tmp, 0)
        t0 = time.perf_counter()
        recipe = load_text(FREE.format(trials=args.trials), "orchestration.yaml", "orchestration")
        clock = sweep(recipe, tmp / "free")
        total = time.perf_counter() - t0
        quick += quickstart_block(args.quickstart_trials, tmp, 1)

        overheads, trained = clock.overheads(), clock.trained
        n, w = len(overheads), args.window
        windows = [window(overheads, trained, 0, min(w, n))]
        if n > w:
            windows.append(window(overheads, trained, n - w, n))
        for row in windows:
            print(json.dumps({"study_trials": n, **row}), flush=True)

        quick_median = statistics.median(quick)
        print(
            json.dumps(
                {
                    "reference": "quickstart trial (whole trial, median)",
                    "trials_timed": len(quick),
                    "median_s": round(quick_median, 3),
                }
            ),
            flush=True,
        )

        study, _ = open_study(recipe, open_storage(None, tmp / "free"))
        writes = []
        for _ in range(args.repeats):
            t1 = time.perf_counter()
            write_results(study, recipe, tmp / "free")
            writes.append(time.perf_counter() - t1)
        print(
            json.dumps(
                {
                    "figure": "write_results",
                    "study_trials": len(study.trials),
                    "median_s": round(statistics.median(writes), 3),
                    "repeats": args.repeats,
                }
            ),
            flush=True,
        )

    last = windows[-1]
    share = last["mean_overhead_ms"] / 1e3 / quick_median
    print(
        json.dumps(
            {
                "figure": "orchestration per trial / quickstart median trial",
                "at_trials": last["trials"],
                "mean_overhead_ms": last["mean_overhead_ms"],
                "quickstart_median_trial_s": round(quick_median, 3),
                "share": f"{share:.2%}",
                "first_window_share": f"{windows[0]['mean_overhead_ms'] / 1e3 / quick_median:.2%}",
                "sweep_seconds": round(total, 1),
                "goal": "<= 5% at 1,000 trials",
            }
        )
    )


if __name__ == "__main__":
    main()
