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
from sweepnn.errors import InputError
from sweepnn.recipe.space import short_names
from sweepnn.record import results_of
from sweepnn.results.analysis import PathValues, Stored, canonical, completed_frame, levels
from sweepnn.results.tables import TEST_COLUMNS, best_number, fmt

ALPHA = 0.05  # a value is "tied" with the best when Welch's test cannot tell them apart at this level


def side_by_side(studies: list[Stored]) -> pd.DataFrame:
    """One row per study: its best trial's objective, outcome, parameters (fixed ones read from its
    recipe, so every row shows every searched path), epochs and time; best study first."""
    from sweepnn.record import held_out_scores

    paths = list(dict.fromkeys(canonical(p) for s in studies for p in s.recipe.search.space))
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
        values = PathValues(s.recipe, paths).of(t.user_attrs.get(record.PARAMS, t.params))
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
            }
        )
    tests = [c for c in TEST_COLUMNS[:2] if any(c in r for r in rows)]
    columns = [*fixed, *tests]
    df = pd.DataFrame(rows, columns=[*columns, *short.values(), "epochs", "time (s)"])
    if len({(s.metric, s.direction) for s in studies}) == 1:  # one objective: rank the studies by it
        df = df.sort_values("best", ascending=studies[0].direction == "minimize", kind="stable")
    return df.reset_index(drop=True).astype({"trial": "Int64", "epochs": "Int64"})


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


def trials_for(studies: list[Stored], paths: list[str]) -> tuple[pd.DataFrame, str]:
    """The completed trials of the studies with their value at each path, and the objective direction."""
    _, direction = shared_objective(studies)
    df = completed_frame(studies, paths)
    if df.empty:
        names = ", ".join(s.name for s in studies)
        raise InputError(f"no completed trial in {names}: nothing to compare")
    return df, direction


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
            g = df["value"][(a == va) & (b == vb)]
            if len(g):
                best = g.min() if minimize else g.max()
                out.append(
                    {rows: va, cols: vb, "trials": len(g), "mean": g.mean(), "std": g.std(), "best": best}
                )
    long = pd.DataFrame(out, columns=[rows, cols, "trials", "mean", "std", "best"])
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
