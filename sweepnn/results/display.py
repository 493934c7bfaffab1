"""What a person sees while a sweep runs and after: a live progress line, one line per finished trial,
and the ranked table. Built on rich; the same ranked frame as trials.csv feeds the table."""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sweepnn import record
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.space import short_names
from sweepnn.results.tables import fmt
from sweepnn.untrusted import markup, rich_line, rich_text

# Outcome colours: green trained well, yellow trained with a problem, red did not train.
_STYLE = {
    "ok": "green",
    **dict.fromkeys((*(o for o in record.TRAINED if o != "ok"), "pruned"), "yellow"),
    **dict.fromkeys(("diverged", "failed"), "red"),
    "interrupted": "magenta",
}


class SweepDisplay:
    """sweepnn.sweep.study.Events shown in the terminal; use as a context manager around the sweep."""

    def __init__(self, console: Console, recipe: Recipe, quiet: bool = False):
        self.console = console
        self.recipe = recipe
        self.quiet = quiet
        self.short = short_names(list(recipe.search.space))  # in the order the recipe lists them
        objective = recipe.search.objectives[0]
        self.metric, self.maximize = objective.metric, objective.direction == "maximize"
        self.best: float | None = None
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("best {task.fields[best]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=True,
            disable=quiet,
        )
        self.task = None

    def __enter__(self) -> SweepDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def sweep_started(
        self, study: str, done: int, budget: int | None, resumed: bool, best: float | None = None
    ) -> None:
        self.best = best
        self.task = self.progress.add_task(
            markup(study),  # the progress line reads its description as markup
            total=budget,
            completed=done,
            best=fmt(best) if best is not None else "-",
            status="",
        )
        until = f" until {self.recipe.search.timeout:g}s have passed" if self.recipe.search.timeout else ""
        from sweepnn.recipe.budget import budget as decided  # how it was decided: said on the first line

        why = decided(self.recipe)[1]
        if resumed:
            if budget is None:
                self._print(
                    rich_line("Resuming study ", (study, "bold"), f": {done} trials done; more{until}.")
                )
            else:
                left = max(0, budget - done)
                self._print(
                    rich_line(
                        "Resuming study ",
                        (study, "bold"),
                        f": {done} of {budget} trials done, {left} to run{until}"
                        + (f" ({why})." if why else "."),
                    )
                )
        else:
            count = "trials" if budget is None else f"{budget} trial{'s' if budget != 1 else ''}"
            sampler = self.recipe.search.sampler.name
            how = f"{sampler} sampler" + (f", {why}" if why else "")
            self._print(rich_line("Study ", (study, "bold"), f": {count} ({how}){until}."))

    def trial_started(self, number: int, params: dict[str, Any]) -> None:
        self.progress.update(self.task, status=f"trial {number}")

    def epoch_done(self, number: int, epoch: int, epochs: int, metrics: dict[str, float]) -> None:
        value = metrics.get(self.metric)
        self.progress.update(
            self.task, status=f"trial {number}: epoch {epoch}/{epochs} {self.metric} {fmt(value)}"
        )

    def trial_done(self, trial, done: int, budget: int | None) -> None:
        outcome = trial.user_attrs.get(record.OUTCOME, trial.state.name.lower())
        value = trial.values[0] if trial.values else None
        if value is not None and (self.best is None or (value > self.best) == self.maximize):
            self.best = value
        self.progress.update(self.task, completed=done, best=fmt(self.best) if self.best is not None else "-")
        params = trial.user_attrs.get(record.PARAMS, {})
        shown = " ".join(f"{self.short[k]}={fmt(params[k])}" for k in self.short if k in params)
        style = _STYLE.get(outcome, "white")
        from sweepnn.training.repeats import outcome_over_seeds

        outcome = outcome_over_seeds(trial.user_attrs.get(record.REPEATS), outcome)  # 'vanishing 2/3'
        reason = trial.user_attrs.get(record.REASON, "")
        result = f"{self.metric} {fmt(value)}" if value is not None else reason
        seconds = trial.user_attrs.get(record.SECONDS)
        # the reason and the values are stored text: "[enforce fail at ...]" is shown, never read as markup
        self._print(
            rich_line(
                f"  trial {trial.number:>3} ",
                (f"{outcome:<11}", style),
                f" {result}  {shown}" + (f"  ({seconds:.1f}s)" if seconds is not None else ""),
            )
        )

    def _print(self, text) -> None:
        if not self.quiet:
            self.progress.console.print(text, highlight=False, soft_wrap=True)


def ranked_table(df: pd.DataFrame, title: str = "") -> Table:
    """A rich table of a display frame (see sweepnn.results.tables.display_frame)."""
    # Titles, headers and cells are rich Text of safe text: a stored value is shown as it is, its
    # brackets never read as markup and its escape sequences shown as escapes (sweepnn.untrusted).
    table = Table(
        title=rich_text(title, style="table.title") if title else None,
        title_justify="left",
        header_style="bold",
    )
    for col in df.columns:
        table.add_column(rich_text(col), justify="left" if col == "state" else "right", no_wrap=True)
    for _, row in df.iterrows():
        outcome = str(row.get("outcome", "")).split(" ")[0]  # 'dead 2/3': the outcome, then its count
        style = _STYLE.get(outcome) if outcome != "ok" else None
        table.add_row(*(rich_text(v) for v in row.tolist()), style=style)
    return table
