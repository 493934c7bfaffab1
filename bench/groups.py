"""Trials per second: K configurations trained as one stacked group vs the same K one by one.

The quickstart's network (MNIST-1D, MLP 3x128, batch 128) for a few epochs; members differ in
seed, learning rate and Adam/AdamW (as a sweep's trials would). Each repeat trains the K
configurations with `train()` one after another, then as one `train_group()` call (the order
alternates between repeats, so drift in machine load hits both alike); medians of --repeats.
`--forward` also times one training step's forward and backward three ways: the stacked network's
batched matmuls (torch.baddbmm), torch.func.vmap over functional_call, and torch.einsum;
`--profile` shows where a K=16 group's time goes (torch.profiler, self CPU time per operator).

    python bench/groups.py [--k 4 16 64] [--repeats 5] [--epochs 3] [--forward] [--profile]

Prints one JSON line per K (and per forward variant): median wall and CPU seconds, trials per
second, and the group's speedup.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

torch.set_num_threads(1)  # one thread per worker, as sweepnn runs trials on a small CPU

from sweepnn.options.datasets import DATASETS  # noqa: E402
from sweepnn.recipe.config import Recipe  # noqa: E402
from sweepnn.training.data import load_data  # noqa: E402
from sweepnn.training.stacked.train import train_group  # noqa: E402
from sweepnn.training.trainer import train  # noqa: E402

CPU = torch.device("cpu")


def configs(k: int, epochs: int) -> list[Recipe]:
    out = []
    for i in range(k):
        lr = 10 ** (-3.5 + 1.5 * i / max(1, k - 1))  # 3e-4 .. 1e-2, as a log-uniform sweep spreads them
        opt = {"name": "adamw", "lr": lr, "weight_decay": 0.01} if i % 2 else {"name": "adam", "lr": lr}
        out.append(
            Recipe(
                name="bench",
                data=DATASETS.parse({"name": "mnist1d"}),
                model={"name": "mlp", "depth": 3, "width": 128},
                train={"epochs": epochs, "batch_size": 128, "seed": i, "optimizer": opt},
            )
        )
    return out


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(k: int, repeats: int, epochs: int) -> dict:
    cfgs = configs(k, epochs)
    data = load_data(cfgs[0].data, CPU)
    train(cfgs[0], CPU, data=data)  # warm up both paths once
    train_group(cfgs[:2], CPU, data=data)
    runs: dict[str, list[tuple[float, float]]] = {"single": [], "group": []}
    for r in range(repeats):
        order = ["single", "group"] if r % 2 == 0 else ["group", "single"]
        for mode in order:
            if mode == "single":
                runs[mode].append(timed(lambda: [train(c, CPU, data=data) for c in cfgs]))
            else:
                runs[mode].append(timed(lambda: train_group(cfgs, CPU, data=data)))
    wall = {m: statistics.median(w for w, _ in v) for m, v in runs.items()}
    cpu = {m: statistics.median(c for _, c in v) for m, v in runs.items()}
    return {
        "k": k,
        "epochs": epochs,
        "repeats": repeats,
        "median_wall_s": {m: round(v, 3) for m, v in wall.items()},
        "median_cpu_s": {m: round(v, 3) for m, v in cpu.items()},
        "trials_per_s": {m: round(k / v, 2) for m, v in wall.items()},
        "speedup_wall": round(wall["single"] / wall["group"], 2),
        "speedup_cpu": round(cpu["single"] / cpu["group"], 2),
        "speedup_per_repeat": [
            round(s[0] / g[0], 2) for s, g in zip(runs["single"], runs["group"], strict=True)
        ],
    }


def forward_variants(k: int, repeats: int) -> list[dict]:
    """One step's forward + backward of K stacked MLPs, three ways (median ms of many steps)."""
    import copy

    from torch.func import functional_call, stack_module_state, vmap

    from sweepnn.options.models import build_mlp
    from sweepnn.training.stacked.nets import StackedMLP

    cfgs = configs(k, 1)
    data = load_data(cfgs[0].data, CPU)
    models = []
    for c in cfgs:
        torch.manual_seed(c.train.seed)
        models.append(build_mlp(c.model, data.input_shape, data.n_outputs))
    x = data.x_train[:128].expand(k, 128, -1).contiguous()
    y = data.y_train[:128].expand(k, 128).contiguous()

    def loss_of(out):
        return torch.nn.functional.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="none").sum()

    net = StackedMLP(cfgs[0].model, models, [[0.0] * 3] * k, torch.Generator())

    def stacked():
        net.backward(loss_of(net.forward(x, training=True)))

    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def vmapped():
        out = vmap(lambda p, b, xx: functional_call(base, (p, b), (xx,)))(params, buffers, x)
        torch.autograd.grad(loss_of(out), list(params.values()))

    ws = [params[f"{i}.weight"] for i in (1, 3, 5, 7)]
    bs = [params[f"{i}.bias"] for i in (1, 3, 5, 7)]

    def einsum():
        h = x
        for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
            h = torch.einsum("kbi,koi->kbo", h, w) + b.unsqueeze(1)
            h = torch.relu(h) if i < 3 else h
        torch.autograd.grad(loss_of(h), ws + bs)

    variants = {
        "baddbmm (sweepnn.training.stacked.nets)": stacked,
        "vmap(functional_call)": vmapped,
        "einsum": einsum,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats * 20):
        for name, fn in variants.items():
            times[name].append(timed(fn)[0])
    return [
        {"k": k, "forward_backward": name, "median_ms": round(statistics.median(v) * 1e3, 2)}
        for name, v in times.items()
    ]


