"""Run every benchmark and write BENCHMARKS.md: each figure, its goal, the number measured, whether
the goal was met, and the command that reproduces it, with the machine it ran on.

Each bench runs as a subprocess, one after another (never two at once: they would slow each other),
with the modest defaults below, and prints one JSON line per figure; this script reads those lines.
A bench that fails is reported as failed, with the end of its error output, and the others still run.

    python bench/all.py [--only trainer startup ...] [--out BENCHMARKS.md] [--full]

About 20 minutes on a 2-core machine (--full: the reference budgets where the defaults shrink them,
about 15 minutes more). Every figure from the new benches is a ratio of two
things measured side by side, alternating, median of at least 5 repeats (see each script's
docstring); a few figures of the older benches are absolute times, marked as such.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Figure:
    name: str
    measured: str
    goal: str = "none set (for information)"
    met: bool | None = None  # None: no goal to meet


@dataclass
class Bench:
    script: str
    args: list[str]
    what: str
    figures: Callable[[list[dict]], list[Figure]]

    @property
    def command(self) -> str:
        return shlex.join(["python", f"bench/{self.script}", *self.args])


def _last(rows: list[dict], key: str) -> dict:
    return next(r for r in reversed(rows) if key in r)


def _pct(text: str) -> float:
    return float(text.rstrip("%").lstrip("+"))


# ---- each bench's JSON lines as figures ------------------------------------------------------------

# Each best accuracy is one deterministic sweep's: "equal" allows a point less, and any amount more.
EQUAL_ACCURACY = 0.01


def _threads(n: int) -> str:
    return "1 thread" if n == 1 else f"{n} threads"


def sweep_figures(rows: list[dict]) -> list[Figure]:
    r = _last(rows, "figure")
    acc = r["best_val_accuracy"]
    variants = {row["variant"]: row for row in rows if "variant" in row}
    out = []
    ours = [k for k in variants if k.startswith("sweepnn")]
    pairs = [(name, ref) for ref in ("baseline", "baseline-default-threads") for name in ours]
    for name, ref in pairs:
        ratio = r.get(f"{name}_vs_{'baseline_1_thread' if ref == 'baseline' else 'baseline_default_threads'}")
        if ratio is None:
            continue
        a, b = acc[name], acc[ref]
        equal = isinstance(a, float) and isinstance(b, float) and a >= b - EQUAL_ACCURACY
        runs = variants[ref]["runs"]
        out.append(
            Figure(
                f"trials/min, {name} vs hand-written ({_threads(variants[ref]['threads'])}"
                f"{', 1 run' if runs == 1 else ''}), {r['trials']} trials x {r['epochs']} epochs",
                f"{ratio}x ({variants[name]['trials_per_minute']} vs {variants[ref]['trials_per_minute']}"
                f" trials/min); best val acc {a} vs {b}",
                f">= 2x at equal best accuracy (at most {EQUAL_ACCURACY} below)",
                ratio >= 2 and equal,
            )
        )
    for key in (k for k in r if k.startswith("steps_per_s_")):
        out.append(
            Figure(
                key.removeprefix("steps_per_s_").replace("_", " ") + ", training steps per second",
                f"{r[key]}x (throughput with the sampled batch sizes taken out)",
            )
        )
    return out


def trainer_figures(rows: list[dict]) -> list[Figure]:
    r = _last(rows, "figure")
    parts = "; ".join(f"{row['variant']} {row['vs_hand_loop']}x" for row in rows if "variant" in row)
    return [
        Figure(
            f"trainer overhead: train() / minimal hand loop, one trial ({r['epochs']} epochs)",
            f"{r['ratio']}x (CPU time {r['cpu_ratio']}x)",
            "<= 1.10x",
            r["ratio"] <= 1.10,
        ),
        Figure("trainer overhead, where it goes (each vs the hand loop)", parts),
    ]


def orchestration_figures(rows: list[dict]) -> list[Figure]:
    r = _last(rows, "figure")
    windows = [row for row in rows if "mean_overhead_ms" in row and "study_trials" in row]
    writes = next((row for row in rows if row.get("figure") == "write_results"), None)
    out = [
        Figure(
            f"orchestration per trial at trials {r['at_trials']} / quickstart median trial",
            f"{r['share']} ({r['mean_overhead_ms']} ms of {r['quickstart_median_trial_s']} s)",
            "<= 5% at 1,000 trials",
            _pct(r["share"]) <= 5,
        )
    ]
    for w in windows:
        out.append(
            Figure(
                f"orchestration per trial, trials {w['trials']} of {w['study_trials']}",
                f"mean {w['mean_overhead_ms']} ms, median {w['median_overhead_ms']} ms,"
                f" max {w['max_overhead_ms']} ms",
            )
        )
    if writes:
        out.append(Figure(f"write_results at {writes['study_trials']} trials", f"{writes['median_s']} s"))
    return out


def pruning_figures(rows: list[dict]) -> list[Figure]:
    r = _last(rows, "figure")
    med = r["median_ratio"]
    per_seed = "; ".join(
        f"seed {row['seed']}: {row['ratio']}"
        + (
            f" ({row['pruned']['epochs_to_bar']} vs {row['unpruned']['epochs_to_bar']} epochs)"
            if isinstance(row["ratio"], float)
            else f" (best {row['pruned']['best']} vs bar {row['bar_val_accuracy']})"
        )
        for row in rows
        if "seed" in row
    )
    equal = "; ".join(
        f"seed {row['seed']}: {row['pruned']['best_within_unpruned_epochs']} vs {row['unpruned']['best']}"
        for row in rows
        if "seed" in row and "best_within_unpruned_epochs" in row["pruned"]
    )
    extra = [Figure("pruning: best val acc within the unpruned run's epochs, pruned vs none", equal)]
    return [
        *(extra if equal else []),
        Figure(
            "pruning: epochs to a near-best trial, median pruner / none (median over seeds)",
            f"{med}" + (f"x; {per_seed}" if per_seed else ""),
            "<= 0.33x",
            isinstance(med, float) and med <= 0.33,
        ),
    ]


def startup_figures(rows: list[dict]) -> list[Figure]:
    r = _last(rows, "figure")
    times = {row["command"]: row["median_s"] for row in rows if "command" in row}
    torch_s = times['python -c "import torch"']
    out = []
    for label, key, flag in (
        ("sweepnn --help", "help_vs_import_torch", "help_imports_torch_or_optuna"),
        (
            "sweepnn validate recipes/quickstart.yaml",
            "validate_vs_import_torch",
            "validate_imports_torch_or_optuna",
        ),
    ):
        out.append(
            Figure(
                f'`{label}` wall time / `python -c "import torch"`',
                f"{r[key]}x ({times[label]} s vs {torch_s} s); imports torch or optuna: {r[flag]}",
                "imports neither torch nor optuna (STYLE.md: lazy imports, `--help` instant)",
                not r[flag] and r[key] < 1,
            )
        )
    return out


def diagnostics_figures(rows: list[dict]) -> list[Figure]:
    r = rows[-1]
    return [
        Figure(
            f"diagnostics on / off, train time ({r['model']}, {r['epochs']} epochs)",
            f"{r['overhead']} ({r['seconds_with']} s vs {r['seconds_without']} s)",
            "< 5% of training time (issue 3)",
            _pct(r["overhead"]) < 5,
        )
    ]


def own_model_figures(rows: list[dict]) -> list[Figure]:
    r = _last(rows, "figure")
    return [
        Figure(
            "own model by import path / the same network built in, train time (mlp 4x256, mnist1d)",
            f"{r['ratio']}x median, {r['min_ratio']}x fastest runs (noise floor: built in against itself"
            f" {r['noise_floor_ratio']}x, {r['noise_floor_min_ratio']}x)",
            "equal speed: <= 1.05x, or within the noise floor (issue 15)",
            min(r["ratio"], r["min_ratio"]) <= max(1.05, r["noise_floor_min_ratio"] + 0.02),
        )
    ]


def data_figures(rows: list[dict]) -> list[Figure]:
    out = []
    for r in rows:
        extra = (
            f"; with augmentation {r['fetch_and_augment_share']}" if "fetch_and_augment_share" in r else ""
        )
        out.append(
            Figure(
                f"batch fetch / training step, {r['setup']}",
                f"{r['fetch_share']} ({r['fetch_ms']} ms of {r['step_ms']} ms){extra}",
                "< 5% of a training step (issue 4)",
                _pct(r["fetch_share"]) < 5 and _pct(r.get("fetch_and_augment_share", "0%")) < 5,
            )
        )
    return out


def compare_figures(rows: list[dict]) -> list[Figure]:
    r = rows[-1]
    return [
        Figure(
            f"`sweepnn compare` / `list` over {r['trials']:,} trials (absolute, median of runs)",
            f"--by one {r['compare_by_one_seconds']} s, --by two {r['compare_by_two_seconds']} s,"
            f" list {r['list_seconds']} s (journal {r['journal_mb']} MB)",
        )
    ]


def restart_figures(rows: list[dict]) -> list[Figure]:
    r = _last(rows, "figure")
    med, worst, ratio = r["median_seconds"], r["worst_seconds"], r["vs_clean"]
    return [
        Figure(
            f"start to first trial {case}, default journal ({r['rounds']} starts)",
            f"{med[case]} s median, {worst[case]} s worst; {ratio[case]}x a clean start ({med['clean']} s)",
            "within seconds of a clean start (issue 12)",
            worst[case] < 10 * med["clean"],
        )
        for case in med
        if case != "clean"
    ]


def groups_figures(rows: list[dict]) -> list[Figure]:
    return [
        Figure(
            f"stacked group of K={r['k']} / the same K trials one by one ({r['epochs']} epochs)",
            f"{r['speedup_wall']}x faster wall, {r['speedup_cpu']}x CPU"
            f" ({r['trials_per_s']['group']} vs {r['trials_per_s']['single']} trials/s)",
            *(("trials/s >= 2.5x at K = 16 (issue 7)", r["speedup_wall"] >= 2.5) if r["k"] == 16 else ()),
        )
        for r in rows
        if "speedup_wall" in r
    ]


def gpu_figures(rows: list[dict]) -> list[Figure]:
    r = _last(rows, "figure")
    if "skipped" in r:  # no CUDA device: the GPU paragraph of the report says so
        return []
    per = "; ".join(
        f"{row['variant']} {row['train_images_per_s']} images/s" for row in rows if "variant" in row
    )
    device = next(row["device"] for row in rows if "device" in row)
    return [
        Figure(
            f"GPU ({device}): CNN trainer, bf16 autocast + channels_last / fp32 eager",
            f"{r['speedup']}x ({per})",
            ">= 1.8x (issue 7)",
            r["speedup"] >= 1.8,
        )
    ]


def quickstart_figures(rows: list[dict]) -> list[Figure]:
    return [
        Figure(
            "`sweepnn run recipes/quickstart.yaml`, wall time (absolute, one run)",
            f"{r['wall_seconds']} s, trials {r['trials']}, best val acc {r['best_val_accuracy']}",
            "< 2 minutes on a 2-core CPU (issue 2)",
            r["wall_seconds"] < 120,
        )
        for r in rows
    ]


BENCHES = {
    "sweep_vs_handwritten": Bench(
        "sweep_vs_handwritten.py", [], "sweepnn against a hand-written Optuna sweep", sweep_figures
    ),
    "trainer": Bench(
        "trainer.py", ["--profile"], "one trial through train() against a minimal loop", trainer_figures
    ),
    "orchestration": Bench(
        "orchestration.py", [], "sampler, storage and bookkeeping per trial", orchestration_figures
    ),
    "pruning": Bench("pruning.py", [], "epochs saved by the median pruner", pruning_figures),
    "startup": Bench("startup.py", [], "CLI start-up", startup_figures),
    "diagnostics": Bench("diagnostics.py", [], "cost of diagnostics", diagnostics_figures),
    "diagnostics_deep": Bench(
        "diagnostics.py", ["--deep"], "cost of diagnostics, 20-layer MLP", diagnostics_figures
    ),
    "data": Bench("data.py", [], "batches cut from device tensors", data_figures),
    "own_model": Bench(
        "own_model.py", [], "a network by import path against the built-in", own_model_figures
    ),
    "compare": Bench("compare.py", ["--repeats", "5"], "result commands on a large storage", compare_figures),
    "groups": Bench("groups.py", ["--profile"], "vectorized trial groups", groups_figures),
    "quickstart": Bench("quickstart.py", [], "the quickstart end to end", quickstart_figures),
    "gpu": Bench("gpu.py", [], "the CNN trainer on a GPU", gpu_figures),
    "restart": Bench("restart.py", [], "a run's start after a crash", restart_figures),
}

# --full: the references' own budgets where the defaults shrink them (about 15 minutes more)
FULL = {"pruning": ["--trials", "30"]}

GPU = """\
## GPU: not measured — this run had no CUDA device

