"""What every chart of `sweepnn plot` shares: matplotlib loaded headless, a titled figure, the
note under a chart and the warning over it, legends outside the axes, and how a trial's searched
values are named (`path=value`, with the tables' short names and number format).

matplotlib with the Agg backend, so charts are drawn the same on a headless CI runner as on a laptop.
It is an optional dependency (`pip install 'sweepnn[plot]'`): nothing else in sweepnn draws.
"""

from __future__ import annotations

from typing import Any

from sweepnn.errors import InputError
from sweepnn.results.analysis import Stored, canonical
from sweepnn.results.tables import fmt
from sweepnn.results.values import params_of
from sweepnn.untrusted import plot_text

SIZE = (7.5, 4.5)  # inches, at DPI: the size of a chart with one plot
DPI = 100
WARNING_COLOUR = "firebrick"
WARNING_WIDTH = 95  # characters a line of a warning holds over a chart of SIZE


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend; a missing matplotlib names the extra."""
    try:
        import matplotlib
    except ImportError:
        raise InputError("plots need matplotlib: pip install 'sweepnn[plot]'") from None
    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    return plt


def figure(plt, title: str, xlabel: str, ylabel: str, size: tuple[float, float] = SIZE):
    """A new figure with one set of axes, titled and labelled."""
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    ax.set_title(plot_text(title), fontsize=11)  # stored text, where a `$` would be read as math
    label_axes(ax, xlabel, ylabel)
    return fig, ax


def label_axes(ax, xlabel: str, ylabel: str) -> None:
    """Axis labels (stored text, shown as it is) and a light grid; whole-number ticks for counts."""
    from matplotlib.ticker import MaxNLocator

    if xlabel in ("trial", "epoch"):  # counts: no tick at trial 2.5
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(plot_text(xlabel))
    ax.set_ylabel(plot_text(ylabel))
    ax.grid(alpha=0.3)


def colours(plt) -> list[str]:
    """The colour cycle: one colour per trial or per option, the same in every panel of a chart."""
    return plt.rcParams["axes.prop_cycle"].by_key()["color"]


def note(fig, text: str) -> None:
    """A line under the chart saying what its figures leave out (stored values: safe text). The
    figure's x label, so the constrained layout makes room for it."""
    if text:
        fig.supxlabel(plot_text(text), fontsize=8, color="dimgrey", x=0.01, ha="left")


def warn(fig, ax, text: str, width: int = WARNING_WIDTH) -> None:
    """A warning a reader cannot miss: in red, boxed, where the axes' title goes (the chart's own title
    moves over the whole figure), so the layout keeps it clear of the bars; wrapped to the chart."""
    import textwrap

    title_over_figure(fig, ax)
    lines = [line for paragraph in text.split("\n") for line in textwrap.wrap(paragraph, width)]
    ax.set_title(
        plot_text("\n".join(lines)),
        fontsize=9,
        color=WARNING_COLOUR,
        loc="left",
        bbox={"boxstyle": "round", "facecolor": "mistyrose", "edgecolor": WARNING_COLOUR},
    )


def legend_outside(ax, title: str | None = None) -> None:
    """The legend right of the axes: curves of these charts run across the whole plot, under any
    corner a legend inside would take."""
    legend = ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        fontsize=9,
        borderaxespad=0,
        title=title and plot_text(title),
    )
    if title:
        legend.get_title().set_fontsize(9)


def title_over_figure(fig, ax) -> None:
    """The title centred over the whole figure: with the legend beside the axes, a long title would
    run past the axes' narrower width and be cut."""
    title = ax.get_title()
    ax.set_title("")
    fig.suptitle(title, fontsize=11)


# ---- a trial's searched values, as the tables name them ------------------------------------------


def short_of(s: Stored) -> dict[str, str]:
    """Each searched path (as written in the recipe, and canonical) -> the short name the tables show."""
    from sweepnn.recipe.space import short_names

    raw = list(s.recipe.search.space)
    short = short_names(raw)
    return {**short, **{canonical(p): short[p] for p in raw}}


def assignment(name: str, value: Any) -> str:
    """`lr=0.05079`: a value with the name of its path."""
    return f"{name}={fmt(value)}"


def params_label(s: Stored, trial) -> str:
    """The searched values of a trial as `init=he_normal, lr=0.01` in the recipe's order: what tells its
    configuration apart from the others' (the values it did not sample, such as a momentum under adam,
    are left out)."""
    params = params_of(trial)
    short = short_of(s)
    return ", ".join(assignment(short[p], params[p]) for p in s.recipe.search.space if p in params)
