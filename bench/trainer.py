"""Trainer overhead: one trial through `sweepnn.training.trainer.train` against a minimal hand-written loop.

Both train the quickstart's base configuration (recipes/quickstart.yaml without its search: MNIST-1D,
MLP 3x128, ReLU, Adam at 1e-3, batch 128) for --epochs epochs, on the same preloaded device tensors
(`sweepnn.training.data.load_data`), one torch thread. The hand loop is what a careful user writes: batches
cut by `randperm` indices, the same network (`MODELS`), the same torch optimizer (`build_optimizer`,
so the same fused Adam), a validation forward after each epoch, nothing else. `train()` does more:
the recipe's schedule (cosine with a warmup: the learning rate set every step), diagnostics (on by
default), a divergence check of the loss every step, and training loss and accuracy per epoch.

The other variants say where train()'s extra time goes, from both ends: train() without diagnostics,
and without diagnostics on a constant schedule; the hand loop with train()'s extras added one at a
time (the optimizer over two parameter groups, as train() splits decayed and undecayed tensors; the
loss read every step to catch a divergence; training loss and accuracy summed on the device). All
variants run once per round, in an order that alternates between rounds; figures are medians over
--repeats rounds.

    python bench/trainer.py [--repeats 40] [--epochs 5] [--profile]

`--profile` adds cProfile's view of both paths: the functions where train() spends time that the
hand loop does not. Prints one JSON line per variant, then one with the goal ratio (goal <= 1.10).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

torch.set_num_threads(1)

from sweepnn.options.models import MODELS  # noqa: E402
from sweepnn.options.optimizers import build_optimizer  # noqa: E402
from sweepnn.recipe.config import Recipe  # noqa: E402
from sweepnn.recipe.loading import load  # noqa: E402
from sweepnn.training.data import Data, load_data  # noqa: E402
from sweepnn.training.trainer import train  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CPU = torch.device("cpu")


def configs(epochs: int) -> dict[str, Recipe]:
    """The quickstart's base configuration as train() gets it, and its two stripped-down variants."""
    raw = load(ROOT / "recipes" / "quickstart.yaml").model_dump()
    raw["train"]["epochs"] = epochs
    out = {"train": Recipe.model_validate(raw)}
    raw["train"]["diagnostics"] = False
    out["train, no diagnostics"] = Recipe.model_validate(raw)
    raw["train"]["schedule"] = {"name": "constant"}
    out["train, no diagnostics, constant lr"] = Recipe.model_validate(raw)
    return out


