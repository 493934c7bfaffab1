"""PNG charts of one study for `sweepnn plot`: optimization history, learning curves of the best
trials, the effect of each searched parameter, parameter importances, and the best trial's
learning-rate schedule.

matplotlib with the Agg backend, so charts are drawn the same on a headless CI runner as on a laptop.
It is an optional dependency (`pip install 'sweepnn[plot]'`): nothing else in sweepnn draws.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sweepnn import record
from sweepnn.atomic import replacing
from sweepnn.errors import InputError, SweepnnError
from sweepnn.results.analysis import Stored, canonical, levels
from sweepnn.results.tables import best_number, fmt, trials_frame
from sweepnn.untrusted import plot_text

CURVES = 5  # learning curves in one chart: more stop being told apart by colour
STEPS_PER_EPOCH = 100  # resolution of the recomputed schedule (the data's real count is not stored)


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise InputError("plots need matplotlib: pip install 'sweepnn[plot]'") from None
    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    return plt


def write_plots(stored: Stored, folder: Path) -> tuple[list[Path], list[str]]:
    """Draw every chart that the study has data for. Returns (files written, 'name: why not' notes)."""
    plt = _pyplot()
    df = trials_frame(stored.study, stored.recipe)
    charts: list[tuple[str, Callable[..., Any]]] = [("history", _history), ("curves", _curves)]
    for path in dict.fromkeys(canonical(p) for p in stored.recipe.search.space):
        charts.append((f"effect-{path}", lambda plt, s, df, path=path: _effect(plt, s, path)))
    charts += [("importances", _importances), ("lr-schedule", _schedule)]
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

    total = cfg.train.epochs * steps_per_epoch
    lr = cfg.train.optimizer.lr
    steps = range(total)
    return [s / steps_per_epoch for s in steps], [
        lr * lr_factor(cfg.train.schedule, s, total, steps_per_epoch) for s in steps
    ]
