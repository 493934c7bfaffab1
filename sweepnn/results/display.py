"""What a person sees while a sweep runs and after: progress, one line per finished trial, and the
ranked table. Built on rich; the same ranked frame as trials.csv feeds the table.

Progress takes one of two forms. In a terminal, a live bar: trials done, the best value so far, the
time spent and left (the ETA), and the running trial's epoch and value. Anywhere else (a pipe, a CI
log) a live bar prints nothing until it stops, so a long trial would look hung: there a plain line
is printed per finished epoch instead, once SWEEPNN_PROGRESS_S seconds (default 5) have passed with
nothing said, so a log shows life without drowning in lines.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn
from rich.table import Table
from rich.text import Text

from sweepnn import record
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.space import short_names
from sweepnn.results.tables import fmt
from sweepnn.results.values import params_of
from sweepnn.untrusted import markup, rich_line, rich_text

# Outcome colours: green trained well, yellow trained with a problem, red did not train.
OUTCOME_STYLE = {
    "ok": "green",
    **dict.fromkeys((*(o for o in record.TRAINED if o != "ok"), "pruned"), "yellow"),
    **dict.fromkeys(("diverged", "failed"), "red"),
    "interrupted": "magenta",
}


PLAIN_EVERY_S = 5.0  # without a terminal: an epoch line after this long with no line (SWEEPNN_PROGRESS_S)


def plain_every() -> float:
    """SWEEPNN_PROGRESS_S: the least seconds between two plain progress lines (0: every epoch)."""
    from sweepnn.errors import InputError

    text = os.environ.get("SWEEPNN_PROGRESS_S", "")
    try:
        value = float(text) if text else PLAIN_EVERY_S
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise InputError(f"SWEEPNN_PROGRESS_S={text!r}: give the seconds between progress lines, e.g. 5")
    return value


def duration(seconds: float) -> str:
    """'45s', '3m05s', '2h07m': a time a person reads at a glance."""
    s = round(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def eta_seconds(
    elapsed: float, finished: int, left: int | None, running: float, timeout_left: float | None
) -> float | None:
    """Seconds until the sweep ends: the trials `left` of the budget at this run's pace so far
    (`finished` trials and `running`, the shares of their epochs the running trials have done, in
    `elapsed` seconds), capped by what is left of the timeout; None when neither the budget nor a
    pace is known yet."""
    estimates = []
    done = finished + running
    if left is not None and done > 0:
        estimates.append(elapsed / done * max(0.0, left - running))
    if timeout_left is not None:
        estimates.append(max(0.0, timeout_left))
    return min(estimates) if estimates else None


class _Clock:
    """This run's pace: what the ETA is read from."""

    def __init__(self, timeout: float | None):
        self.start = time.monotonic()
        self.timeout = timeout
        self.finished = 0  # trials finished since this run started (every worker's)
        self.left: int | None = None  # trials of the budget not finished yet; None: no trial budget
        self.running: dict[int, float] = {}  # running trial -> the share of its epochs done (a stacked
        # group trains several at once)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def eta(self) -> float | None:
        timeout_left = self.timeout - self.elapsed() if self.timeout else None
        running = sum(self.running.values())
        return eta_seconds(self.elapsed(), self.finished, self.left, running, timeout_left)

    def said(self) -> str:
        """'3m05s, ETA 1m20s' (and what the timeout leaves, when it is the nearer end)."""
        eta = self.eta()
        shown = duration(self.elapsed())
        if eta is None:
            return shown
        ends = " (timeout)" if self.timeout and eta >= self.timeout - self.elapsed() - 0.5 else ""
        return f"{shown}, ETA {duration(eta)}{ends}"


class _TimeColumn(ProgressColumn):
    """Elapsed time and the ETA, recomputed at every refresh (not only when an event arrives)."""

    def __init__(self, clock: _Clock):
        super().__init__()
        self.clock = clock

    def render(self, task) -> Text:
        return Text(self.clock.said(), style="progress.elapsed")


class SweepDisplay:
    """sweepnn.sweep.study.Events shown to a person; use as a context manager around the sweep.
    A live bar on a terminal; plain lines at a bounded rate anywhere else (see the module's doc)."""

    def __init__(self, console: Console, recipe: Recipe, quiet: bool = False):
        self.console = console
        self.recipe = recipe
        self.quiet = quiet
        self.short = short_names(list(recipe.search.space))  # in the order the recipe lists them
        objective = recipe.search.objectives[0]
        self.metric, self.maximize = objective.metric, objective.direction == "maximize"
        self.best: float | None = None
        self.clock = _Clock(recipe.search.timeout)
        # a real terminal: rich also calls a CI log a terminal under FORCE_COLOR (for its colours),
        # where a live bar would be a silent trial and one endless line of redraws
        isatty = getattr(console.file, "isatty", None)
        self.live = console.is_terminal and not console.is_dumb_terminal and bool(isatty and isatty())
        self.every = plain_every()
        self._last_said = time.monotonic()  # when the last line was printed (plain epoch lines wait on it)
        self._budget: int | None = None
        self._done = 0
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("best {task.fields[best]}"),
            _TimeColumn(self.clock),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=True,
            disable=quiet or not self.live,
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
        self._budget, self._done = budget, done
        self.clock.start = time.monotonic()  # the sweep's own time: not the data's loading before it
        self.clock.left = None if budget is None else max(0, budget - done)
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
        self.clock.running[number] = 0.0
        self.progress.update(self.task, status=f"trial {number}")

    def epoch_done(self, number: int, epoch: int, epochs: int, metrics: dict[str, float]) -> None:
        self.clock.running[number] = min(1.0, epoch / epochs) if epochs else 0.0
        where = f"trial {number}: epoch {epoch}/{epochs} {self.metric} {fmt(metrics.get(self.metric))}"
        self.progress.update(self.task, status=where)
        if self.live or self.quiet:
            return
        if time.monotonic() - self._last_said < self.every:
            return  # something was said a moment ago: a log shows life without a line per epoch
        of = f"{self._done}/{self._budget}" if self._budget is not None else f"{self._done}"
        best = f", best {fmt(self.best)}" if self.best is not None else ""
        # stored values (a metric's name is the user's) are text, never markup
        self._print(rich_line(f"  {where}  ({of} trials done{best}; {self.clock.said()})"))

    def trial_done(self, trial, done: int, budget: int | None) -> None:
        outcome = trial.user_attrs.get(record.OUTCOME, trial.state.name.lower())
        value = trial.values[0] if trial.values else None
        if value is not None and (self.best is None or (value > self.best) == self.maximize):
            self.best = value
        self._done = done
        self.clock.finished += 1
        self.clock.running.pop(trial.number, None)
        self.clock.left = None if budget is None else max(0, budget - done)
        self.progress.update(self.task, completed=done, best=fmt(self.best) if self.best is not None else "-")
        params = params_of(trial)
        shown = " ".join(f"{self.short[k]}={fmt(params[k])}" for k in self.short if k in params)
        style = OUTCOME_STYLE.get(outcome, "white")
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
            self._last_said = time.monotonic()


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
        style = OUTCOME_STYLE.get(outcome) if outcome != "ok" else None
        table.add_row(*(rich_text(v) for v in row.tolist()), style=style)
    return table