The GPU figures (bf16 autocast and channels_last against fp32 eager, images per second, on a CNN:
`python bench/gpu.py`; stacked groups at K = 64) need a CUDA device; none was available to this
run, so they are open. Nothing in this file says anything about GPU throughput.
"""


# ---- the machine and the report --------------------------------------------------------------------


def machine() -> dict[str, str]:
    import optuna
    import torch

    cpu = "unknown"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()

    return {
        "nproc": str(cores),
        "CPU": cpu,
        "torch": torch.__version__,
        "optuna": optuna.__version__,
        "Python": platform.python_version(),
        "commit": (git("rev-parse", "--short", "HEAD") or "unknown")
        + (" (with uncommitted changes)" if git("status", "--porcelain") else ""),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def run_bench(bench: Bench) -> tuple[list[dict], float, str | None]:
    """(its JSON lines, seconds, error text or None)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / bench.script), *bench.args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
    )
    seconds = time.perf_counter() - t0
    rows = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            rows.append(json.loads(line))
    if proc.returncode != 0:
        return rows, seconds, f"exit {proc.returncode}: " + proc.stderr.strip()[-1500:]
    return rows, seconds, None


def status(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "—"}[met]


def report(info: dict[str, str], results: dict[str, tuple[Bench, list[dict], float, str | None]]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `python bench/all.py`; every number below comes from its runs on the machine below",
        "(with `--reuse`, the benches it did not rerun are read from an earlier run's log). Each prints",
        "one JSON line per figure (quoted under *Raw output*); its docstring says what is measured and how.",
        "The machine is shared and noisy: ratios are of two things measured side by side, alternating,",
        "medians of repeats, one torch thread unless a figure is about threads. Absolute times are",
        "marked as such and move with the machine's load.",
        "",
        "## Machine",
        "",
        *(f"- {k}: {v}" for k, v in info.items()),
        "",
        "## Figures",
        "",
        "| figure | measured | goal | status | command |",
        "| --- | --- | --- | --- | --- |",
    ]
    for bench, rows, _seconds, error in results.values():
        if error is not None and not rows:
            lines.append(f"| {bench.what} | bench failed (see below) | | **failed** | `{bench.command}` |")
            continue
        try:
            figures = bench.figures(rows)
        except (KeyError, StopIteration, TypeError) as e:
            lines.append(
                f"| {bench.what} | output not understood ({e!r}) | | **failed** | `{bench.command}` |"
            )
            continue
        for f in figures:
            cells = [f.name, f.measured, f.goal, status(f.met), f"`{bench.command}`"]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    # the goals not met, and where their time goes: written by hand from the profiles below
    gaps = ROOT / "bench" / "gaps.md"
    if gaps.exists():
        lines += ["", gaps.read_text().rstrip()]
    gpu = results.get("gpu")
    if gpu is None or not gpu[0].figures(gpu[1]):
        lines += ["", GPU]
    lines += ["", "## Raw output", ""]
    for bench, rows, seconds, error in results.values():
        took = "time not logged" if math.isnan(seconds) else f"{seconds:.0f} s"
        lines += [f"### `{bench.command}` ({took})", "", "```"]
        lines += [json.dumps(r) for r in rows]
        if error is not None:
            lines += ["FAILED " + error]
        lines += ["```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _read_log(path: Path) -> dict[str, tuple[list[dict], float]]:
    """{bench: ([its header, *its rows], seconds)} from the JSON lines an earlier run printed."""
    out: dict[str, tuple[list[dict], float]] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        name = row.pop("bench", None)
        if name not in BENCHES:
            continue
        if "_seconds" in row:  # a bench's header line
            out[name] = ([{"_args": row["_args"]}], row["_seconds"])
        else:  # a log without header lines: the bench's own arguments, its time unknown
            out.setdefault(name, ([{}], math.nan))[0].append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="+", choices=list(BENCHES), help="run these benches only")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--full", action="store_true", help="the reference budgets: " + str(FULL))
    ap.add_argument(
        "--reuse",
        type=Path,
        help="an earlier run's standard output: its figures stand for the benches --only leaves out",
    )
    args = ap.parse_args()
    info = machine()
    earlier = _read_log(args.reuse) if args.reuse else {}
    if earlier:
        kept = [n for n in BENCHES if n in earlier and args.only and n not in args.only]
        info["read from an earlier run's log"] = ", ".join(kept) or "nothing"
    results = {}
    for name in BENCHES:
        bench = BENCHES[name]
        if args.full and name in FULL:
            bench = replace(bench, args=bench.args + FULL[name])
        if args.only and name not in args.only:
            if name in earlier:
                rows, seconds = earlier[name]
                bench = replace(bench, args=rows[0].get("_args", bench.args))
                results[name] = (bench, rows[1:], seconds, None)
            continue
        print(f"running {bench.command}", file=sys.stderr, flush=True)
        rows, seconds, error = run_bench(bench)
        print(json.dumps({"bench": name, "_args": bench.args, "_seconds": seconds}), flush=True)
        for row in rows:
            print(json.dumps({"bench": name, **row}), flush=True)
        if error is not None:
            print(f"{name} failed: {error}", file=sys.stderr, flush=True)
        results[name] = (bench, rows, seconds, error)
    info["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    Path(args.out).write_text(report(info, results))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