def hand_loop(cfg: Recipe, data: Data, extras: frozenset[str] = frozenset()) -> float:
    """The minimal loop, optionally with some of train()'s extras (EXTRAS) to measure what each costs.

    Returns the last epoch's validation accuracy.
    """
    t = cfg.train
    torch.manual_seed(t.seed)
    gen = torch.Generator().manual_seed(t.seed)
    model = MODELS[cfg.model.name].build(cfg.model, data.input_shape, data.n_outputs)
    params = list(model.parameters())
    if "two groups" in extras:  # as train() splits them: matrices decay, biases do not
        groups = [{"params": [p for p in params if p.dim() >= 2]}]
        groups.append({"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0})
    else:
        groups = [{"params": params}]
    opt = build_optimizer(t.optimizer, groups)
    x, y, n, bs = data.x_train, data.y_train, len(data.x_train), t.batch_size
    acc = 0.0
    for _ in range(t.epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        loss_sum = torch.zeros(())
        hits = torch.zeros((), dtype=torch.long)
        for i in range(0, n, bs):
            idx = order[i : i + bs]
            out = model(x[idx])
            loss = torch.nn.functional.cross_entropy(out, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if "loss check" in extras:  # train() reads every step's loss to catch a divergence
                loss.item()
            if "train metrics" in extras:  # ... and sums training loss and accuracy on the device
                loss_sum += loss.detach() * len(idx)
                hits += (out.detach().argmax(1) == y[idx]).sum()
        model.eval()
        with torch.no_grad():
            acc = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
    return acc


# train()'s extras over the minimal loop, added to it one at a time (cumulatively) in this order
EXTRAS = ("two groups", "loss check", "train metrics")


def profile(cfg: Recipe, data: Data, top: int = 15) -> list[dict]:
    """cProfile of train() and of the hand loop: cumulative seconds of the functions that differ."""
    import cProfile
    import pstats

    def stats_of(fn) -> dict[str, tuple[int, float, float, bool]]:
        prof = cProfile.Profile()
        prof.runcall(fn)
        out = {}
        for (file, line, name), (_cc, calls, tottime, cumtime, _) in pstats.Stats(prof).stats.items():
            where = f"{Path(file).name}:{line}({name})" if line else name
            out[where] = (calls, tottime, cumtime, f"sweepnn{os.sep}" in file)
        return out

    trained = stats_of(lambda: train(cfg, CPU, data=data))
    hand = stats_of(lambda: hand_loop(cfg, data))
    total = {"train": sum(v[1] for v in trained.values()), "hand": sum(v[1] for v in hand.values())}
    rows = [{"profile": "total self time (s)", **{k: round(v, 3) for k, v in total.items()}}]
    # sweepnn's own functions on the trainer's path, by cumulative time
    ours = sorted(((k, v) for k, v in trained.items() if v[3]), key=lambda kv: kv[1][2], reverse=True)
    for where, (calls, _tot, cum, _) in ours[:top]:
        rows.append({"profile": where, "calls": calls, "cum_s": round(cum, 3)})
    # calls the trainer makes more often, or spends longer in, than the hand loop: the per-step extras
    extra = []
    for where, (calls, tot, _cum, _) in trained.items():
        h = hand.get(where, (0, 0.0, 0.0, False))
        if tot - h[1] > 0.002:
            extra.append(
                {"profile": where, "calls": calls, "hand_calls": h[0], "extra_self_s": round(tot - h[1], 3)}
            )
    rows += sorted(extra, key=lambda r: r["extra_self_s"], reverse=True)[:top]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    # a trial is a quarter second: the extras cost a few percent each, so many rounds to tell them apart
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()

    cfgs = configs(args.epochs)
    base = cfgs["train"]
    data = load_data(base.data, CPU)
    variants = {name: (lambda c=c: train(c, CPU, data=data)) for name, c in cfgs.items()}
    variants["hand loop"] = lambda: hand_loop(base, data)
    for i in range(len(EXTRAS)):
        extras = frozenset(EXTRAS[: i + 1])
        variants["hand loop + " + " + ".join(EXTRAS[: i + 1])] = lambda e=extras: hand_loop(base, data, e)
    for fn in variants.values():  # warm up kernels, the allocator and first-call costs
        fn()
    # wall and CPU seconds: on a shared machine CPU time is the less disturbed of the two (a trial
    # that is descheduled waits in wall time only), so a ratio that agrees in both is trustworthy
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.repeats):
        for name in list(variants) if r % 2 == 0 else reversed(list(variants)):
            t0, c0 = time.perf_counter(), time.process_time()
            variants[name]()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    hand, hand_cpu = statistics.median(times["hand loop"]), statistics.median(cpu["hand loop"])
    for name, v in times.items():
        med, med_cpu = statistics.median(v), statistics.median(cpu[name])
        print(
            json.dumps(
                {
                    "variant": name,
                    "epochs": args.epochs,
                    "repeats": args.repeats,
                    "median_s": round(med, 4),
                    "vs_hand_loop": round(med / hand, 3),
                    "median_cpu_s": round(med_cpu, 4),
                    "cpu_vs_hand_loop": round(med_cpu / hand_cpu, 3),
                }
            ),
            flush=True,
        )
    per_round = [a / b for a, b in zip(times["train"], times["hand loop"], strict=True)]
    print(
        json.dumps(
            {
                "figure": "trainer overhead: train() / hand loop, one trial",
                "model": "quickstart base: mnist1d, mlp 3x128, adam, cosine+warmup, diagnostics on",
                "epochs": args.epochs,
                "ratio": round(statistics.median(times["train"]) / hand, 3),
                "median_of_per_round_ratios": round(statistics.median(per_round), 3),
                "cpu_ratio": round(statistics.median(cpu["train"]) / hand_cpu, 3),
                "goal": "<= 1.10",
            }
        ),
        flush=True,
    )
    if args.profile:
        for row in profile(base, data):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
