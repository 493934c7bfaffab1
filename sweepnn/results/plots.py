"""PNG charts of one study for `sweepnn plot`: which charts a study gets, drawn and written.

The charts, by kind (each module's functions take (pyplot, study, trials frame) and return a figure,
or the reason there is none):
    plot_study     the optimization history (a panel per objective); the Pareto front of a study of
                   several objectives
    plot_training  the learning curves of the best trials (training and validation, loss and
                   objective); the best trial's learning-rate schedule
    plot_params    the objective by each searched path, parallel coordinates, parameter importances
    plot_speed     performance profiles of the time to a target and sensitivity curves
    plot_base      what they share (figures, notes, warnings, `path=value` labels)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sweepnn.atomic import replacing
from sweepnn.errors import SweepnnError
from sweepnn.results import plot_params, plot_speed, plot_study, plot_training, profiles
from sweepnn.results.analysis import Stored, canonical
from sweepnn.results.plot_base import DPI, pyplot
from sweepnn.results.tables import trials_frame

Chart = Callable[..., Any]  # (pyplot, Stored, trials frame) -> a figure, or why there is none


def charts(
    stored: Stored, target: dict[str, float] | None = None, by: str | None = None, unit: str = "seconds"
) -> list[tuple[str, Chart]]:
    """The charts a study gets, named as their files, in the order they are written."""
    out: list[tuple[str, Chart]] = [("history", plot_study.history)]
    if len(stored.recipe.search.objectives) > 1:
        out.append(("pareto", plot_study.pareto))
    out.append(("curves", plot_training.curves))
    for path in dict.fromkeys(canonical(p) for p in stored.recipe.search.space):
        out.append((f"effect-{path}", lambda plt, s, df, path=path: plot_params.effect(plt, s, path)))
    out.append(("parallel", plot_params.parallel))
    objectives = stored.recipe.search.objectives
    for i, objective in enumerate(objectives):  # one chart per objective: each ranks the paths its own way
        name = "importances" if len(objectives) == 1 else f"importances-{objective.metric}"
        out.append((name, lambda plt, s, df, i=i: plot_params.importances(plt, s, df, i)))
    out.append(("lr-schedule", plot_training.schedule))
    goal = profiles.target_of(stored, target)
    for path in [canonical(by)] if by else profiles.choice_paths(stored):
        out.append(
            (f"profile-{path}", lambda plt, s, df, path=path: plot_speed.profile(plt, s, path, goal, unit))
        )
    curves_by = canonical(by) if by else profiles.default_by(stored)
    for x in profiles.numeric_paths(stored):
        if x != curves_by:
            out.append(
                (f"sensitivity-{x}", lambda plt, s, df, x=x: plot_speed.sensitivity(plt, s, x, curves_by))
            )
    return out


def draw(
    stored: Stored, target: dict[str, float] | None = None, by: str | None = None, unit: str = "seconds"
) -> Iterator[tuple[str, Any]]:
    """Each chart of the study as (name, matplotlib figure), or (name, why it has none). The caller
    closes the figures."""
    plt = pyplot()
    df = trials_frame(stored.study, stored.recipe)
    for name, chart in charts(stored, target, by, unit):
        yield name, chart(plt, stored, df)


def write_plots(
    stored: Stored,
    folder: Path,
    target: dict[str, float] | None = None,
    by: str | None = None,
    unit: str = "seconds",
) -> tuple[list[Path], list[str]]:
    """Draw every chart that the study has data for. Returns (files written, 'name: why not' notes).

    `target` ({metric: value}, default the recipe's, else 90% of the way to the best) is what the
    profiles time to, in `unit` (seconds or epochs); `by` (a recipe path) is the one path profiled and
    the curves of the sensitivity charts (default: a profile per searched choice, curves per optimizer).
    """
    plt = pyplot()
    written, skipped = [], []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, fig in draw(stored, target, by, unit):
            if isinstance(fig, str):
                skipped.append(f"{name}: {fig}")
                continue
            with replacing(folder / f"{name}.png") as tmp:
                fig.savefig(tmp, dpi=DPI, format="png")
            plt.close(fig)
            written.append(folder / f"{name}.png")
    except OSError as e:
        raise SweepnnError(f"cannot write plots to {folder}: {e.strerror or e}") from None
    return written, skipped
