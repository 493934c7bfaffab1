"""Wall time of `sweepnn compare --by ...` over a storage of 10,000 trials.

Builds a journal file in-process with Optuna's add_trials (no training): two studies, one with
`norm: none` fixed and one with `norm: batchnorm`, each searching init, activation and the learning
rate, every trial with a 10-epoch history and 3 seed repeats, as `sweepnn run` would store them. Then
runs the real command as a subprocess, as a user would: the one-way table (`--by model.init`), the
two-way table (`--by model.init --by model.norm`, the norm read from each recipe), and `sweepnn list`.

    python bench/compare.py [--trials 10000] [--repeats 3]

Prints one JSON line: trials, journal size, seconds to build it, median seconds of each command.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIPE = """\
data: {{name: blobs, n_samples: 240, classes: 3}}
model: {{name: mlp, depth: 2, width: 64, norm: {norm}}}
train: {{epochs: 10, optimizer: {{name: adam, lr: 0.01}}}}
search:
  sampler: random
  repeats: 3
  space:
    model.init: [he_normal, xavier_uniform, small_normal, orthogonal]
    model.activation: [relu, tanh, gelu]
    train.optimizer.lr: {{low: 1e-4, high: 1e-1, log: true}}
"""


def build(path: Path, n: int, seed: int = 0) -> None:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import create_trial

    from sweepnn import record
    from sweepnn.recipe.loading import load_text
    from sweepnn.sweep.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(str(path), path.parent)
    rng = random.Random(seed)
    inits = ["he_normal", "xavier_uniform", "small_normal", "orthogonal"]
    activations = ["relu", "tanh", "gelu"]
    dists = {
        "model.init": CategoricalDistribution(inits),
        "model.activation": CategoricalDistribution(activations),
        "train.optimizer.lr": FloatDistribution(1e-4, 1e-1, log=True),
    }
    for norm in ("none", "batchnorm"):
        name = f"bench-{norm}"
        recipe = load_text(RECIPE.format(norm=norm), f"{name}.yaml", name)
        study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
        study.set_user_attr(record.STUDY_RECIPE, recipe.model_dump(mode="json"))
        trials = []
        for _ in range(n // 2):
            params = {"model.init": rng.choice(inits), "model.activation": rng.choice(activations)}
            params["train.optimizer.lr"] = 10 ** rng.uniform(-4, -1)
            seeds = [min(1.0, max(0.0, rng.gauss(0.7 + 0.1 * (norm == "batchnorm"), 0.08))) for _ in range(3)]
            value = sum(seeds) / 3
            history = [
                {"epoch": e, "val_accuracy": value * e / 10, "val_loss": 1 - value * e / 10, "lr": 0.01}
                for e in range(1, 11)
            ]
            attrs = {
                "params": params,
                "outcome": "ok",
                "reason": "",
                "epochs": 10,
                "seconds": rng.uniform(1, 3),
                "metrics": {"val_accuracy": value, "val_loss": 1 - value},
                "history": history,
                "repeats": [{"seed": i, "val_accuracy": v, "outcome": "ok"} for i, v in enumerate(seeds)],
            }
            trials.append(create_trial(value=value, params=params, distributions=dists, user_attrs=attrs))
        study.add_trials(trials)


def timed(args: list[str], repeats: int) -> float:
    env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "sweepnn", *args]
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each command; the median is reported")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "studies.journal"
        t0 = time.perf_counter()
        build(journal, args.trials)
        built = time.perf_counter() - t0
        storage = ["--storage", str(journal)]
        result = {
            "trials": args.trials,
            "journal_mb": round(journal.stat().st_size / 1e6, 1),
            "build_seconds": round(built, 1),
            "compare_by_one_seconds": timed(["compare", "--by", "model.init", *storage], args.repeats),
            "compare_by_two_seconds": timed(
                ["compare", "--by", "model.init", "--by", "model.norm", *storage], args.repeats
            ),
            "list_seconds": timed(["list", *storage], args.repeats),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
