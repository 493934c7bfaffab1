"""How fast and how robustly each option trains: performance profiles of the time to a target and
sensitivity curves of the objective (their figures: sweepnn.results.profiles)."""

from __future__ import annotations

import math

from sweepnn.results import profiles
from sweepnn.results.analysis import Stored, canonical
from sweepnn.results.plot_base import (
    assignment,
    colours,
    figure,
    legend_outside,
    note,
    short_of,
    title_over_figure,
)
from sweepnn.results.tables import fmt
from sweepnn.untrusted import plot_text

# Profiles often coincide (ties, options that never reached the target): a line style each keeps
# a curve drawn under another one visible at its ends.
LINE_STYLES = ("-", "--", "-.", ":")


def profile(plt, s: Stored, path: str, target, unit: str):
    """Step curves rho(tau) per option of `path`: the share of settings where its time to the target
    is within tau times the fastest option's (Dolan & More 2002; MLCommons AlgoPerf)."""
    if isinstance(target, str):
        return target
    made = profiles.profile(s, path, target, unit)
    if isinstance(made, str):
        return made
    profile, timed = made
    tau_max = profile.tau_max()
    settings = len(profile.ratios)
    title = (
        f"Performance profile of {path} ({s.name})\n"
        f"{unit} of training to {target.describe()}, over the fastest option's in each setting"
    )
    xlabel = f"τ: time / the fastest option's time in the same setting ({unit})"
    fig, ax = figure(plt, title, xlabel, "ρ(τ): share of settings within τ")
    # two lines an option while the legend fits beside the chart's height, one line past that
    between = "\n" if len(profile.options) <= 6 else ": "
    name = short_of(s).get(path, path)
    for i, option in enumerate(profile.options):
        xs, ys = profile.curve(option, tau_max)
        ran = profile.settings_of(option)
        if not ran:
            continue  # ran only where no option reached the target: said in the note
        # what the curve's two ends say, in numbers: rho(1) and the height it ends at
        column = profile.ratios[option].dropna()
        fastest, reached = int((column == 1).sum()), int(column.map(math.isfinite).sum())
        count = f"fastest {fastest}, reached {reached}/{ran}" if reached else f"never reached ({ran})"
        ax.step(
            xs,
            ys,
            where="post",
            linestyle=LINE_STYLES[i % len(LINE_STYLES)],
            linewidth=2.2 - 0.3 * (i % 4),  # the first drawn widest: later ones show on top of it
            label=plot_text(f"{assignment(name, option)}{between}{count}"),
        )
    ax.set_xscale("log")
    ax.set_xlim(1, tau_max)
    ax.set_ylim(-0.03, 1.03)
    _tau_ticks(ax, tau_max)
    legend_outside(ax)
    title_over_figure(fig, ax)
    note(fig, _profile_note(profile, timed, settings))
    return fig


def _tau_ticks(ax, tau_max: float) -> None:
    """Plain numbers (1, 2, 5, 10) on the log axis of ratios, not powers of ten."""
    from matplotlib.ticker import FixedLocator, NullFormatter

    ticks = [t for t in (1, 1.5, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000) if t <= tau_max]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.set_xticklabels([fmt(t) for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())


def _profile_note(profile, timed, settings: int) -> str:
    if timed.setting_paths:
        what = (
            f"{settings} setting{'s' if settings != 1 else ''} (values of {', '.join(timed.setting_paths)})"
        )
    else:
        what = "1 setting (nothing else searched)"
    parts = [what]
    if profile.unreached:
        parts.append(f"{profile.unreached} where no option reached the target left out")
    absent = [fmt(o) for o in profile.options if not profile.settings_of(o)]
    if absent:
        parts.append(f"{', '.join(absent)} ran only there")
    if timed.tuned:
        parts.append(f"tuned over {', '.join(timed.tuned)} (each option's fastest trial)")
    if timed.untimed:
        parts.append(f"{timed.untimed} trials without a recorded time left out")
    return "; ".join(parts)


def sensitivity(plt, s: Stored, x: str, by: str | None, how: str = "median"):
    """The objective against a numeric path, a curve per value of `by` through the median of the
    trials at each x, every trial a dot (Schneider et al. 2019, DeepOBS)."""
    made = profiles.sensitivity(s, x, by, how)
    if isinstance(made, str):
        return made
    per = f"a curve per {by}: " if by else ""
    title = (
        f"Sensitivity of {s.metric} to {x} ({s.name})\n{per}the {how} of the trials at each value, a dot each"
    )
    fig, ax = figure(plt, title, x, f"{s.metric} (final)")
    cycle = colours(plt)
    for i, curve in enumerate(made.curves):
        colour = cycle[i % len(cycle)]
        dots = made.trials[made.trials["curve"] == curve]
        line = made.points[made.points["curve"] == curve]
        ax.scatter(dots["x"], dots["value"], s=12, alpha=0.35, color=colour, zorder=2)
        label = (
            f"{assignment(short_of(s).get(by, by), curve)} ({len(dots)} trials)"
            if by
            else f"{len(dots)} trials"
        )
        ax.plot(
            line["x"], line["value"], marker="o", markersize=4, color=colour, label=plot_text(label), zorder=3
        )
    spec = next((v for k, v in s.recipe.search.space.items() if canonical(k) == x), None)
    xs = made.trials["x"]
    # A learning rate reads on a log axis; so does any positive range searched over decades.
    if (spec is not None and spec.log) or (xs.min() > 0 and xs.max() / xs.min() >= 100):
        ax.set_xscale("log")
    legend_outside(ax)
    title_over_figure(fig, ax)
    if made.missing:
        note(fig, f"{x} does not apply in {made.missing} completed trials (left out)")
    return fig
