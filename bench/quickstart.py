"""Wall time and best accuracy of `sweepnn run recipes/quickstart.yaml`, from a fresh study.

Runs the real command in a subprocess, into a temporary results folder, as a new user would.

    python bench/quickstart.py [--repeats 1]

Prints one JSON line per run: wall seconds, trials by state, best validation accuracy.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--recipe", default=str(ROOT / "recipes" / "quickstart.yaml"))
    args = ap.parse_args()
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "sweepnn", "run", args.recipe, "--results", tmp, "--quiet"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            wall = time.perf_counter() - t0
            folder = next(p for p in Path(tmp).iterdir() if p.is_dir())
            with open(folder / "trials.csv", newline="") as f:
                rows = list(csv.DictReader(f))
        best = max(float(r["val_accuracy"]) for r in rows if r["state"] == "complete")
        print(
            json.dumps(
                {
                    "recipe": Path(args.recipe).name,
                    "wall_seconds": round(wall, 1),
                    "trials": dict(Counter(r["state"] for r in rows)),
                    "best_val_accuracy": round(best, 4),
                }
            )
        )


if __name__ == "__main__":
    main()
