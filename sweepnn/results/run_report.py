"""What a finished `sweepnn run` shows and reports: the ranked table, the best trial, the bars that
CI asked for, and, for a fair comparison, each arm at its best side by side."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sweepnn.atomic import atomic_write
from sweepnn.errors import SweepnnError
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.space import short_names
from sweepnn.record import held_out_scores, held_out_spread
from sweepnn.results import ci
from sweepnn.results.display import ranked_table
from sweepnn.results.tables import best_number, display_frame, fmt, trials_frame
from sweepnn.results.values import params_of
from sweepnn.sweep.study import SweepSummary
from sweepnn.untrusted import md_cell, rich_line, rich_text, safe_text


@dataclass(frozen=True)
class Finished:
    """One study run to its end: its recipe, what the sweep did, where its files are."""

    recipe: Recipe
    summary: SweepSummary
    folder: Path

    @property
    def best(self) -> int | None:
        return best_number(self.summary.study, self.recipe)


def report(
    console: Console, runs: list[Finished], *, top: int, bars: list[ci.Bar], junit: Path | None
) -> None:
    """Print the outcome of a run (one study, or the arms of a fair comparison) and write the CI
    reports; raise SweepnnError (exit 1) when no trial completed or a bar is missed."""
    for run in runs:
        _print_study(console, run, top=3 if len(runs) > 1 else top)
    if len(runs) > 1:
        _print_arms(console, runs)
    leader = _leader(runs)
    verdicts = [ci.Verdict(bar, None) for bar in bars]
    if leader is not None:
        trial = leader.summary.study.trials[leader.best]
        verdicts = ci.judge(bars, trial, held_out_scores(leader.summary.study).get(leader.best, {}))
    for v in verdicts:
        console.print(rich_line(("PASS", "green") if v.passed else ("FAIL", "red"), f" {v}"))
    if junit is not None:
        ci.write_junit(junit, ci.junit_xml([(r.summary.study, r.recipe) for r in runs], verdicts))
    summaries = [(r.folder / "summary.md").read_text(encoding="utf-8") for r in runs]
    ci.append_step_summary("\n\n".join(summaries), verdicts)
    if leader is None:
        failures = [f for r in runs for f in r.summary.failures]
        reasons = "\n  ".join(failures[:5]) or "see trials.csv for each trial's reason"
        names = " or ".join(f"'{r.recipe.name}'" for r in runs)
        raise SweepnnError(f"no trial of {names} completed:\n  {reasons}")
    missed = [str(v) for v in verdicts if not v.passed]
    if missed:
        raise SweepnnError("the best trial misses the bar: " + "; ".join(missed))


def _print_study(console: Console, run: Finished, *, top: int) -> None:
    study, cfg = run.summary.study, run.recipe
    df = trials_frame(study, cfg)
    console.print()
    console.print(ranked_table(display_frame(df, cfg, top=top), title=f"Top trials of {cfg.name}"))
    best = run.best
    if best is not None:
        trial = study.trials[best]
        values = ", ".join(
            f"{o.metric} {v:.4f}" for o, v in zip(cfg.search.objectives, trial.values, strict=True)
        )
        tested = held_out_scores(study).get(best, {})
        spread = held_out_spread(study).get(best, {})  # seed repeats: mean ± std over the seeds
        held_out = "".join(
            f", {k} {v:.4f}" + (f" ± {spread[k]:.2g}" if k in spread else "")
            for k, v in tested.items()
            if k != "test_loss"
        )
        console.print(f"\n[bold]Best:[/] trial {best}, {values}{held_out}")
        params = params_of(trial)  # as set: 0.3, not the 0.30000000000000004 of Optuna's step arithmetic
        for k in (k for k in cfg.search.space if k in params):
            console.print(rich_line(f"  {k}: {params[k]}"))  # a searched value: text, not markup
    console.print(
        rich_line(
            f"\n{run.summary.ran} trial(s) run in {run.summary.seconds:.1f}s. Results: {run.folder}/ "
            "(trials.csv, summary.md, best.yaml, recipe.yaml)",
            multiline=True,
        )
    )


def _leader(runs: list[Finished]) -> Finished | None:
    """The run whose best trial is best on the first objective."""
    done = [r for r in runs if r.best is not None]
    if not done:
        return None
    first = runs[0].recipe.search.objectives[0]

    def value(r: Finished) -> float:
        return r.summary.study.trials[r.best].values[0]

    return (max if first.direction == "maximize" else min)(done, key=value)


def arms_rows(runs: list[Finished]) -> list[dict[str, Any]]:
    """One row per arm of a fair comparison, best arm first: its best value and configuration."""
    first = runs[0].recipe.search.objectives[0]
    rows = []
    for r in runs:
        study = r.summary.study
        states = [t.state.name for t in study.trials]
        row: dict[str, Any] = {
            "arm": r.recipe.name,
            first.metric: None,
            "trial": r.best,
            "trials": len(states),
            "complete": states.count("COMPLETE"),
            "pruned": states.count("PRUNED"),
        }
        if r.best is not None:
            trial = study.trials[r.best]
            row[first.metric] = trial.values[0]
            row["params"] = params_of(trial)
        rows.append(row)
    sign = -1 if first.direction == "maximize" else 1
    rows.sort(key=lambda row: (row[first.metric] is None, sign * (row[first.metric] or 0)))
    return rows


def _print_arms(console: Console, runs: list[Finished]) -> None:
    rows = arms_rows(runs)
    metric = runs[0].recipe.search.objectives[0].metric
    paths = list(dict.fromkeys(p for r in runs for p in r.recipe.search.space))
    short = short_names(paths)
    table = Table(title="Each arm at its best (equal budgets)", title_justify="left", header_style="bold")
    for col in ("rank", "arm", metric, "trial", "complete", "pruned", *(short[p] for p in paths)):
        table.add_column(rich_text(col), justify="left" if col == "arm" else "right", no_wrap=True)
    for i, row in enumerate(rows, 1):
        params = row.get("params", {})
        cells = [
            str(i) if row["trial"] is not None else "",
            row["arm"],
            fmt(row[metric]),
            fmt(row["trial"]),
            str(row["complete"]),
            str(row["pruned"]),
            *(fmt(params.get(p)) for p in paths),
        ]
        table.add_row(*(rich_text(c) for c in cells))
    console.print()
    console.print(table)


def write_arms_summary(runs: list[Finished], folder: Path, recipe: Recipe) -> Path:
    """results/<recipe>/summary.md for a fair comparison: the arms side by side, linking their folders."""
    rows = arms_rows(runs)
    metric = recipe.search.objectives[0].metric
    lines = [f"# Fair comparison `{recipe.name}`: {recipe.search.fair}", ""]
    if recipe.description:
        lines += [safe_text(recipe.description.strip(), multiline=True), ""]
    lines += [
        f"Each value of `{recipe.search.fair}` was tuned in its own study with an equal share of the"
        " trials; each is shown at its best.",
        "",
        f"| rank | arm | {metric} | best trial | complete | pruned |",
        "| ---: | :--- | ---: | ---: | ---: | ---: |",
    ]
    for i, row in enumerate(rows, 1):
        arm = md_cell(row["arm"])
        lines.append(
            f"| {i if row['trial'] is not None else ''} | [{arm}](../{arm}/summary.md)"
            f" | {fmt(row[metric])} | {fmt(row['trial'])} | {row['complete']} | {row['pruned']} |"
        )
    path = folder / "summary.md"
    atomic_write(path, "\n".join(lines) + "\n")
    return path
