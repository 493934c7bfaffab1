"""Trials per minute: `sweepnn run` against the sweep a PyTorch user writes by hand, side by side.

The reference is ../shared/bench/handwritten_sweep.py (DataLoader over a TensorDataset, an
nn.Sequential 3-layer ReLU MLP, Optuna's TPE with seed 0, MNIST-1D 4,000 train / 1,000 validation).
bench/handwritten.yaml is the same space, sampler, budget and data sizes as a sweepnn recipe. Each
round runs, as subprocesses and in alternating order:

- baseline    the hand-written script with --threads 1
- sweepnn     `sweepnn run <recipe> --threads 1 --quiet --results <tmp>`
- sweepnn-g16 the same recipe with `search.group_size: 16` (same-shaped trials trained stacked)
- sweepnn-w2  the same recipe with `--workers 2`: both cores, one torch thread each
- sweepnn-w2-g16  both: two workers, each training stacked groups

and, in the first --default-threads-repeats rounds only, the baseline with torch's default threads
(on a shared 2-core machine that can be many times slower, so it is not repeated by default).

    python bench/sweep_vs_handwritten.py [--repeats 5] [--trials 20] [--epochs 10]

The default is the reference's own budget, `--epochs 10` (about 12 minutes here); `--epochs 2` makes
trials so short that start-up and the sampler's bookkeeping weigh more than training. Trials per
minute count the whole command, interpreter start and imports included, as a user waits for it;
`loop_s` is each tool's own timing of its trial loop.
Both tools sample different configurations (the parameters are asked in another order, so TPE's
draws differ), and a batch of 64 costs four times the steps of a batch of 256: `steps_per_s`
(training steps, all trials, over the loop's time) is the throughput with that difference taken out.

Prints one JSON line per variant, then one line with the ratios.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT.parent / "shared" / "bench" / "handwritten_sweep.py"
RECIPE = ROOT / "bench" / "handwritten.yaml"
N_TRAIN = 4000  # both tools' training split (checked for sweepnn in `check_split`)

# Runs the reference script unchanged, but keeps its study so the sampled batch sizes can be read
# back: without them its steps per second cannot be computed. create_study is looked up on the
# optuna module at call time, so replacing it before the script runs is enough.
_BASELINE_WRAPPER = """
import json, runpy, sys
import optuna
made = []
_create = optuna.create_study
def create_study(*a, **k):
    made.append(_create(*a, **k))
    return made[-1]
optuna.create_study = create_study
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
trials = made[0].trials
print(json.dumps({"batch_sizes": [t.params["batch_size"] for t in trials],
                  "epochs": [len(t.intermediate_values) for t in trials]}))
"""


def steps(batch_sizes: list[int], epochs: list[int]) -> int:
    """Training steps of a sweep: each trial's epochs times its batches per epoch."""
    return sum(e * math.ceil(N_TRAIN / bs) for bs, e in zip(batch_sizes, epochs, strict=True))


def check_split() -> None:
    """The recipe's data must split as the reference's: 4,000 to train, 1,000 to validate."""
    import torch

    from sweepnn.recipe.loading import load
    from sweepnn.training.data import load_data

    data = load_data(load(RECIPE).data, torch.device("cpu"))  # also generates and caches it once
    sizes = (len(data.x_train), len(data.x_val))
    if sizes != (N_TRAIN, 1000):
        sys.exit(f"bench/handwritten.yaml splits {sizes[0]} / {sizes[1]}, not 4000 / 1000")


def write_variant(folder: Path, name: str, trials: int, epochs: int, group_size: int) -> Path:
    """The recipe with this run's budget (and group size), under its own study name."""
    text = RECIPE.read_text()
    text = re.sub(r"(?m)^  epochs: \d+", f"  epochs: {epochs}", text)
    text = re.sub(r"(?m)^  n_trials: \d+", f"  n_trials: {trials}", text)
    if group_size > 1:
        text = text.replace("  test_top: 0\n", f"  test_top: 0\n  group_size: {group_size}\n")
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def env() -> dict[str, str]:
    out = {**os.environ, "COLUMNS": "200"}
    out.pop("SWEEPNN_STORAGE", None)  # the default journal under --results, as a new user has
    return out


def run_baseline(trials: int, epochs: int, threads: int | None) -> dict:
    cmd = [sys.executable, "-c", _BASELINE_WRAPPER, str(BASELINE), "--trials", str(trials)]
    cmd += ["--epochs", str(epochs), "--device", "cpu"]
    if threads:
        cmd += ["--threads", str(threads)]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env()).stdout
    wall = time.perf_counter() - t0
    summary, sampled = (json.loads(line) for line in out.strip().splitlines()[-2:])
    return {
        "wall_s": wall,
        "loop_s": summary["seconds"],
        "trials": summary["trials"],
        "steps": steps(sampled["batch_sizes"], sampled["epochs"]),
        "best_val_accuracy": summary["best_val_accuracy"],
        "threads": summary["threads"],
    }


