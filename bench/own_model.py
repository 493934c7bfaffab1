"""What a user's own network costs: `model: {name: "nets:mlp"}` (examples/own_model/nets.py, named by
import path) against the built-in `model: {name: mlp, depth: 4, width: 256}`, the same network.

Both are trained by `sweepnn.training.trainer.train` on the same preloaded MNIST-1D device tensors (5,000
examples, 5 epochs, Adam at 1e-3, batch 128, diagnostics on), one torch thread, in one process. The
factory in nets.py builds [linear, relu] x 4, linear, as the built-in does: the parameter shapes are
checked to be the same, and with the same init (he_normal) and seed the two train to the same weights,
so the final validation accuracies agree exactly. A third variant, the built-in again, is the noise
floor: two identical networks timed the same way differ by this much (a few percent on a shared
2-core machine), so the own model's ratio is read against it. All run once per round, the order
rotated by one place each round; figures are medians over --repeats rounds (a multiple of 3, so each
variant runs as often in each place), in wall and CPU seconds, and the fastest CPU time of each
(`min_ratio`), which other work on the machine disturbs least.

    python bench/own_model.py [--repeats 12] [--epochs 5]

Prints one JSON line per variant, then one with the ratio (goal: <= 1.05, or within the noise floor).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

torch.set_num_threads(1)

from sweepnn.options.models import MODELS  # noqa: E402
from sweepnn.options.own import add_code_folder  # noqa: E402
from sweepnn.recipe.config import Recipe  # noqa: E402
from sweepnn.training.data import Data, load_data  # noqa: E402
from sweepnn.training.trainer import train  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CPU = torch.device("cpu")
BUILT_IN, OWN, AGAIN = "built in: mlp 4x256", 'import path: "nets:mlp" 4x256', "built in, again"
MODELS_COMPARED = {
    BUILT_IN: {"name": "mlp", "depth": 4, "width": 256},
    # init as the built-in's default: without it the factory's own (torch's default) weights train
    OWN: {"name": "nets:mlp", "depth": 4, "width": 256, "init": "he_normal"},
    # the noise floor: the built-in against itself, timed the same way
    AGAIN: {"name": "mlp", "depth": 4, "width": 256},
}


def recipe(model: dict, epochs: int) -> Recipe:
    return Recipe.model_validate(
        {
            "name": "own-model-bench",
            "data": {"name": "mnist1d"},
            "model": model,
            "train": {"epochs": epochs, "batch_size": 128, "optimizer": {"name": "adam", "lr": 1e-3}},
        }
    )


def shapes(cfg: Recipe, data: Data) -> list[tuple[str, tuple[int, ...]]]:
    """Every parameter's and buffer's name and shape, in order: the same for the same network."""
    model = MODELS[cfg.model.name].build(cfg.model, data.input_shape, data.n_outputs)
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()

    add_code_folder(ROOT / "examples" / "own_model")  # as `sweepnn run` does for a recipe's folder
    cfgs = {name: recipe(model, args.epochs) for name, model in MODELS_COMPARED.items()}
    data = load_data(cfgs[BUILT_IN].data, CPU)
    same = shapes(cfgs[BUILT_IN], data) == shapes(cfgs[OWN], data)
    if not same:
        raise SystemExit("nets:mlp and the built-in mlp have different parameters: not the same network")
    scores: dict[str, float] = {}
    for cfg in cfgs.values():  # warm up kernels, the allocator and first-call costs
        train(cfg, CPU, data=data)
    times: dict[str, list[float]] = {name: [] for name in cfgs}
    cpu: dict[str, list[float]] = {name: [] for name in cfgs}
    for r in range(args.repeats):
        names = list(cfgs)
        for name in names[r % len(names) :] + names[: r % len(names)]:  # each in each place as often
            t0, c0 = time.perf_counter(), time.process_time()
            result = train(cfgs[name], CPU, data=data)
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
            scores[name] = result.metrics["val_accuracy"]
    base, base_cpu = statistics.median(times[BUILT_IN]), statistics.median(cpu[BUILT_IN])
    for name in cfgs:
        med, med_cpu = statistics.median(times[name]), statistics.median(cpu[name])
        print(
            json.dumps(
                {
                    "variant": name,
                    "epochs": args.epochs,
                    "repeats": args.repeats,
                    "median_s": round(med, 4),
                    "vs_built_in": round(med / base, 3),
                    "median_cpu_s": round(med_cpu, 4),
                    "cpu_vs_built_in": round(med_cpu / base_cpu, 3),
                    "val_accuracy": round(scores[name], 4),
                }
            ),
            flush=True,
        )
    per_round = [a / b for a, b in zip(times[OWN], times[BUILT_IN], strict=True)]
    print(
        json.dumps(
            {
                "figure": "own model by import path / the same network built in, one trial",
                "model": "mnist1d, mlp 4x256 (relu, he_normal), adam, batch 128, diagnostics on",
                "epochs": args.epochs,
                "same_parameter_shapes": same,
                "same_val_accuracy": scores[OWN] == scores[BUILT_IN],
                "ratio": round(statistics.median(times[OWN]) / base, 3),
                "median_of_per_round_ratios": round(statistics.median(per_round), 3),
                "cpu_ratio": round(statistics.median(cpu[OWN]) / base_cpu, 3),
                # the fastest of the repeats: the least disturbed by other work on the machine
                "min_ratio": round(min(cpu[OWN]) / min(cpu[BUILT_IN]), 3),
                "noise_floor_ratio": round(statistics.median(times[AGAIN]) / base, 3),
                "noise_floor_min_ratio": round(min(cpu[AGAIN]) / min(cpu[BUILT_IN]), 3),
                "goal": "<= 1.05, or within the noise floor",
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
