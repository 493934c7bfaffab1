"""Torch CPU threads for one small trial: 1 vs 2 (vs N), side by side, on a quiet and on a busy machine.

Why sweepnn's `auto` uses one thread per worker on small machines. Trains the quickstart's base
configuration (MNIST-1D, MLP 3x256, Adam) for a few epochs, alternating thread counts, median of
--repeats runs each. `--busy` keeps one other process spinning on a core meanwhile, as happens on a
shared machine (or with a second worker).

    python bench/threads.py [--repeats 5] [--epochs 5] [--threads 1 2] [--busy]

Prints one JSON line per condition: median seconds per thread count and the ratio to 1 thread.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _spin(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def measure(threads: list[int], repeats: int, epochs: int) -> dict[int, float]:
    import torch

    from sweepnn.recipe.loading import load
    from sweepnn.recipe.variants import override
    from sweepnn.training.data import load_data
    from sweepnn.training.trainer import train

    recipe = load(ROOT / "recipes" / "quickstart.yaml")
    raw = override(recipe).model_dump()
    raw["train"]["epochs"] = epochs
    raw["train"]["schedule"] = {"name": "constant"}
    cfg = type(recipe).model_validate(raw)
    device = torch.device("cpu")
    data = load_data(cfg.data, device)
    times: dict[int, list[float]] = {n: [] for n in threads}
    for _ in range(repeats):
        for n in threads:  # alternate, so drift in machine load hits every count alike
            torch.set_num_threads(n)
            t0 = time.perf_counter()
            train(cfg, device, data=data)
            times[n].append(time.perf_counter() - t0)
    return {n: statistics.median(v) for n, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--busy", action="store_true", help="also measure with one core kept busy")
    args = ap.parse_args()
    for busy in [False, True] if args.busy else [False]:
        stop = mp.Event()
        spinner = mp.Process(target=_spin, args=(stop,)) if busy else None
        if spinner:
            spinner.start()
        try:
            med = measure(args.threads, args.repeats, args.epochs)
        finally:
            if spinner:
                stop.set()
                spinner.join()
        base = med[args.threads[0]]
        print(
            json.dumps(
                {
                    "machine": "busy (one core spinning)" if busy else "quiet",
                    "epochs": args.epochs,
                    "repeats": args.repeats,
                    "median_seconds": {str(n): round(s, 3) for n, s in med.items()},
                    "ratio_to_1_thread": {str(n): round(s / base, 2) for n, s in med.items()},
                }
            )
        )


if __name__ == "__main__":
    main()
