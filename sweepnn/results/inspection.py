"""What `sweepnn show` says about one study: the ranked trials with their outcomes and diagnostics, the
best configuration, which searched parameters mattered, and the learning curves of the best trials.

Built once as plain data (`Report`), then rendered as text, Markdown or JSON by the command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from sweepnn import record
from sweepnn.recipe.space import short_names
from sweepnn.results.analysis import Stored
from sweepnn.results.charts import bar_chart, line_chart
from sweepnn.results.files import counts, json_records
from sweepnn.results.tables import SHOWN_DIAGNOSTICS as DIAGNOSTICS
from sweepnn.results.tables import best_number, display_frame, fmt, results_only, trials_frame
from sweepnn.results.values import params_of
from sweepnn.sweep.reading import importance_caveat, param_importances
from sweepnn.untrusted import safe_text

CURVES = 3  # learning curves drawn: more than three lines of characters no longer read apart
# DIAGNOSTICS: final-epoch diagnostics shown beside the ranked trials (grad first/last comes with
# display_frame, which keeps the labels of searched paths off their names).


@dataclass(frozen=True)
class Report:
    """What `sweepnn show` reports on one study, computed once by `build`: the ranked trials, the best trial's
    number (None when none completed), importances and curves."""

    stored: Stored
    frame: pd.DataFrame  # every trial, ranked (sweepnn.results.tables.trials_frame)
    top: int
    best: int | None
    importances: dict[str, float] | None  # searched path -> share of the objective's variation
    note: str  # why there are no importances, or what they leave out
    curves: list[tuple[int, list[float]]]  # (trial, objective per epoch) of the best trials, best first


def build(stored: Stored, top: int) -> Report:
    """The report of a stored study: every trial ranked, Optuna's importances, and the first objective's curve
    of each of the best `min(top, CURVES)` completed trials."""
    study, recipe = stored.study, stored.recipe
    df = trials_frame(study, recipe)
    importances, note = param_importances(study)
    curves = []
    for number in df.loc[df["state"] == "complete", "number"].head(min(top, CURVES)):
        history = study.trials[number].user_attrs.get(record.HISTORY) or []
        curves.append((int(number), [h[stored.metric] for h in history if stored.metric in h]))
    return Report(stored, df, top, best_number(study, recipe), importances, note, curves)


def ranked(report: Report) -> pd.DataFrame:
    """The top trials as people read them: display_frame plus the training-health diagnostics."""
    df, recipe = results_only(report.frame), report.stored.recipe
    shown = display_frame(df, recipe, top=report.top)
    for col, name in DIAGNOSTICS.items():
        if col in df and df[col].notna().any():
            shown[name] = df[col].head(report.top).map(fmt).tolist()
    return shown


def header_lines(report: Report) -> list[str]:
    """The study's name and description (the recipe's text, as safe text: sweepnn.untrusted), then
    its objectives, sampler and trials."""
    s = report.stored
    objectives = ", ".join(f"{o.metric} ({o.direction})" for o in s.recipe.search.objectives)
    by_outcome = counts(s.study)
    states = ", ".join(f"{n} {k}" for k, n in sorted(by_outcome.items()))
    description = safe_text(s.recipe.description.strip(), multiline=True)
    lines = [f"Study {safe_text(s.name)}" + (f": {description}" if description else "")]
    lines.append(f"objective {objectives}; sampler {s.recipe.search.sampler.name}; ")
    lines[-1] += f"{sum(by_outcome.values())} trials" + (f" ({states})" if states else "")
    return lines


def best_lines(report: Report) -> list[str]:
    """The best trial's objective values and test scores (test_loss left out), then its searched parameters'
    values; 'No trial completed.' when there is none."""
    from sweepnn.record import held_out_scores

    if report.best is None:
        return ["No trial completed."]
    s = report.stored
    t = s.study.trials[report.best]
    values = ", ".join(
        f"{o.metric} {fmt(v)}" for o, v in zip(s.recipe.search.objectives, t.values, strict=True)
    )
    tested = held_out_scores(s.study).get(report.best, {})
    values += "".join(f", {k} {fmt(v)}" for k, v in tested.items() if k != "test_loss")
    params = params_of(t)
    lines = [f"trial {report.best}: {values}"]
    lines += [f"  {k}: {safe_text(fmt(params[k]))}" for k in s.recipe.search.space if k in params]
    return lines


def importance_scope(stored: Stored) -> str:
    """Which objective the importances are of, when the study has several ('' when it has one)."""
    objectives = stored.recipe.search.objectives
    if len(objectives) == 1:
        return ""
    return f"for {objectives[0].metric}, the first of {len(objectives)} objectives (sweepnn plot draws each)"


def importance_lines(report: Report) -> list[str]:
    """A bar chart of the searched parameters' importances, then the note of what they leave out; the note
    alone (why there are none) without importances."""
    note = safe_text(report.note)  # may quote Optuna's error
    if report.importances is None:
        return [note]
    short = short_names(list(report.importances))
    lines = bar_chart([(safe_text(short[p]), v) for p, v in report.importances.items()])
    scope = importance_scope(report.stored)
    lines += [safe_text(scope)] if scope else []
    completed = int((report.frame["state"] == "complete").sum())
    caveat = importance_caveat(completed)  # too few trials behind them: said under the bars
    if caveat:
        lines += caveat.replace("STUDY", safe_text(report.stored.name)).split("\n")
    return lines + ([note] if note else [])


def curve_lines(report: Report) -> list[str]:
    """The best trials' first objective per epoch as a line chart with a legend of their numbers; one line
    saying so when nothing was recorded."""
    curves = [(str(i), ys) for i, (_, ys) in enumerate(report.curves, 1)]
    chart = line_chart(curves)
    if not chart:
        return [f"no recorded {report.stored.metric} per epoch"]
    legend = "  ".join(f"{i} = trial {n}" for i, (n, _) in enumerate(report.curves, 1))
    return [f"{report.stored.metric} per epoch", *chart, legend]


def to_json(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (`show --format json`): the study, objectives, trial counts, the best
    trial, the top trials ranked, importances and curves."""
    s = report.stored
    best = None
    if report.best is not None:
        t = s.study.trials[report.best]
        best = {
            "trial": report.best,
            "values": dict(zip((o.metric for o in s.recipe.search.objectives), t.values, strict=True)),
            "params": params_of(t),
        }
    top = results_only(report.frame).head(report.top)
    return {
        "study": s.name,
        "description": s.recipe.description,
        "objectives": [o.model_dump() for o in s.recipe.search.objectives],
        "trials": sum(counts(s.study).values()),
        "counts": counts(s.study),
        "best": best,
        "ranked": json_records(top),
        "importances": report.importances,
        "importances_note": report.note,
        "curves": [{"trial": n, "metric": s.metric, "values": ys} for n, ys in report.curves],
    }


def to_markdown(report: Report, table: str) -> str:
    """The report as a Markdown document; `table` is the ranked trials already in Markdown."""
    head = header_lines(report)
    lines = [f"# {head[0]}", "", head[1], "", f"## Top {report.top} trials", "", table, ""]
    best = best_lines(report)  # its parameter lines become a list
    lines += ["## Best configuration", "", best[0], "", *(f"- {b.strip()}" for b in best[1:]), ""]
    lines += ["## Parameter importances", "", "```", *importance_lines(report), "```", ""]
    lines += ["## Learning curves", "", "```", *curve_lines(report), "```", ""]
    return "\n".join(lines)
