"""Cost of cutting batches from device-resident data, against the training step they feed.

sweepnn keeps a dataset as one tensor on the device and cuts each batch by indexing it with a slice
of a random permutation (no DataLoader, no workers). This measures that fetch, and the batched
augmentation, as a share of a whole training step (fetch, forward, backward, optimizer) on:

- MNIST-1D (the quickstart's MLP), and
- a CIFAR-shaped set (50,000 random 3x32x32 images, since the real one cannot be downloaded here)
  with sweepnn's default CNN, plus random crop and flip as augmentation.

    python bench/data.py [--repeats 7] [--steps 20]

Each figure is the median over --repeats rounds; in each round the fetch and the step are timed
side by side, over --steps steps, one torch thread. Prints one JSON line per setup.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def measure(label: str, x, y, model_cfg: dict, augment: dict, args) -> dict:
    """Median fetch, fetch + augmentation, and whole-step times for one dataset and model."""
    import torch

    from sweepnn.options.augment import Augment, active, augment_batch
    from sweepnn.options.models import MODELS

    gen = torch.Generator().manual_seed(0)
    model = MODELS[model_cfg["name"]].build(MODELS.parse(model_cfg), tuple(x.shape[1:]), 10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    steps = active(Augment.model_validate(augment))
    n, bs = len(x), args.batch

    def fetch(order, i):
        idx = order[i * bs : (i + 1) * bs]
        return x[idx], y[idx]

    def fetch_and_augment(order, i):
        return augment_batch(steps, fetch(order, i)[0], gen)

    def step(order, i):
        xb, yb = fetch(order, i)
        xb = augment_batch(steps, xb, gen)
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def timed(fn) -> float:
        order = torch.randperm(n, generator=gen)
        t0 = time.perf_counter()
        for i in range(args.steps):
            fn(order, i)
        return (time.perf_counter() - t0) / args.steps

    timed(step)  # warm up kernels and the allocator
    rounds: dict[str, list[float]] = {"fetch": [], "augment": [], "step": []}
    for _ in range(args.repeats):
        rounds["fetch"].append(timed(fetch))
        if steps:
            rounds["augment"].append(timed(fetch_and_augment))
        rounds["step"].append(timed(step))
    med = {k: statistics.median(v) for k, v in rounds.items() if v}
    out = {
        "setup": label,
        "batch": bs,
        "fetch_ms": round(med["fetch"] * 1e3, 3),
        "step_ms": round(med["step"] * 1e3, 2),
        "fetch_share": f"{med['fetch'] / med['step']:.2%}",
    }
    if "augment" in med:
        out["fetch_and_augment_ms"] = round(med["augment"] * 1e3, 3)
        out["fetch_and_augment_share"] = f"{med['augment'] / med['step']:.2%}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()

    import torch

    from sweepnn.options.datasets import DATASETS
    from sweepnn.training.data import load_data

    torch.set_num_threads(1)
    mnist1d = load_data(DATASETS.parse({"name": "mnist1d"}), torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    cifar_x = torch.rand(50_000, 3, 32, 32, generator=gen)
    cifar_y = torch.randint(0, 10, (50_000,), generator=gen)
    mlp = {"name": "mlp", "depth": 3, "width": 128}
    crop_flip = {"crop": {"padding": 4}, "flip": True}
    for result in (
        measure("mnist1d mlp 3x128", mnist1d.x_train, mnist1d.y_train, mlp, {}, args),
        measure("cifar-shaped cnn [32, 64]", cifar_x, cifar_y, {"name": "cnn"}, crop_flip, args),
    ):
        print(json.dumps(result))


if __name__ == "__main__":
    main()
