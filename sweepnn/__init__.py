"""sweepnn: which training techniques make this network train well?

The command line is `sweepnn`. From Python, the same job in three calls, and a fourth for what a sweep
kept, each imported on first use (so `import sweepnn` costs nothing until then):

    recipe = sweepnn.load("recipe.yaml")              # YAML -> a validated, frozen Recipe
    summary, written = sweepnn.run(recipe)            # its Optuna sweep; results/<study>/ written
    result = sweepnn.train(recipe)                    # or one trial of the recipe's own settings
    net = sweepnn.load_model("results/s/models/trial-3")  # a kept trial's network, trained, in eval mode

Every error a user can act on is a `sweepnn.SweepnnError` (bad input: `InputError`, exit code 2).
The packages, bottom to top: options (the registries), recipe, data, training, sweep (the only one
that imports Optuna), results, cli; docs/layout.md draws them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from sweepnn.errors import InputError, SweepnnError
    from sweepnn.recipe.config import Recipe
    from sweepnn.recipe.loading import load, load_text
    from sweepnn.training.weights import load_model

# name -> the module that defines it: imported when first asked for
_LAZY = {
    "load": "sweepnn.recipe.loading",
    "load_text": "sweepnn.recipe.loading",
    "load_model": "sweepnn.training.weights",
    "Recipe": "sweepnn.recipe.config",
    "SweepnnError": "sweepnn.errors",
    "InputError": "sweepnn.errors",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sweepnn' has no attribute {name!r}")


def run(recipe: Recipe, events: Any = None, track: list[str] | tuple[str, ...] = (), **options: Any):
    """Run (or resume) the recipe's sweep, as `sweepnn run` does, and write its result files.

    `options` are the fields of sweepnn.sweep.runner.RunOptions (results_dir, storage, device, threads,
    fresh, workers, ...); `events` hears the sweep's progress (sweepnn.sweep.study.Events; by default
    nothing is printed); `track` names trackers each trial is written to too, as `--track` does
    ("tensorboard", "mlflow"). Returns (the sweep's summary, the files written)."""
    from pathlib import Path

    from sweepnn.results.files import write_results
    from sweepnn.results.trackers import Tracking, caught_up, open_trackers
    from sweepnn.sweep.runner import RunOptions
    from sweepnn.sweep.runner import run as run_sweep
    from sweepnn.sweep.study import Quiet

    if "results_dir" in options:
        options["results_dir"] = Path(options["results_dir"])
    opts = RunOptions(**{"write": write_results, **options})
    events = events or Quiet()
    if track:
        events = Tracking(events, open_trackers(list(track), recipe, opts.results_dir), recipe)
    summary, written = run_sweep(recipe, opts, events)
    caught_up(events, summary.study)
    return summary, written


def train(recipe: Recipe, device: str = "auto"):
    """Train one network with the recipe's own settings (no search) and return its TrialResult: the
    outcome sweepnn diagnoses, the final metrics, every epoch's history and the trained model."""
    from sweepnn.training.devices import resolve_device
    from sweepnn.training.trainer import train as train_one

    return train_one(recipe, resolve_device(device))


__all__ = [
    "InputError",
    "Recipe",
    "SweepnnError",
    "__version__",
    "load",
    "load_model",
    "load_text",
    "run",
    "train",
]
