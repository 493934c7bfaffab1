"""Charts of what the searched values did: the objective by each searched path (coloured by the other
choice a reader would ask about), every trial across every searched path at once (parallel
coordinates), and Optuna's parameter importances with how far the trials behind them can be trusted."""

from __future__ import annotations

import math
import random
import textwrap

from sweepnn.results.analysis import Stored, canonical, completed_frame, levels
from sweepnn.results.plot_base import colours, figure, legend_outside, note, short_of, title_over_figure, warn
from sweepnn.results.profiles import choice_paths
from sweepnn.results.tables import fmt
from sweepnn.sweep.reading import importance_caveat
from sweepnn.untrusted import plot_text

NA_POSITION = -0.12  # where a parallel axis puts the trials a path does not apply to (momentum under adam)


def colour_by(s: Stored, path: str, df) -> tuple[str | None, str]:
    """The searched choice whose values colour the effect plot of `path`, and why it was picked: first the
    option `path` is a parameter of (the optimizer on an lr plot: the same rate is another step under
    each), else the other choice whose values moved the objective most (the largest spread of its
    values' medians), so the colour shows what else the spread of a box comes from. None: no other
    choice varies."""
    from sweepnn.recipe.space import plan

    others = [c for c in choice_paths(s) if c != path and c in df and df[c].map(fmt).nunique() > 1]
    if not others:
        return None, ""
    owner = next((canonical(p.node) for p in plan(s.recipe.search.space) if canonical(p.path) == path), None)
    if owner in others:
        return owner, f"the option {short_of(s)[path]} belongs to"
    if len(others) == 1:
        return others[0], "the other searched choice"
    spread = {c: df.groupby(df[c].map(fmt))["value"].median() for c in others}
    picked = max(others, key=lambda c: spread[c].max() - spread[c].min())  # ties: the recipe's order
    return picked, f"the other choice that moved {s.metric} most"


def effect(plt, s: Stored, path: str):
    """A scatter for a numeric range; a box per value (with every trial as a dot) for choices; the dots
    coloured by the choice colour_by() picks."""
    others = [c for c in choice_paths(s) if c != path]
    df = completed_frame([s], [path, *others])
    if df.empty:
        return "no trial completed"
    by, why = colour_by(s, path, df)
    short = short_of(s)
    spec = next(v for k, v in s.recipe.search.space.items() if canonical(k) == path)
    title = f"{s.metric} by {path} ({s.name})"
    groups, order = levels(df[by]) if by else (None, [None])
    colour = dict(zip(order, colours(plt) * len(order), strict=False)) if by else {None: "tab:blue"}
    is_number = df[path].map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
    if spec.is_range and is_number.any():
        missing = int((~is_number).sum())  # a conditional parameter: trials where it does not apply
        title += f"; not applicable in {missing} trials" if missing else ""
        fig, ax = figure(plt, title, path, s.metric)
        for g in order:
            rows = is_number & (groups == g) if by else is_number
            label = f"{short[by]}={fmt(g)} (n={int(rows.sum())})" if by else None
            ax.scatter(
                df[path][rows].astype(float), df["value"][rows], s=20, alpha=0.8, color=colour[g], label=label
            )
        if spec.log:
            ax.set_xscale("log")
    else:
        fig, ax = figure(plt, title, path, s.metric)
        values, kinds = levels(df[path])
        data = [df[values == v] for v in kinds]
        # the boxes in black: the colours are the dots' groups
        ax.boxplot([d["value"].tolist() for d in data], showfliers=False, medianprops={"color": "black"})
        rng = random.Random(0)  # the jitter is the same every time the chart is drawn
        for g in order:
            xs, ys = [], []
            for i, d in enumerate(data, 1):
                mine = d[groups[d.index] == g] if by else d
                xs += [i + rng.uniform(-0.15, 0.15) for _ in range(len(mine))]
                ys += mine["value"].tolist()
            label = f"{short[by]}={fmt(g)} (n={len(ys)})" if by else None
            ax.scatter(xs, ys, s=16, alpha=0.8, color=colour[g], zorder=3, label=label)
        labels = [plot_text(f"{fmt(v)}\n(n={len(d)})") for v, d in zip(kinds, data, strict=True)]
        ax.set_xticks(range(1, len(kinds) + 1), labels, rotation=30 if len(kinds) > 4 else 0, fontsize=9)
    if by:
        legend_outside(ax, title=f"colour: {short[by]},\n" + textwrap.fill(why, 26))
        title_over_figure(fig, ax)
    return fig