def run_sweepnn(recipe: Path, workers: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["sweepnn", "run", str(recipe), "--threads", "1", "--quiet", "--results", tmp]
        cmd += ["--workers", str(workers)]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env()).stdout
        wall = time.perf_counter() - t0
        with open(Path(tmp) / recipe.stem / "trials.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    loop = re.search(r"(\d+) trial\(s\) run in ([\d.]+)s", out)
    done = [r for r in rows if r["state"] == "complete"]
    # a trial that diverged stops early: its epochs column says how many it ran
    ran = [int(r["epochs"]) if r["epochs"] else 0 for r in rows]
    return {
        "wall_s": wall,
        "loop_s": float(loop.group(2)),
        "trials": len(rows),
        "steps": steps([int(r["train.batch_size"]) for r in rows], ran),
        "best_val_accuracy": max(float(r["val_accuracy"]) for r in done),
        "threads": 1,
    }


def summarize(name: str, runs: list[dict]) -> dict:
    wall = statistics.median(r["wall_s"] for r in runs)
    loop = statistics.median(r["loop_s"] for r in runs)
    accs = sorted({r["best_val_accuracy"] for r in runs})
    return {
        "variant": name,
        "runs": len(runs),
        "threads": runs[0]["threads"],
        "median_wall_s": round(wall, 2),
        "median_loop_s": round(loop, 2),
        "trials_per_minute": round(60 * runs[0]["trials"] / wall, 1),
        "loop_trials_per_minute": round(60 * runs[0]["trials"] / loop, 1),
        "steps_per_s": round(statistics.median(r["steps"] / r["loop_s"] for r in runs)),
        # deterministic on one thread, so every run should agree; a range would show it did not
        "best_val_accuracy": accs[0] if len(accs) == 1 else accs,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=10, help="the reference's own budget")
    ap.add_argument("--default-threads-repeats", type=int, default=1, help="baseline runs on torch's threads")
    ap.add_argument("--group-size", type=int, default=16)
    args = ap.parse_args()

    check_split()
    with tempfile.TemporaryDirectory() as tmp:
        plain = write_variant(Path(tmp), "handwritten", args.trials, args.epochs, 1)
        grouped = write_variant(
            Path(tmp), f"handwritten-g{args.group_size}", args.trials, args.epochs, args.group_size
        )
        variants = {
            "baseline": lambda: run_baseline(args.trials, args.epochs, 1),
            "sweepnn": lambda: run_sweepnn(plain),
            f"sweepnn-g{args.group_size}": lambda: run_sweepnn(grouped),
            # both cores, one thread each: what the baseline's default threads try to do
            "sweepnn-w2": lambda: run_sweepnn(plain, workers=2),
            f"sweepnn-w2-g{args.group_size}": lambda: run_sweepnn(grouped, workers=2),
        }
        # warm the page cache, the data caches and torch's kernels' first-call costs for every tool
        run_baseline(1, 1, 1)
        run_sweepnn(write_variant(Path(tmp), "warmup", 1, 1, 1))
        runs: dict[str, list[dict]] = {name: [] for name in [*variants, "baseline-default-threads"]}
        for r in range(args.repeats):
            names = list(variants) if r % 2 == 0 else list(reversed(variants))
            for name in names:
                runs[name].append(variants[name]())
            if r < args.default_threads_repeats:
                runs["baseline-default-threads"].append(run_baseline(args.trials, args.epochs, None))
    rows = {name: summarize(name, v) for name, v in runs.items() if v}
    for row in rows.values():
        print(json.dumps({"trials": args.trials, "epochs": args.epochs, **row}), flush=True)

    def ratio(a: str, b: str, key: str = "trials_per_minute") -> float | None:
        return round(rows[a][key] / rows[b][key], 2) if a in rows and b in rows else None

    ours = [name for name in rows if name.startswith("sweepnn")]
    figure: dict = {
        "figure": "sweepnn / hand-written sweep, trials per minute",
        "trials": args.trials,
        "epochs": args.epochs,
    }
    for name in ours:
        figure[f"{name}_vs_baseline_1_thread"] = ratio(name, "baseline")
        figure[f"{name}_vs_baseline_default_threads"] = ratio(name, "baseline-default-threads")
    for name in ours:
        figure[f"steps_per_s_{name}_vs_baseline_1_thread"] = ratio(name, "baseline", "steps_per_s")
    print(
        json.dumps(
            {
                **figure,
                "best_val_accuracy": {name: row["best_val_accuracy"] for name, row in rows.items()},
                "goal": ">= 2x trials per minute at equal best accuracy",
            }
        )
    )


if __name__ == "__main__":
    main()
