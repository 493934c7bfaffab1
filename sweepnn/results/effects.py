"""What `sweepnn compare` computes: studies' best trials side by side, the marginal effect of one
path's values over all completed trials, and the two-way table of two paths.

Seed repeats (`search.repeats`) give each trial a spread. A value's best trial then gets a 95%
t-interval (k seeds are few, so Student's t rather than the normal), and a Welch t-test against the
overall best trial says whether the two are told apart at the 5% level. Welch rather than "do the
intervals overlap": two 95% intervals can overlap while the means differ at p < 0.05 (non-overlap
corresponds to about p < 0.006), so overlap would call real differences ties; and Welch does not
assume the two configurations are equally noisy. With fewer than 2 seeds nothing is tested.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import pandas as pd

from sweepnn import record
from sweepnn.errors import InputError, did_you_mean
from sweepnn.recipe.space import short_names
from sweepnn.record import results_of
from sweepnn.results.analysis import PathValues, Stored, canonical, completed_frame, levels
from sweepnn.results.tables import TEST_COLUMNS, best_number, fmt
from sweepnn.results.values import params_of

ALPHA = 0.05  # a value is "tied" with the best when Welch's test cannot tell them apart at this level


def side_by_side(studies: list[Stored], target=None) -> pd.DataFrame:
    """One row per study: its best trial's objective, outcome, parameters (fixed ones read from its
    recipe, so every row shows every searched path), the settings the studies fixed differently
    (sweepnn.results.settings), epochs and time; best study first. With a `target`
    (sweepnn.speed.Target), also how many of its trials reached it and the fastest one's epochs and
    seconds to it."""
    from sweepnn.record import held_out_scores
    from sweepnn.results.settings import differing

    searched = [canonical(p) for s in studies for p in s.recipe.search.space]
    paths = list(dict.fromkeys([*searched, *(d.path for d in differing(studies))]))
    fixed = ["study", "trials", "complete", "objective", "best", "trial", "outcome"]
    short = short_names(paths, fixed=[*fixed, *TEST_COLUMNS[:2], "epochs", "time (s)"])
    rows = []
    for s in studies:
        trials = s.study.get_trials(deepcopy=False)
        number = best_number(s.study, s.recipe)
        row: dict[str, Any] = {
            "study": s.name,
            "trials": len(results_of(trials)),
            "complete": sum(t.state.name == "COMPLETE" for t in trials),
            "objective": s.metric,
        }
        if number is None:
            rows.append({**row, "outcome": "no trial completed"})
            continue
        t = s.study.trials[number]
        tested = held_out_scores(s.study).get(number, {})
        values = PathValues(s.recipe, paths).of(params_of(t))
        rows.append(
            {
                **row,
                "best": t.values[0],
                "trial": number,
                "outcome": record.outcome_of(t, record.judged(trials)) or "ok",
                **{c: tested[c] for c in TEST_COLUMNS[:2] if c in tested},
                **{short[p]: values[p] for p in paths},
                "epochs": t.user_attrs.get(record.EPOCHS),
                "time (s)": t.user_attrs.get(record.SECONDS),
                **(_fastest(trials, target) if target else {}),
            }
        )
    tests = [c for c in TEST_COLUMNS[:2] if any(c in r for r in rows)]
    columns = [*fixed, *tests]
    timed = ["reached", "fastest", "epochs to", "s to"] if target else []
    df = pd.DataFrame(rows, columns=[*columns, *short.values(), "epochs", "time (s)", *timed])
    if len({(s.metric, s.direction) for s in studies}) == 1:  # one objective: rank the studies by it
        df = df.sort_values("best", ascending=studies[0].direction == "minimize", kind="stable")
    counts = {
        "trial": "Int64",
        "epochs": "Int64",
        **({"fastest": "Int64", "epochs to": "Int64"} if target else {}),
    }
    return df.reset_index(drop=True).astype(counts)


def _fastest(trials, target) -> dict[str, Any]:
    """Of a study's completed trials: how many reached `target`, and the fastest one's number, epochs
    and seconds to it."""
    from sweepnn import speed

    complete = [t for t in results_of(trials) if t.state.name == "COMPLETE"]
    got = [
        (r, t.number) for t in complete if (r := speed.reach(t.user_attrs.get(record.HISTORY) or [], target))
    ]
    out: dict[str, Any] = {"reached": f"{len(got)}/{len(complete)}"}
    if got:
        (epochs, seconds), number = min(got, key=lambda g: g[0][1])
        out |= {"fastest": number, "epochs to": epochs, "s to": seconds}
    return out


def shared_objective(studies: list[Stored]) -> tuple[str, str]:
    """The (metric, direction) all the studies optimize first; pooling trials needs one."""
    objectives = {(s.metric, s.direction) for s in studies}
    if len(objectives) > 1:
        each = ", ".join(f"{s.name}: {s.metric} ({s.direction})" for s in studies)
        raise InputError(
            f"--by pools trials of studies that optimize one objective; these differ: {each}."
            " Compare them without --by, or name studies with the same objective"
        )
    return objectives.pop()


def trials_for(
    studies: list[Stored], paths: list[str], metric: str | None = None, target=None
) -> tuple[pd.DataFrame, str]:
    """The completed trials of the studies with their value (the objective, or `metric`) at each path,
    and its direction; with a `target` (sweepnn.speed.Target) each trial's epochs and seconds to it."""
    if metric is None:
        _, direction = shared_objective(studies)
    else:
        direction = metric_direction(studies, metric)
    df = completed_frame(studies, paths, metric, target)
    if df.empty:
        names = ", ".join(s.name for s in studies)
        what = f" recorded {metric}" if metric else ""
        raise InputError(f"no completed trial in {names}{what}: nothing to compare")
    return df, direction