GEMMS = ("aten::bmm", "aten::baddbmm", "aten::mm", "aten::addmm")


def _profiled(fn) -> list:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    fn()  # warm
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)


def profile(k: int, epochs: int, top: int = 12) -> list[dict]:
    """Where a group's time goes (torch.profiler's operators by self CPU time, as shares), against
    the same K trials one by one: the matrix products are work both must do, so the group's speedup
    is bounded by (the K trials' whole time) / (the group's time in matrix products)."""
    cfgs = configs(k, epochs)
    data = load_data(cfgs[0].data, CPU)
    ms = {}
    for name, fn in (
        ("group", lambda: train_group(cfgs, CPU, data=data)),
        ("one by one", lambda: [train(c, CPU, data=data) for c in cfgs]),
    ):
        events = _profiled(fn)
        total = sum(e.self_cpu_time_total for e in events) / 1e3
        gemm = sum(e.self_cpu_time_total for e in events if e.key in GEMMS) / 1e3
        ms[name] = (total, gemm, events)
    (g_total, g_gemm, events), (s_total, s_gemm, _) = ms["group"], ms["one by one"]
    rows = [
        {
            "k": k,
            "profile": "matrix products (bmm, baddbmm; mm, addmm one by one)",
            "group_ms": round(g_gemm, 1),
            "group_share": round(g_gemm / g_total, 3),
            "one_by_one_ms": round(s_gemm, 1),
            "one_by_one_share": round(s_gemm / s_total, 3),
            "total_ms": {"group": round(g_total, 1), "one_by_one": round(s_total, 1)},
            # if the group did nothing but its matrix products, this would be its speedup
            "speedup_bound": round(s_total / g_gemm, 2),
        }
    ]
    rows += [
        {
            "k": k,
            "profile": e.key,
            "self_ms": round(e.self_cpu_time_total / 1e3, 1),
            "calls": e.count,
            "share": round(e.self_cpu_time_total / (g_total * 1e3), 3),
        }
        for e in events[:top]
    ]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, nargs="*", default=[4, 16, 64], help="group sizes (none: skip)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--forward", action="store_true", help="also time forward+backward variants")
    ap.add_argument("--profile", action="store_true", help="also profile one K=16 group")
    args = ap.parse_args()
    if args.forward:
        for row in forward_variants(16, args.repeats):
            print(json.dumps(row), flush=True)
    if args.profile:
        for row in profile(16, args.epochs):
            print(json.dumps(row), flush=True)
    for k in args.k:
        print(json.dumps(compare(k, args.repeats, args.epochs)), flush=True)


if __name__ == "__main__":
    main()