def parallel(plt, s: Stored, df):
    """A trial a line across an axis per searched path and the objective last: choices as evenly spaced
    levels in the recipe's order, ranges from their low to their high (on a log scale where searched
    so), the line coloured by the objective (better brighter). Pruned trials grey, at the value they
    were stopped at; failed and unfinished ones left out (they have no value)."""
    import matplotlib as mpl

    col = f"objective.{s.metric}"
    drawn = df[df["state"].isin(["complete", "pruned"]) & df[col].notna()]
    complete = drawn[drawn["state"] == "complete"]
    if complete.empty:
        return "no trial completed"
    space = s.recipe.search.space
    short = short_of(s)
    axes = [_axis(spec, drawn[path]) for path, spec in space.items()]
    rng = random.Random(0)  # the spread of lines at a level is the same every time the chart is drawn
    lo, hi = drawn[col].min(), drawn[col].max()
    lo, hi = (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)
    names = [short[p] for p in space] + [s.metric]
    fig, ax = figure(
        plt,
        f"Parallel coordinates of {s.name}: {len(complete)} completed trials",
        "",
        "",
        size=(max(7.5, 1.6 * len(names)), 4.8),
    )
    better_high = s.direction == "maximize"
    cmap = mpl.colormaps["viridis" if better_high else "viridis_r"]
    # the colours spread over the completed trials (pruned ones are grey): a pruned trial's low value
    # would otherwise squeeze every completed one into the top of the scale
    clo, chi = complete[col].min(), complete[col].max()
    norm = mpl.colors.Normalize(*((clo - 0.5, chi + 0.5) if clo == chi else (clo, chi)))
    # the worst first, so the best lines are drawn on top
    for _, row in drawn.sort_values(col, ascending=better_high).iterrows():
        # lines through one level spread a little, so that their number shows
        ys = [
            position(row[p]) + (rng.uniform(-0.025, 0.025) if level else 0.0)
            for p, (position, _, level) in zip(space, axes, strict=True)
        ]
        ys.append((row[col] - lo) / (hi - lo))
        pruned = row["state"] == "pruned"
        ax.plot(
            range(len(ys)),
            ys,
            color="lightgrey" if pruned else cmap(norm(row[col])),
            alpha=0.5 if pruned else 0.85,
            linewidth=1.0 if pruned else 1.6,
            zorder=1 if pruned else 2,
        )
    objective_ticks = [(i / 4, fmt(lo + i / 4 * (hi - lo))) for i in range(5)]
    for i, (_, ticks, _) in enumerate([*axes, (None, objective_ticks, False)]):
        for y, text in ticks:
            ax.text(
                i + 0.03,
                y,
                plot_text(text),
                fontsize=7,
                va="center",
                ha="left",
                zorder=3,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.5},
            )
    ax.vlines(range(len(names)), NA_POSITION - 0.03, 1.03, color="black", linewidth=0.8, zorder=0)
    ax.set_xticks(range(len(names)), [plot_text(n) for n in names], fontsize=9)
    ax.set_yticks([])
    ax.set_xlim(-0.3, len(names) - 0.6)
    ax.set_ylim(NA_POSITION - 0.06, 1.05)
    ax.grid(False)
    fig.colorbar(
        mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=plot_text(f"{s.metric} ({s.direction})")
    )
    pruned = len(drawn) - len(complete)
    left = len(df) - len(drawn)
    parts = [
        f"{pruned} pruned in grey, at the value they were stopped at" if pruned else "",
        f"{left} failed or unfinished left out" if left else "",
    ]
    note(fig, "; ".join(p for p in parts if p))
    return fig


def _axis(spec, column):
    """(value -> height in [0, 1], [(height, tick text)], whether its values are levels) for one
    searched path."""
    na = column.map(lambda v: v is None or (isinstance(v, float) and math.isnan(v))).any()
    extra = [(NA_POSITION, "n/a")] if na else []
    if spec.choices is not None:
        names = list(dict.fromkeys(fmt(c) for c in spec.choices))
        at = {n: (i / (len(names) - 1) if len(names) > 1 else 0.5) for i, n in enumerate(names)}
        return (lambda v: at.get(fmt(v), NA_POSITION)), [(at[n], n) for n in names] + extra, True
    scale = math.log10 if spec.log else float
    lo, hi = scale(spec.low), scale(spec.high)
    span = (hi - lo) or 1.0

    def position(v) -> float:
        if not isinstance(v, (int, float)) or isinstance(v, bool) or math.isnan(v):
            return NA_POSITION
        return (scale(v) - lo) / span

    if spec.log:  # the ends and the powers of ten between them, at least a third of a decade apart
        inside = [k for k in range(math.ceil(lo), math.floor(hi) + 1) if lo + 0.3 < k < hi - 0.3]
        ticks = [(position(10.0**k), 10.0**k) for k in inside]
        ticks = [(0.0, spec.low), *ticks, (1.0, spec.high)]
    else:
        ticks = [(i / 4, lo + i / 4 * span) for i in range(5)]
    return position, [(y, fmt(v)) for y, v in ticks] + extra, False


def importances(plt, s: Stored, df, objective: int = 0):
    """Optuna's importances for the `objective`-th objective, the count of completed trials they come
    from in the title, and a warning on the chart below IMPORTANCE_FLOOR of them."""
    from sweepnn.sweep.reading import param_importances

    values, left_out = param_importances(s.study, objective)
    if values is None:
        return left_out
    completed = int((df["state"] == "complete").sum())
    short = short_of(s)
    items = list(values.items())[::-1]  # the largest on top
    objectives = s.recipe.search.objectives
    of = f"\nfor {objectives[objective].metric}, objective {objective + 1} of {len(objectives)}"
    title = f"Parameter importances of {s.name} (PED-ANOVA, {completed} completed trials)"
    title += of if len(objectives) > 1 else ""
    fig, ax = figure(plt, title, "importance", "")
    ax.barh([plot_text(short.get(p, p)) for p, _ in items], [v for _, v in items], color="tab:blue")
    for i, (_, v) in enumerate(items):
        ax.text(v, i, f" {v:.2f}", va="center", fontsize=9)
    ax.set_xlim(0, max(v for _, v in items) * 1.15 or 1)
    ax.grid(axis="y", alpha=0)
    caveat = importance_caveat(completed)
    if caveat:
        warn(fig, ax, caveat.replace("STUDY", s.name))
    note(fig, left_out)
    return fig
