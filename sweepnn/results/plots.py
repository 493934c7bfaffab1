"""PNG charts of one study for `sweepnn plot`: optimization history, learning curves of the best
trials, the effect of each searched parameter, parameter importances, the best trial's
learning-rate schedule, and how fast and how robustly each option trains: performance profiles of
the time to a target and sensitivity curves of the objective (their figures: sweepnn.results.profiles).

matplotlib with the Agg backend, so charts are drawn the same on a headless CI runner as on a laptop.
It is an optional dependency (`pip install 'sweepnn[plot]'`): nothing else in sweepnn draws.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sweepnn import record
from sweepnn.atomic import replacing
from sweepnn.errors import InputError, SweepnnError
from sweepnn.results import profiles
from sweepnn.results.analysis import Stored, canonical, levels
from sweepnn.results.tables import best_number, fmt, trials_frame
from sweepnn.untrusted import plot_text

CURVES = 5  # learning curves in one chart: more stop being told apart by colour
# Profiles often coincide (ties, options that never reached the target): a line style each keeps
# a curve drawn under another one visible at its ends.
LINE_STYLES = ("-", "--", "-.", ":")
STEPS_PER_EPOCH = 100  # resolution of the recomputed schedule (the data's real count is not stored)


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise InputError("plots need matplotlib: pip install 'sweepnn[plot]'") from None
    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    return plt


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
    plt = _pyplot()
    df = trials_frame(stored.study, stored.recipe)
    charts: list[tuple[str, Callable[..., Any]]] = [("history", _history), ("curves", _curves)]
    for path in dict.fromkeys(canonical(p) for p in stored.recipe.search.space):
        charts.append((f"effect-{path}", lambda plt, s, df, path=path: _effect(plt, s, path)))
    charts += [("importances", _importances), ("lr-schedule", _schedule)]
    goal = profiles.target_of(stored, target)
    for path in [canonical(by)] if by else profiles.choice_paths(stored):
        charts.append((f"profile-{path}", lambda plt, s, df, path=path: _profile(plt, s, path, goal, unit)))
    curves_by = canonical(by) if by else profiles.default_by(stored)
    for x in profiles.numeric_paths(stored):
        if x != curves_by:
            charts.append((f"sensitivity-{x}", lambda plt, s, df, x=x: _sensitivity(plt, s, x, curves_by)))
    written, skipped = [], []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, draw in charts:
            fig = draw(plt, stored, df)
            if isinstance(fig, str):
                skipped.append(f"{name}: {fig}")
                continue
            with replacing(folder / f"{name}.png") as tmp:
                fig.savefig(tmp, dpi=100, format="png")
            plt.close(fig)
            written.append(folder / f"{name}.png")
    except OSError as e:
        raise SweepnnError(f"cannot write plots to {folder}: {e.strerror or e}") from None
    return written, skipped


def _figure(plt, title: str, xlabel: str, ylabel: str):
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
    if xlabel in ("trial", "epoch"):  # counts: no tick at trial 2.5
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    # titles name the study and its values: stored text, where a `$` would be read as math
    ax.set_title(plot_text(title), fontsize=11)
    ax.set_xlabel(plot_text(xlabel))
    ax.set_ylabel(plot_text(ylabel))
    ax.grid(alpha=0.3)
    return fig, ax


def _history(plt, s: Stored, df):
    col = f"objective.{s.metric}"
    done = df[df["state"].isin(["complete", "pruned"])].sort_values("number")
    if done.empty:
        return "no trial completed"
    fig, ax = _figure(plt, f"Optimization history of {s.name}", "trial", s.metric)
    complete = done[done["state"] == "complete"]
    pruned = done[done["state"] == "pruned"]
    ax.scatter(complete["number"], complete[col], s=18, label="complete", zorder=3)
    if len(pruned):
        ax.scatter(
            pruned["number"], pruned[col], s=18, marker="x", color="grey", label="pruned (value reached)"
        )
    if len(complete):
        best = complete[col].cummax() if s.direction == "maximize" else complete[col].cummin()
        last = done["number"].max()  # the best so far holds through the trials after it
        ax.step(
            [*complete["number"], last],
            [*best, best.iloc[-1]],
            where="post",
            color="tab:orange",
            label="best so far",
        )
    ax.legend(loc="best", fontsize=9)
    return fig


def _curves(plt, s: Stored, df):
    numbers = list(df.loc[df["state"] == "complete", "number"].head(CURVES))
    curves = []
    for n in numbers:
        history = s.study.trials[n].user_attrs.get(record.HISTORY) or []
        points = [(h["epoch"], h[s.metric]) for h in history if s.metric in h and "epoch" in h]
        if points:
            curves.append((n, points))
    if not curves:
        return f"no recorded {s.metric} per epoch"
    fig, ax = _figure(plt, f"Learning curves of the best {len(curves)} trials of {s.name}", "epoch", s.metric)
    for rank, (n, points) in enumerate(curves, 1):
        xs, ys = zip(*points, strict=True)
        # the searched values say which configuration a curve is (numbers shortened as in the tables)
        trial = s.study.trials[n]
        params = ", ".join(fmt(v) for v in trial.user_attrs.get(record.PARAMS, trial.params).values())
        label = f"{rank}. trial {n}" + (f": {params}" if params else "")
        ax.plot(xs, ys, marker="o", markersize=3, label=plot_text(label), zorder=10 - rank)
    ax.legend(loc="best", fontsize=9)
    return fig


def _effect(plt, s: Stored, path: str):
    """A scatter for a numeric range; a box per value (with every trial as a dot) for choices."""
    from sweepnn.results.analysis import completed_frame

    df = completed_frame([s], [path])
    if df.empty:
        return "no trial completed"
    spec = next(v for k, v in s.recipe.search.space.items() if canonical(k) == path)
    title = f"{s.metric} by {path} ({s.name})"
    is_number = df[path].map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
    if spec.is_range and is_number.any():
        missing = int((~is_number).sum())  # a conditional parameter: trials where it does not apply
        title += f"; not applicable in {missing} trials" if missing else ""
        fig, ax = _figure(plt, title, path, s.metric)
        ax.scatter(df[path][is_number].astype(float), df["value"][is_number], s=18, alpha=0.8)
        if spec.log:
            ax.set_xscale("log")
        return fig
    fig, ax = _figure(plt, title, path, s.metric)
    groups, order = levels(df[path])
    data = [df["value"][groups == v].tolist() for v in order]
    ax.boxplot(data, showfliers=False)
    rng = random.Random(0)  # the jitter is the same every time the chart is drawn
    for i, ys in enumerate(data, 1):
        xs = [i + rng.uniform(-0.15, 0.15) for _ in ys]
        ax.scatter(xs, ys, s=14, alpha=0.7, color="tab:blue", zorder=3)
    labels = [plot_text(f"{fmt(v)}\n(n={len(ys)})") for v, ys in zip(order, data, strict=True)]
    ax.set_xticks(range(1, len(order) + 1), labels, rotation=30 if len(order) > 4 else 0, fontsize=9)
    return fig


def _importances(plt, s: Stored, df):
    from sweepnn.recipe.space import short_names
    from sweepnn.sweep.reading import param_importances

    values, note = param_importances(s.study)
    if values is None:
        return note
    names = short_names(list(values))
    items = list(values.items())[::-1]  # the largest on top
    fig, ax = _figure(plt, f"Parameter importances of {s.name} (PED-ANOVA)", "importance", "")
    ax.barh([plot_text(names[p]) for p, _ in items], [v for _, v in items], color="tab:blue")
    for i, (_, v) in enumerate(items):
        ax.text(v, i, f" {v:.2f}", va="center", fontsize=9)
    ax.set_xlim(0, max(v for _, v in items) * 1.15)
    ax.grid(axis="y", alpha=0)
    return fig


def _schedule(plt, s: Stored, df):
    """The best trial's learning rate over training: its schedule recomputed step by step (as the
    trainer does, at a nominal 100 steps per epoch), and the rate it recorded at each epoch's end."""
    from sweepnn.recipe.space import apply

    number = best_number(s.study, s.recipe)
    if number is None:
        return "no trial completed"
    t = s.study.trials[number]
    cfg = apply(s.recipe, t.user_attrs.get(record.PARAMS, t.params))
    lr, schedule = getattr(cfg.train.optimizer, "lr", None), cfg.train.schedule
    if lr is None:
        return f"optimizer {cfg.train.optimizer.name} has no learning rate"
    xs, ys = schedule_curve(cfg)
    name = schedule.name + (f" + {schedule.warmup.name} warmup" if schedule.warmup.name != "none" else "")
    title = f"Learning rate of trial {number} of {s.name}: {name}"
    fig, ax = _figure(plt, title, "epoch", "learning rate")
    ax.plot(xs, ys, label=f"schedule, base lr {fmt(lr)} (recomputed)")
    recorded = [
        (h["epoch"], h["lr"]) for h in t.user_attrs.get(record.HISTORY) or [] if "lr" in h and "epoch" in h
    ]
    if recorded:
        ex, ey = zip(*recorded, strict=True)
        ax.scatter(ex, ey, s=16, color="tab:orange", zorder=3, label="recorded at epoch end")
    # Decays over decades (step, exponential) read on a log axis; judged at 3/4 of training, since a
    # cosine or linear decay reaching zero at the last step would otherwise always look like one.
    late = ys[len(ys) * 3 // 4]
    if late > 0 and max(ys) / late > 30:
        ax.set_yscale("log")
    ax.legend(loc="best", fontsize=9)
    ax.set_ylim(bottom=None if ax.get_yscale() == "log" else 0)
    return fig


def schedule_curve(cfg, steps_per_epoch: int = STEPS_PER_EPOCH) -> tuple[list[float], list[float]]:
    """(epoch, learning rate) at every step of a configuration's training, as the trainer sets it."""
    from sweepnn.options.schedules import lr_factor

    # a budget in steps is its own length; epochs are counted at steps_per_epoch (the data's real
    # count is not stored), so warmup in epochs sits where it would with that many steps an epoch
    total = cfg.train.steps or cfg.train.epochs * steps_per_epoch
    lr = cfg.train.optimizer.lr
    steps = range(0, total, max(1, total // 20_000))  # a chart needs no more points than that
    return [s / steps_per_epoch for s in steps], [
        lr * lr_factor(cfg.train.schedule, s, total, steps_per_epoch) for s in steps
    ]


def _note(fig, text: str) -> None:
    """A line under the chart saying what its figures leave out (stored values: safe text). The
    figure's x label, so the constrained layout makes room for it."""
    if text:
        fig.supxlabel(plot_text(text), fontsize=8, color="dimgrey", x=0.01, ha="left")


def _profile(plt, s: Stored, path: str, target, unit: str):
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
    fig, ax = _figure(plt, title, xlabel, "ρ(τ): share of settings within τ")
    # two lines an option while the legend fits beside the chart's height, one line past that
    between = "\n" if len(profile.options) <= 6 else ": "
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
            label=plot_text(f"{fmt(option)}{between}{count}"),
        )
    ax.set_xscale("log")
    ax.set_xlim(1, tau_max)
    ax.set_ylim(-0.03, 1.03)
    _tau_ticks(ax, tau_max)
    _legend_outside(ax)
    _title_over_figure(fig, ax)
    _note(fig, _profile_note(profile, timed, settings))
    return fig


def _tau_ticks(ax, tau_max: float) -> None:
    """Plain numbers (1, 2, 5, 10) on the log axis of ratios, not powers of ten."""
    from matplotlib.ticker import FixedLocator, NullFormatter

    ticks = [t for t in (1, 1.5, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000) if t <= tau_max]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.set_xticklabels([fmt(t) for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())


def _legend_outside(ax) -> None:
    """The legend right of the axes: curves of these charts run across the whole plot, under any
    corner a legend inside would take."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9, borderaxespad=0)


def _title_over_figure(fig, ax) -> None:
    """The title centred over the whole figure: with the legend beside the axes, a long title would
    run past the axes' narrower width and be cut."""
    title = ax.get_title()
    ax.set_title("")
    fig.suptitle(title, fontsize=11)


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


def _sensitivity(plt, s: Stored, x: str, by: str | None, how: str = "median"):
    """The objective against a numeric path, a curve per value of `by` through the median of the
    trials at each x, every trial a dot (Schneider et al. 2019, DeepOBS)."""
    made = profiles.sensitivity(s, x, by, how)
    if isinstance(made, str):
        return made
    per = f"a curve per {by}: " if by else ""
    title = (
        f"Sensitivity of {s.metric} to {x} ({s.name})\n{per}the {how} of the trials at each value, a dot each"
    )
    fig, ax = _figure(plt, title, x, f"{s.metric} (final)")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, curve in enumerate(made.curves):
        colour = colours[i % len(colours)]
        dots = made.trials[made.trials["curve"] == curve]
        line = made.points[made.points["curve"] == curve]
        ax.scatter(dots["x"], dots["value"], s=12, alpha=0.35, color=colour, zorder=2)
        label = f"{fmt(curve)} ({len(dots)} trials)" if by else f"{len(dots)} trials"
        ax.plot(
            line["x"], line["value"], marker="o", markersize=4, color=colour, label=plot_text(label), zorder=3
        )
    spec = next((v for k, v in s.recipe.search.space.items() if canonical(k) == x), None)
    xs = made.trials["x"]
    # A learning rate reads on a log axis; so does any positive range searched over decades.
    if (spec is not None and spec.log) or (xs.min() > 0 and xs.max() / xs.min() >= 100):
        ax.set_xscale("log")
    _legend_outside(ax)
    _title_over_figure(fig, ax)
    if made.missing:
        _note(fig, f"{x} does not apply in {made.missing} completed trials (left out)")
    return fig
