"""Charts of a study across its trials: the optimization history (a panel per objective) and, for a
study of several objectives, the Pareto front of the first two.

The front is Optuna's own (`study.best_trials`, through the trials frame's `pareto` column): the
trials no other completed trial beats on every objective at once.
"""

from __future__ import annotations

from sweepnn.results.analysis import Stored
from sweepnn.results.plot_base import SIZE, figure, label_axes, note
from sweepnn.untrusted import plot_text

FRONT_COLOUR = "tab:red"
PANEL_HEIGHT = 2.6  # inches a history panel takes when a study has several objectives


def _objective_columns(s: Stored) -> list[tuple[str, str, str]]:
    """(frame column, metric, direction) of each objective, in the recipe's order."""
    return [(f"objective.{o.metric}", o.metric, o.direction) for o in s.recipe.search.objectives]


def history(plt, s: Stored, df):
    """Every trial's value in the order they ran and the best so far: one panel per objective (each
    objective's best on its own; with several, the trials on the Pareto front ringed in red)."""
    done = df[df["state"].isin(["complete", "pruned"])].sort_values("number")
    if done.empty:
        return "no trial completed"
    objectives = _objective_columns(s)
    if len(objectives) == 1:
        fig, ax = figure(plt, f"Optimization history of {s.name}", "trial", s.metric)
        axes = [ax]
    else:
        width, _ = SIZE
        fig, axes = plt.subplots(
            len(objectives),
            1,
            figsize=(width, PANEL_HEIGHT * len(objectives) + 0.6),
            sharex=True,
            layout="constrained",
        )
        fig.suptitle(
            plot_text(f"Optimization history of {s.name}: {len(objectives)} objectives"), fontsize=11
        )
        for ax, (_, metric, direction) in zip(axes, objectives, strict=True):
            label_axes(ax, "trial" if ax is axes[-1] else "", f"{metric} ({direction[:3]})")
    complete = done[done["state"] == "complete"]
    pruned = done[done["state"] == "pruned"]
    last = done["number"].max()  # the best so far holds through the trials after it
    for ax, (col, _, direction) in zip(axes, objectives, strict=True):
        ax.scatter(complete["number"], complete[col], s=18, label="complete", zorder=3)
        if len(pruned) and pruned[col].notna().any():
            ax.scatter(
                pruned["number"], pruned[col], s=18, marker="x", color="grey", label="pruned (value reached)"
            )
        if "pareto" in done:
            front = complete[complete["pareto"].fillna(False).astype(bool)]
            ax.scatter(
                front["number"],
                front[col],
                s=70,
                facecolors="none",
                edgecolors=FRONT_COLOUR,
                label="on the Pareto front",
                zorder=4,
            )
        if len(complete):
            best = complete[col].cummax() if direction == "maximize" else complete[col].cummin()
            ax.step(
                [*complete["number"], last],
                [*best, best.iloc[-1]],
                where="post",
                color="tab:orange",
                label=f"best so far ({direction[:3]})",
            )
        ax.legend(loc="best", fontsize=8 if len(axes) > 1 else 9)
    return fig


def pareto(plt, s: Stored, df):
    """The first objective against the second, every completed trial a dot, the front's trials in red,
    joined in order and numbered. With more than two objectives the front is over all of them, so a
    trial on it can look beaten in these two."""
    objectives = _objective_columns(s)
    complete = df[df["state"] == "complete"]
    (x, xm, xd), (y, ym, yd) = objectives[:2]
    complete = complete[complete[x].notna() & complete[y].notna()]
    if complete.empty:
        return "no trial completed"
    on = complete["pareto"].fillna(False).astype(bool)  # the frame has it for several objectives
    front, rest = complete[on].sort_values(x), complete[~on]
    title = f"Pareto front of {s.name}: {xm} ({xd[:3]}) against {ym} ({yd[:3]})"
    fig, ax = figure(plt, title, f"{xm} ({xd})", f"{ym} ({yd})")
    ax.scatter(
        rest[x], rest[y], s=20, alpha=0.6, color="tab:blue", label=f"dominated ({len(rest)})", zorder=2
    )
    ax.scatter(front[x], front[y], s=40, color=FRONT_COLOUR, label=f"on the front ({len(front)})", zorder=4)
    # the front as the edge of what its trials reach: along the first objective, the second is the best
    # of the front's trials at least as good there (the next one's when larger is better, else this one's)
    where = "pre" if xd == "maximize" else "post"
    ax.step(front[x], front[y], where=where, color=FRONT_COLOUR, alpha=0.5, zorder=3)
    for n, vx, vy in zip(front["number"], front[x], front[y], strict=True):
        ax.annotate(
            str(n), (vx, vy), textcoords="offset points", xytext=(4, 4), fontsize=8, color=FRONT_COLOUR
        )
    ax.legend(loc="best", fontsize=9)
    better = f"better is {'right' if xd == 'maximize' else 'left'} and {'up' if yd == 'maximize' else 'down'}"
    more = f"; the front is over all {len(objectives)} objectives, two drawn" if len(objectives) > 2 else ""
    note(fig, f"{better}; numbers are trials; {len(complete)} completed trials{more}")
    return fig