def metric_direction(studies: list[Stored], metric: str) -> str:
    """Which way is better for a metric `compare --metric` names: an objective's own direction, the
    metric's natural one, the first objective's for `auc`; a metric sweepnn does not know the
    direction of (a diagnostic) is listed lowest first. Unknown names are an error with the choices."""
    from sweepnn.options.metrics import METRICS
    from sweepnn.results.analysis import recorded_metrics

    known = recorded_metrics(studies)
    if metric not in known:
        raise InputError(
            f"--metric {metric!r} is not recorded by these studies;{did_you_mean(metric, known)}"
            f" recorded: {', '.join(known)}"
        )
    for s in studies:
        for o in s.recipe.search.objectives:
            if o.metric == metric:
                return o.direction
    if metric == "auc":
        return studies[0].direction
    if metric in METRICS:
        return METRICS[metric].direction
    return "minimize"


def target_of(studies: list[Stored], given: dict[str, float] | None):
    """The one target `compare --target` times trials to: the command's, the first study's recipe's,
    else SHOWN_FRACTION of the way from a trivial predictor to the best of all the trials pooled."""
    from sweepnn.results.speed_columns import shown_target

    for m in given or {}:
        metric_direction(studies, m)  # a metric the studies record, or an error naming those they do
    trials = [t for s in studies for t in s.study.get_trials(deepcopy=False)]
    target = shown_target(trials, studies[0].recipe, given)
    if target is None:
        raise InputError("no completed trial to set a target from: give one, e.g. --target val_accuracy=0.9")
    return target


def _trial_name(df: pd.DataFrame, i: int) -> str:
    one_study = df["study"].nunique() == 1
    return str(df.at[i, "trial"]) if one_study else f"{df.at[i, 'study']}#{df.at[i, 'trial']}"


def bounds(metric: str) -> tuple[float, float]:
    """The values a metric can take: an accuracy is a share, R^2 is at most 1, losses and times are
    never negative. An interval is cut to them (a t-interval of 2 seeds at 0.97 would reach 1.3)."""
    if metric.endswith("_accuracy"):
        return 0.0, 1.0
    if metric.endswith("_r2"):
        return -math.inf, 1.0
    return 0.0, math.inf


def marginal(df: pd.DataFrame, path: str, direction: str, metric: str = "") -> pd.DataFrame:
    """Per value of `path`: trials, mean, std, best, median rank among all trials (1 is the best), the
    best trial; with seed repeats also that trial's 95% interval (within the `metric`'s bounds) and
    whether it ties the overall best."""
    minimize = direction == "minimize"
    ranks = df["value"].rank(ascending=minimize, method="min")
    groups, order = levels(df[path])
    rows = []
    for value in order:
        g = df["value"][groups == value]
        best = g.idxmin() if minimize else g.idxmax()
        rows.append(
            {
                path: value,
                "trials": len(g),
                "mean": g.mean(),
                "std": g.std() if len(g) > 1 else math.nan,  # one trial has no spread
                "best": g[best],
                "median rank": ranks[g.index].median(),
                "best trial": _trial_name(df, best),
                "_seeds": df.at[best, "seeds"],
            }
        )
    out = pd.DataFrame(rows).sort_values(["best", "mean"], ascending=minimize, kind="stable")
    out = out.reset_index(drop=True)
    seeds = out.pop("_seeds")
    if seeds.notna().any():
        out = pd.concat([out, _intervals(list(seeds), bounds(metric))], axis=1)
    if "to_seconds" in df:
        out = pd.concat([out, _to_target(df, path, list(out[path]))], axis=1)
    return out


