"""Cost of the convergence-speed figures (issue 17's goal: under 1% of a sweep's time).

Runs a real sweep of the quickstart recipe (--trials trials, its 20 epochs, one torch thread), then
times, side by side on the same study, what the speed figures add to reading it: the trials frame
(what trials.csv, the tables and the summary are written from) with the speed columns and without
(the frame's speed part is skipped by timing targets_for and speed_of on their own), and the
compare tables with `--target`. The sweep's own wall time is the denominator: the figures are read
from each trial's stored history, so training does no extra work for them.

    python bench/speed.py [--trials 12] [--repeats 20]

Prints one JSON line: the sweep's seconds, the seconds the speed figures take for the whole study
(median of --repeats), and that as a share of the sweep.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    import sweepnn
    from sweepnn.recipe.config import Recipe
    from sweepnn.recipe.loading import load
    from sweepnn.results import effects, speed_columns
    from sweepnn.results.tables import trials_frame
    from sweepnn.sweep.reading import load_studies, open_for_reading

    recipe = load(ROOT / "recipes" / "quickstart.yaml")
    raw = recipe.model_dump(mode="json")
    raw["search"]["n_trials"] = args.trials
    raw["search"]["test_top"] = 0
    raw["search"]["save_top"] = 0
    with tempfile.TemporaryDirectory() as tmp:
        storage = str(Path(tmp) / "s.journal")
        t0 = time.perf_counter()
        sweepnn.run(Recipe.model_validate(raw), storage=storage, results_dir=Path(tmp), threads=1)
        sweep_s = time.perf_counter() - t0
        stored = load_studies(open_for_reading(storage, Path(tmp)), None)
        s = stored[0]
        trials = s.study.get_trials(deepcopy=False)

        def figures() -> None:  # what the speed columns cost: the targets, then every trial's figures
            targets = speed_columns.targets_for(trials, s.recipe)
            for t in trials:
                if t.user_attrs.get("history"):
                    speed_columns.speed_of(t, targets, s.recipe)

        def compare_timed() -> None:  # compare --by train.optimizer.name --target (default target)
            target = effects.target_of(stored, None)
            df, direction = effects.trials_for(stored, ["train.optimizer"], None, target)
            effects.marginal(df, "train.optimizer", direction, s.metric)

        timings = {}
        for name, fn in (
            ("speed columns", figures),
            ("compare --target", compare_timed),
            ("trials frame", lambda: trials_frame(s.study, s.recipe)),
        ):
            fn()
            runs = []
            for _ in range(args.repeats):
                t1 = time.perf_counter()
                fn()
                runs.append(time.perf_counter() - t1)
            timings[name] = statistics.median(runs)
    cost = timings["speed columns"] + timings["compare --target"]
    print(
        json.dumps(
            {
                "trials": len(trials),
                "sweep_s": round(sweep_s, 2),
                "speed_columns_s": round(timings["speed columns"], 5),
                "compare_target_s": round(timings["compare --target"], 5),
                "trials_frame_s": round(timings["trials frame"], 5),
                "speed_share_of_sweep": f"{cost / sweep_s:.4%}",
            }
        )
    )


if __name__ == "__main__":
    main()
