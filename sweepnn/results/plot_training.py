"""Charts of what happened inside trials: the learning curves of the best trials (training and
validation, of the loss and of each objective) and the best trial's learning-rate schedule."""

from __future__ import annotations

from sweepnn import record
from sweepnn.results.analysis import Stored
from sweepnn.results.plot_base import SIZE, colours, figure, label_axes, params_label
from sweepnn.results.tables import best_number, fmt
from sweepnn.results.values import params_of
from sweepnn.speed import finite
from sweepnn.untrusted import plot_text

CURVES = 5  # learning curves in one chart: more stop being told apart by colour
STEPS_PER_EPOCH = 100  # resolution of the recomputed schedule (the data's real count is not stored)
SPLITS = {"val": "-", "train": "--"}  # validation solid, training dashed: the same colour is one trial
SPLIT_NAMES = {"val": "validation", "train": "training"}
PANEL_SIZE = (4.6, 3.6)  # inches a panel takes; the legend of the trials goes under the panels
LOG_SPAN = 30  # a positive curve spanning more than this factor (a loss falling to 0.01) reads on a log axis


def panels(s: Stored) -> list[tuple[str, dict[str, str]]]:
    """The quantities the learning curves show: each objective, then the loss, each as (title, split ->
    the metric recorded for it). A metric recorded for both splits (val_accuracy and train_accuracy, as
    the metrics registry names them) is drawn with its twin; any other (train_time, a user's own
    metric) alone."""
    from sweepnn.options.metrics import METRICS

    out: dict[str, dict[str, str]] = {}
    for metric in [*(o.metric for o in s.recipe.search.objectives), "val_loss"]:
        _, _, rest = metric.partition("_")
        twins = {split: f"{split}_{rest}" for split in SPLITS}
        if metric in twins.values() and all(m in METRICS for m in twins.values()):
            out.setdefault(rest, twins)
        else:
            out.setdefault(metric, {"val": metric})
    return list(out.items())


def curves(plt, s: Stored, df):
    """A panel per quantity (panels()), a colour per trial: its validation curve solid, its training
    curve dashed; the legend names each trial by its searched values."""
    numbers = list(df.loc[df["state"] == "complete", "number"].head(CURVES))
    shown = panels(s)
    drawn = []
    for n in numbers:
        history = s.study.trials[n].user_attrs.get(record.HISTORY) or []
        lines = {
            (title, split): points
            for title, metrics in shown
            for split, metric in metrics.items()
            if (
                points := [(h["epoch"], h[metric]) for h in history if "epoch" in h and finite(h.get(metric))]
            )
        }
        if lines:
            drawn.append((n, lines))
    if not drawn:
        return f"no recorded {s.metric} per epoch"
    shown = [(t, m) for t, m in shown if any(k[0] == t for _, lines in drawn for k in lines)]
    width, height = PANEL_SIZE
    fig, axes = plt.subplots(
        1,
        len(shown),
        figsize=(max(SIZE[0], width * len(shown) + 0.6), height + 0.3 * len(drawn) + 0.6),
        layout="constrained",
    )
    axes = [axes] if len(shown) == 1 else list(axes)
    colour = colours(plt)
    for ax, (title, metrics) in zip(axes, shown, strict=True):
        label_axes(ax, "epoch", title)
        ax.set_title(plot_text(" / ".join(metrics.values())), fontsize=10)
        values = []
        for rank, (_, lines) in enumerate(drawn):
            for split, style in SPLITS.items():
                points = lines.get((title, split))
                if points:
                    xs, ys = zip(*points, strict=True)
                    values += ys
                    ax.plot(
                        xs,
                        ys,
                        linestyle=style,
                        marker="o" if split == "val" else None,
                        markersize=3,
                        color=colour[rank % len(colour)],
                        zorder=10 - rank,  # the best on top where curves cross
                    )
        if min(values) > 0 and max(values) / min(values) > LOG_SPAN:
            ax.set_yscale("log")
    _split_key(axes[0], [sp for sp in SPLITS if any(sp in m for _, m in shown)])
    fig.suptitle(plot_text(f"Learning curves of the best {len(drawn)} trials of {s.name}"), fontsize=11)
    handles = [
        plt.Line2D([], [], color=colour[i % len(colour)], marker="o", markersize=3) for i in range(len(drawn))
    ]
    labels = [
        plot_text(f"{rank}. trial {n}" + (f": {p}" if (p := params_label(s, s.study.trials[n])) else ""))
        for rank, (n, _) in enumerate(drawn, 1)
    ]
    fig.legend(handles, labels, loc="outside lower center", fontsize=9, frameon=False)
    return fig


def _split_key(ax, splits: list[str]) -> None:
    """Which line style is which split, in grey: the colours are the trials'."""
    import matplotlib.lines as mlines

    if len(splits) > 1:
        handles = [mlines.Line2D([], [], color="dimgrey", linestyle=SPLITS[sp]) for sp in splits]
        ax.legend(handles, [SPLIT_NAMES[sp] for sp in splits], loc="best", fontsize=8)


def schedule(plt, s: Stored, df):
    """The best trial's learning rate over training: its schedule recomputed step by step (as the
    trainer does, at a nominal 100 steps per epoch), and the rate it recorded at each epoch's end."""
    from sweepnn.recipe.space import apply

    number = best_number(s.study, s.recipe)
    if number is None:
        return "no trial completed"
    t = s.study.trials[number]
    cfg = apply(s.recipe, params_of(t, exact=True))  # as it trained
    lr, sched = getattr(cfg.train.optimizer, "lr", None), cfg.train.schedule
    if lr is None:
        return f"optimizer {cfg.train.optimizer.name} has no learning rate"
    xs, ys = schedule_curve(cfg)
    name = sched.name + (f" + {sched.warmup.name} warmup" if sched.warmup.name != "none" else "")
    title = f"Learning rate of trial {number} of {s.name}: {name}"
    fig, ax = figure(plt, title, "epoch", "learning rate")
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
    return [x / steps_per_epoch for x in steps], [
        lr * lr_factor(cfg.train.schedule, x, total, steps_per_epoch) for x in steps
    ]
