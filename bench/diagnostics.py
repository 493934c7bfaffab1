"""Cost of the training-health diagnostics: train time with them on vs off, side by side.

Trains the same configuration with `train.diagnostics` true and false, alternating, median of
--repeats runs each, one torch thread. Default: the quickstart's base model (MNIST-1D, MLP 3x256);
--deep uses the 20-layer MLP of recipes/init_deep.yaml, where hooks and per-layer norms cost most.

    python bench/diagnostics.py [--repeats 15] [--epochs 20] [--deep]

Prints one JSON line: median seconds with and without diagnostics, and the overhead: the median of
each round's with/without ratio (beside the ratio of the medians and of the fastest runs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--epochs", type=int, default=20)  # the quickstart's: a trial's real length
    ap.add_argument("--deep", action="store_true")
    args = ap.parse_args()

    import torch

    from sweepnn.recipe.config import Recipe
    from sweepnn.recipe.loading import load
    from sweepnn.training.data import load_data
    from sweepnn.training.trainer import train

    torch.set_num_threads(1)
    base = load(ROOT / "recipes" / ("init_deep.yaml" if args.deep else "quickstart.yaml"))
    raw = base.model_dump()
    raw["train"]["epochs"] = args.epochs
    raw["model"]["init"] = {"name": "he_normal"}
    device = torch.device("cpu")
    data = load_data(base.data, device)
    configs = {}
    for on in (True, False):
        raw["train"]["diagnostics"] = on
        configs[on] = Recipe.model_validate(raw)
    times: dict[bool, list[float]] = {True: [], False: []}
    train(configs[True], device, data=data)  # warm up kernels and allocator
    for _ in range(args.repeats):
        for on in (True, False):
            t0 = time.perf_counter()
            train(configs[on], device, data=data)
            times[on].append(time.perf_counter() - t0)
    on, off = statistics.median(times[True]), statistics.median(times[False])
    # Each round trains both back to back: the ratio within a round cancels the machine's slow drift
    # (a shared 2-core box moves by more than the effect), and the median of those ratios is the figure.
    paired = statistics.median(a / b for a, b in zip(times[True], times[False], strict=True))
    print(
        json.dumps(
            {
                "model": f"{base.model.name} {base.model.depth}x{base.model.width} {base.data.name}",
                "epochs": args.epochs,
                "repeats": args.repeats,
                "seconds_with": round(on, 4),
                "seconds_without": round(off, 4),
                "overhead": f"{(paired - 1) * 100:+.1f}%",
                "overhead_of_medians": f"{(on / off - 1) * 100:+.1f}%",
                "overhead_of_fastest": f"{(min(times[True]) / min(times[False]) - 1) * 100:+.1f}%",
            }
        )
    )


if __name__ == "__main__":
    main()