def _to_target(df: pd.DataFrame, path: str, order: list[Any]) -> pd.DataFrame:
    """Per value of `path` (in `order`): how many trials reached the target (and of their seeds, how
    many ended at it), the median epochs and seconds of those that did, and the rank by speed: by the
    median seconds over all its trials, one that never reached the target counting as slowest of all
    (AlgoPerf's infinite time), so reaching it more often ranks first; then by the median of those
    that reached it. A value none of whose trials reached it has no rank."""
    groups, _ = levels(df[path])
    rows = []
    for value in order:
        g = df[groups == value]
        hit = g[g["to_seconds"].notna()]
        seeds = [s for s in g["seeds_reached"] if s is not None]
        rows.append(
            {
                "reached": f"{len(hit)}/{len(g)}",
                **(
                    {"seeds reached": f"{sum(a for a, _ in seeds)}/{sum(n for _, n in seeds)}"}
                    if seeds
                    else {}
                ),
                "epochs to": hit["to_epochs"].median() if len(hit) else math.nan,
                "s to": hit["to_seconds"].median() if len(hit) else math.nan,
                "_all": g["to_seconds"].fillna(math.inf).median(),
            }
        )
    out = pd.DataFrame(rows)
    key = pd.DataFrame({"all": out.pop("_all"), "hit": out["s to"].fillna(math.inf)})
    ranked = key.sort_values(["all", "hit"], kind="stable").index
    rank = pd.Series(range(1, len(out) + 1), index=ranked).sort_index()
    out["speed rank"] = rank.where(key["hit"] < math.inf).astype("Int64")  # never reached: no rank
    return out


def _intervals(
    seeds: list[tuple[float, ...] | None], limits: tuple[float, float] = (-math.inf, math.inf)
) -> pd.DataFrame:
    """The 95% t-interval of each row's best trial and Welch's test against row 0 (the best)."""
    from scipy.special import stdtrit  # scipy.special, not scipy.stats: a second less to start

    rows = []
    for i, s in enumerate(seeds):
        if s is None:
            rows.append(
                {"seeds": 0, "ci low": math.nan, "ci high": math.nan, "p vs best": math.nan, "tied": ""}
            )
            continue
        n, mean, sd = len(s), statistics.fmean(s), statistics.stdev(s)
        half = stdtrit(n - 1, 0.975) * sd / math.sqrt(n)
        p = math.nan if i == 0 else welch_p(seeds[0], s)
        tied = "best" if i == 0 else ("" if math.isnan(p) else ("yes" if p >= ALPHA else "no"))
        low, high = max(mean - half, limits[0]), min(mean + half, limits[1])
        rows.append({"seeds": n, "ci low": low, "ci high": high, "p vs best": p, "tied": tied})
    return pd.DataFrame(rows)


def welch_p(a: tuple[float, ...] | None, b: tuple[float, ...]) -> float:
    """Two-sided p of Welch's t-test of equal means; NaN when either side has fewer than 2 seeds."""
    from scipy.special import stdtr

    if a is None or len(a) < 2 or len(b) < 2:
        return math.nan
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)  # squared standard errors
    diff = statistics.fmean(a) - statistics.fmean(b)
    if va + vb == 0:  # no noise at all: equal means tie, different ones do not
        return 1.0 if diff == 0 else 0.0
    t = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))  # Welch-Satterthwaite
    return float(2 * stdtr(df, -abs(t)))


def two_way(df: pd.DataFrame, rows: str, cols: str, direction: str) -> pd.DataFrame:
    """Long form of the two-way table: per (row value, column value) trials, mean, std and best."""
    minimize = direction == "minimize"
    a, a_order = levels(df[rows])
    b, b_order = levels(df[cols])
    out = []
    for va in a_order:
        for vb in b_order:
            cell = (a == va) & (b == vb)
            g = df["value"][cell]
            if len(g):
                best = g.min() if minimize else g.max()
                row = {rows: va, cols: vb, "trials": len(g), "mean": g.mean(), "std": g.std(), "best": best}
                if "to_seconds" in df:  # the speed to the target: how many got there, how fast
                    hit = df["to_seconds"][cell].dropna()
                    row |= {"reached": len(hit), "s to": hit.median() if len(hit) else math.nan}
                out.append(row)
    speed = ["reached", "s to"] if "to_seconds" in df else []
    long = pd.DataFrame(out, columns=[rows, cols, "trials", "mean", "std", "best", *speed])
    long.attrs["order"] = (a_order, b_order)  # quartile labels do not sort as text
    return long


def pivot(long: pd.DataFrame, rows: str, cols: str, cell) -> pd.DataFrame:
    """The long two-way table as rows x columns; cell(record) is the text of one cell ('' if empty)."""
    a_order, b_order = long.attrs["order"]
    cells = {(r[rows], r[cols]): cell(r) for r in long.to_dict("records")}
    header = f"{rows} \\ {cols}"
    # values spelled as in every other table (booleans yes/no, numbers to 4 digits)
    return pd.DataFrame(
        [{header: fmt(va), **{fmt(vb): cells.get((va, vb), "") for vb in b_order}} for va in a_order],
        columns=[header, *map(fmt, b_order)],
    )
