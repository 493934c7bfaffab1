"""Pruning efficiency: epochs spent before a sweep finds a near-best trial, with and without pruning.

The quickstart (recipes/quickstart.yaml, TPE) runs twice per seed with the same seed: with a pruner (by
default sweepnn's default, median with its defaults; `--pruner recipe` keeps the quickstart's, which waits
5 epochs) and with `pruner: none`. The bar is the
unpruned run's best validation accuracy minus 0.2 points (0.002). For each run, the epochs spent is
the sum over trials, in trial order, of the epochs each trained (the `epochs` column of trials.csv),
up to and including the first complete trial at or above the bar. The figure is the ratio
pruned / unpruned; goal <= 0.33. Both runs sample the same trials until the first one is pruned;
after that TPE sees different histories, so the pruned run may reach the bar sooner, later or never
(reported as such, with its best). Epochs, not trials, are what the figure counts, so the pruned
run is given --pruned-budget times the trials (default 3): a pruner's point is to try more
configurations for the same epochs, and a pruned run capped at the unpruned run's trial count could
miss the bar only for want of trials it would have had epochs for.

Epochs are counted, not timed, so machine load does not change the figure; wall seconds are shown
for interest. The default budget (20 trials, 3 seeds) keeps the run near three minutes; the
quickstart's own is `--trials 30`.

    python bench/pruning.py [--seeds 0 1 2] [--trials 20] [--epochs 20] [--pruner median]
                            [--pruned-budget 3]

Prints one JSON line per seed, then one with the median ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml

torch.set_num_threads(1)

from sweepnn.recipe.loading import load  # noqa: E402
from sweepnn.results.files import write_results  # noqa: E402
from sweepnn.sweep.runner import RunOptions, run  # noqa: E402
from sweepnn.sweep.study import Quiet  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MARGIN = 0.002  # 0.2 points of accuracy


def sweep(
    seed: int, trials: int, epochs: int, pruned: bool, results: Path, pruner: str = "recipe"
) -> tuple[list[dict], float]:
    """The quickstart with this seed and budget, with a pruner or none: (trials.csv rows, seconds).

    `pruner`: "recipe" keeps the quickstart's (median after a 5-epoch warmup); a registry name
    (median, successive_halving, hyperband, ...) uses that pruner with its defaults, which for
    median is what a recipe without a pruner gets."""
    recipe = load(ROOT / "recipes" / "quickstart.yaml")
    raw = recipe.model_dump()
    raw["name"] = f"quickstart-{'pruned' if pruned else 'unpruned'}-{seed}"
    raw["train"]["seed"] = seed  # seeds the sampler as well as training
    raw["train"]["epochs"] = epochs
    raw["search"]["n_trials"] = trials
    raw["search"]["test_top"] = 0
    if not pruned:
        raw["search"]["pruner"] = {"name": "none"}
    elif pruner != "recipe":  # a name, or a YAML mapping: "{name: median, n_startup_trials: 2}"
        spec = yaml.safe_load(pruner)
        raw["search"]["pruner"] = spec if isinstance(spec, dict) else {"name": spec}
    cfg = type(recipe).model_validate(raw)
    t0 = time.perf_counter()
    run(cfg, RunOptions(results_dir=results, device="cpu", threads=1, write=write_results), Quiet())
    seconds = time.perf_counter() - t0
    with open(results / cfg.name / "trials.csv", newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["number"]))
    return rows, seconds


def best(rows: list[dict]) -> float:
    return max(float(r["val_accuracy"]) for r in rows if r["state"] == "complete")


def epochs_until(rows: list[dict], bar: float) -> tuple[int | None, int | None]:
    """(epochs spent up to the first complete trial at or above `bar`, its number); Nones if none."""
    spent = 0
    for r in rows:
        spent += int(r["epochs"] or 0)
        if r["state"] == "complete" and float(r["val_accuracy"]) >= bar:
            return spent, int(r["number"])
    return None, None


def best_within(rows: list[dict], epochs: int) -> float | None:
    """The best complete trial's value among the trials that ran within the first `epochs` epochs."""
    spent, best_value = 0, None
    for r in rows:
        spent += int(r["epochs"] or 0)
        if spent > epochs:
            break
        if r["state"] == "complete":
            v = float(r["val_accuracy"])
            best_value = v if best_value is None else max(best_value, v)
    return best_value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--trials", type=int, default=20, help="the quickstart's own budget is 30")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument(
        "--pruner", default="median", help="recipe (the quickstart's), a pruner name, or a YAML mapping"
    )
    ap.add_argument("--pruned-budget", type=int, default=3, help="the pruned run's trials, x --trials")
    args = ap.parse_args()

    ratios: list[float] = []
    for i, seed in enumerate(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            out: dict[bool, tuple[list[dict], float]] = {}
            for pruned in (True, False) if i % 2 == 0 else (False, True):
                budget = args.trials * (args.pruned_budget if pruned else 1)
                out[pruned] = sweep(seed, budget, args.epochs, pruned, Path(tmp), args.pruner)
        (p_rows, p_s), (u_rows, u_s) = out[True], out[False]
        bar = round(best(u_rows) - MARGIN, 6)
        p_spent, p_at = epochs_until(p_rows, bar)
        u_spent, u_at = epochs_until(u_rows, bar)
        ratio = round(p_spent / u_spent, 3) if p_spent is not None else None
        if ratio is not None:
            ratios.append(ratio)
        print(
            json.dumps(
                {
                    "seed": seed,
                    "pruner": args.pruner,
                    "trials": args.trials,
                    "pruned_trials_budget": args.trials * args.pruned_budget,
                    "epochs": args.epochs,
                    "bar_val_accuracy": bar,
                    "unpruned": {
                        "epochs_to_bar": u_spent,
                        "at_trial": u_at,
                        "total_epochs": sum(int(r["epochs"] or 0) for r in u_rows),
                        "best": best(u_rows),
                        "seconds": round(u_s, 1),
                    },
                    "pruned": {
                        "epochs_to_bar": p_spent,
                        "at_trial": p_at,
                        "total_epochs": sum(int(r["epochs"] or 0) for r in p_rows),
                        "best": best(p_rows),
                        "pruned_trials": sum(r["state"] == "pruned" for r in p_rows),
                        # the other view of a pruner's worth: how good a sweep gets for the same epochs
                        "best_within_unpruned_epochs": best_within(
                            p_rows, sum(int(r["epochs"] or 0) for r in u_rows)
                        ),
                        "seconds": round(p_s, 1),
                    },
                    "ratio": ratio if ratio is not None else "pruned run never reached the bar",
                }
            ),
            flush=True,
        )
    never = len(args.seeds) - len(ratios)
    # a seed whose pruned run never reached the bar counts as an infinite ratio, not as no data
    median = statistics.median(ratios + [math.inf] * never)
    print(
        json.dumps(
            {
                "figure": "pruning: epochs to a near-best trial, pruned / unpruned",
                "seeds": args.seeds,
                "median_ratio": median if math.isfinite(median) else "never reached the bar",
                "seeds_never_reaching_bar": never,
                "goal": "<= 0.33",
            }
        )
    )


if __name__ == "__main__":
    main()
