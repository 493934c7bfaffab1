"""GPU: sweepnn's CNN trainer on a CIFAR-shaped set, fp32 eager against bf16 autocast + channels_last.

On a CUDA device only (the device tool's machine, when a task is lent one); elsewhere it prints one
line saying so and exits 0, so `bench/all.py` can run it anywhere. Each variant trains the same
configuration through `sweepnn.training.trainer.train` (whole trials: steps, evaluation, diagnostics) on
random 3x32x32 images resident on the device, the two variants alternating, median of --repeats:

- fp32           train.precision fp32, NCHW
- bf16+nhwc      train.precision bf16, train.channels_last true

    python bench/gpu.py [--repeats 5] [--epochs 2] [--n 20000] [--batch 256] [--channels 64 128 256]

Prints one JSON line per variant (median seconds, training images per second), then the ratio
(goal >= 1.8x for bf16+nhwc over fp32).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--n", type=int, default=20_000, help="training images (and n/5 to validate)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--channels", type=int, nargs="+", default=[64, 128, 256])
    args = ap.parse_args()

    import torch

    if not torch.cuda.is_available():
        print(json.dumps({"figure": "gpu", "skipped": "no CUDA device on this machine"}))
        return

    from sweepnn.recipe.config import Recipe
    from sweepnn.training.data import Data
    from sweepnn.training.trainer import train

    device = torch.device("cuda")
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(args.n + args.n // 5, 3, 32, 32, generator=gen, device=device)
    y = torch.randint(0, 10, (len(x),), generator=gen, device=device)
    data = Data(x[: args.n], y[: args.n], x[args.n :], y[args.n :], None, None, "classification", 10, 0.1)

    def recipe(precision: str, channels_last: bool) -> Recipe:
        return Recipe(
            name="gpu",
            data={"name": "cifar10"},  # only names the kind of data; the tensors above are trained
            model={"name": "cnn", "channels": args.channels},
            train={
                "epochs": args.epochs,
                "batch_size": args.batch,
                "optimizer": {"name": "adam", "lr": 1e-3},
                "precision": precision,
                "channels_last": channels_last,
            },
        )

    variants = {"fp32": recipe("fp32", False), "bf16+nhwc": recipe("bf16", True)}
    for cfg in variants.values():  # cuDNN's autotuning and the allocator's first growth
        train(cfg, device, data=data)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.repeats):
        for name in list(variants) if r % 2 == 0 else list(reversed(variants)):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            train(variants[name], device, data=data)
            torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t0)
    medians = {name: statistics.median(v) for name, v in times.items()}
    for name, s in medians.items():
        print(
            json.dumps(
                {
                    "variant": name,
                    "device": torch.cuda.get_device_name(),
                    "channels": args.channels,
                    "epochs": args.epochs,
                    "repeats": args.repeats,
                    "median_s": round(s, 3),
                    "train_images_per_s": round(args.n * args.epochs / s),
                }
            )
        )
    print(
        json.dumps(
            {
                "figure": "gpu: bf16 autocast + channels_last / fp32 eager, CNN trainer",
                "speedup": round(medians["fp32"] / medians["bf16+nhwc"], 2),
                "goal": ">= 1.8",
            }
        )
    )


if __name__ == "__main__":
    main()
