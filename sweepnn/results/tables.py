"""The frame of a study's trials (pandas) that every output is made from: ranked, with the metric
columns of its task, the dotted parameter paths as columns, and the shorter form a person reads
(display_frame). The files written from it are sweepnn.results.files'."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from sweepnn import record
from sweepnn.options.datasets import task_of
from sweepnn.options.metrics import recorded
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.space import apply, short_names
from sweepnn.record import retried, state_of
from sweepnn.results.analysis import label
from sweepnn.results.values import params_of

# Scores on the test split, for the best trials only (see sweepnn.training.holdout).
TEST_COLUMNS = ("test_accuracy", "test_r2", "test_loss")
# Training-health diagnostics of the final epoch (see sweepnn.training.diagnostics).
# The worst layer's figure where a figure is per layer (sweepnn.outcomes reads the same).
DIAGNOSTIC_COLUMNS = (
    "grad_ratio",
    "signal_ratio",
    "dead_fraction",
    "saturated_fraction",
    "gradient_pass",
    "update_ratio",
    "grad_norm",
    "grad_norm_clipped",
    "near_zero_fraction",
    "gap",
    "gap_eval",
)
# The final network's score on its training split in evaluation mode (dropout off), by task score.
TRAIN_EVAL = {"val_accuracy": "train_eval_accuracy", "val_r2": "train_eval_r2"}
# The diagnostics `show` adds to the ranked table (sweepnn.results.inspection), by the names it
# shows them under.
SHOWN_DIAGNOSTICS = {
    "dead_fraction": "dead",
    "saturated_fraction": "saturated",
    "gradient_pass": "pass",
    "update_ratio": "update",
    "gap": "gap",
}


def metric_columns(recipe: Recipe) -> list[str]:
    """The metrics a trial of this recipe records, in the registry's order: those of its task and
    those every task records (a regression study has val_r2 and no accuracy)."""
    return recorded(recipe, task_of(recipe.data))


def _outcome(t, judged: dict) -> str:
    """sweepnn's diagnosis, as the study judges it (record.judged): ok, stalled, saturated, ...,
    diverged, pruned, failed, interrupted."""
    return record.outcome_of(t, judged) or state_of(t)


def trials_frame(
    study, recipe: Recipe, target: dict[str, float] | None = None, exact: bool = False
) -> pd.DataFrame:
    """One row per trial, ranked: best first; unfinished and failed trials last. The speed columns
    time every trial to `target` (metric -> value), else the recipe's, else fractions of the best.
    Searched values as set (sweepnn.results.values); `exact`: as stored, for the JSON export."""
    from sweepnn.results import speed_columns

    objectives = recipe.search.objectives
    paths = list(recipe.search.space)
    pareto = {t.number for t in study.best_trials} if len(objectives) > 1 and _any_complete(study) else set()
    from sweepnn.record import held_out_scores  # the study is open: Optuna is loaded already

    tested = held_out_scores(study)
    repeats = recipe.search.repeats
    if repeats > 1:  # every seed's network scored on the test split: the spread beside the mean
        from sweepnn.record import held_out_spread
        from sweepnn.training.repeats import outcome_over_seeds

        spread = held_out_spread(study)
    metric_cols = metric_columns(recipe)
    eval_cols = [TRAIN_EVAL[m] for m in metric_cols if m in TRAIN_EVAL]
    again = retried(study.get_trials(deepcopy=False))  # attempts trained again: history, never ranked
    judged = record.judged(study.get_trials(deepcopy=False))
    targets = speed_columns.targets_for(study.get_trials(deepcopy=False), recipe, target)
    speed_cols = speed_columns.columns(targets)
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get(record.OUTCOME) == "surplus":  # asked for after the budget ran out, never trained
            continue
        params = params_of(t, exact)
        metrics = t.user_attrs.get(record.METRICS) or {}
        outcome = _outcome(t, judged)
        if repeats > 1:  # the outcome over the seeds: 'vanishing 2/3'
            outcome = outcome_over_seeds(t.user_attrs.get(record.REPEATS), outcome, t.number in judged)
        row: dict[str, Any] = {"number": t.number, "state": state_of(t), "outcome": outcome}
        for i, o in enumerate(objectives):
            value = t.values[i] if t.values is not None else None
            if value is None and t.state.name == "PRUNED" and len(objectives) == 1 and t.intermediate_values:
                value = t.intermediate_values[max(t.intermediate_values)]  # the value it was pruned at
            row[f"objective.{o.metric}"] = value
            if repeats > 1:  # the spread of the objective over the seeds of a complete trial
                row[f"objective.{o.metric}.std"] = (t.user_attrs.get(record.METRICS_STD) or {}).get(o.metric)
        if pareto:
            row["pareto"] = t.number in pareto
        for path in paths:
            row[path] = params.get(path)
        for m in (*metric_cols, *eval_cols, *DIAGNOSTIC_COLUMNS):
            row[m] = metrics.get(m)
        for m in TEST_COLUMNS:
            row[m] = tested.get(t.number, {}).get(m)
            if repeats > 1:
                row[f"{m}.std"] = spread.get(t.number, {}).get(m)
        row.update(speed_columns.speed_of(t, targets, recipe) if t.user_attrs.get(record.HISTORY) else {})
        row["epochs"] = t.user_attrs.get(record.EPOCHS)
        row["seconds"] = t.user_attrs.get(record.SECONDS)
        row["reason"] = record.reason_of(t, judged)
        if again:
            row["retried_as"] = again.get(t.number)
        rows.append(row)
    columns = [
        "rank",
        "number",
        "state",
        "outcome",
        *(
            c
            for o in objectives
            for c in (f"objective.{o.metric}", *([f"objective.{o.metric}.std"] if repeats > 1 else []))
        ),
        *(["pareto"] if pareto else []),
        *paths,
        *metric_cols,
        *eval_cols,
        *(
            c
            for m in TEST_COLUMNS
            if any(m in v for v in tested.values())
            for c in (m, *([f"{m}.std"] if repeats > 1 else []))
        ),
        *DIAGNOSTIC_COLUMNS,
        *speed_cols,
        "epochs",
        "seconds",
        "reason",
        *(["retried_as"] if again else []),
    ]
    df = pd.DataFrame(rows, columns=[c for c in columns if c != "rank"])
    if df.empty:
        return pd.DataFrame(columns=columns)
    if again:
        df["retried_as"] = df["retried_as"].astype("Int64")
    for t in targets:  # whole epochs, blank where the target was not reached
        df[t.columns[0]] = df[t.columns[0]].astype("Int64")
    return _rank(df, recipe, bool(pareto))


def _any_complete(study) -> bool:
    return any(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False))


def _rank(df: pd.DataFrame, recipe: Recipe, pareto: bool) -> pd.DataFrame:
    first = recipe.search.objectives[0]
    col = f"objective.{first.metric}"
    # Completed trials by objective, then pruned ones by the value they reached, then the rest.
    tier = df["state"].map({"complete": 0, "pruned": 1}).fillna(2)
    if "retried_as" in df:  # attempts trained again: history, after every result
        tier = tier.where(df["retried_as"].isna(), 3)
    sign = -1 if first.direction == "maximize" else 1
    key = pd.to_numeric(df[col], errors="coerce") * sign
    order = pd.DataFrame(
        {"p": ~df["pareto"] if pareto else 0, "tier": tier, "key": key.fillna(math.inf), "n": df["number"]}
    )
    df = df.loc[order.sort_values(["tier", "p", "key", "n"]).index].reset_index(drop=True)
    complete = df["state"] == "complete"
    ranks = pd.Series(range(1, len(df) + 1))
    if f"{col}.std" in df:
        ranks = _tied_ranks(df[col], df[f"{col}.std"], recipe.search.repeats)
    df.insert(0, "rank", ranks.where(complete).astype("Int64"))
    return df


def _tied_ranks(mean: pd.Series, std: pd.Series, k: int) -> pd.Series:
    """Ranks in table order where a trial whose mean is within the noise of the one above shares its
    rank (1, 2, 2, 4): the difference is under 1.96 standard errors of a difference of two means."""
    ranks: list[int] = []
    for i in range(len(mean)):
        se = math.sqrt(((std.iloc[i] or 0) ** 2 + (std.iloc[i - 1] or 0) ** 2) / k) if i else 0.0
        tied = i > 0 and abs(mean.iloc[i] - mean.iloc[i - 1]) < 1.96 * se
        ranks.append(ranks[-1] if tied else i + 1)
    return pd.Series(ranks)


def best_number(study, recipe: Recipe) -> int | None:
    """The best completed trial: by the objective, or for several the Pareto trial best on the first."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not complete:
        return None
    if len(recipe.search.objectives) == 1:
        return study.best_trial.number
    first = recipe.search.objectives[0]
    pick = max if first.direction == "maximize" else min
    return pick(study.best_trials, key=lambda t: t.values[0]).number


def trial_recipe(study, recipe: Recipe, number: int, what: str = "Trial") -> Recipe:
    """Trial `number` as a complete recipe that trains that one configuration when run, as a study of
    its own (a later best gets another); with seed repeats its first seed, whose weights are kept."""
    trial = study.trials[number]
    raw = apply(recipe, params_of(trial)).model_dump(mode="python")
    raw["name"] = f"{recipe.name}-trial{number}"
    raw["description"] = f"{what} of study '{recipe.name}'." + (
        f" {recipe.description}" if recipe.description else ""
    )
    raw["search"] = {
        "n_trials": 1,
        "pruner": "none",
        "objective": [o.model_dump() for o in recipe.search.objectives],
    }
    return Recipe.model_validate(raw)


def best_recipe(study, recipe: Recipe) -> tuple[Recipe, Any] | None:
    """The best trial as a complete recipe that trains that one configuration when run."""
    number = best_number(study, recipe)
    if number is None:
        return None
    return trial_recipe(study, recipe, number, f"Best trial ({number})"), study.trials[number]


# ---- text ---------------------------------------------------------------------------------------


def fmt(value: Any) -> str:
    """Numbers as a person reads them: 4 significant digits, scientific when tiny or huge."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list, tuple)):  # a search choice with parameters, as compare names it
        return str(label(value))
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) < 1e-3 or abs(value) >= 1e5:
            return f"{value:.2e}"
        return f"{value:.4g}"
    return str(value)


def shown_speed(df: pd.DataFrame) -> list[str]:
    """The speed column a ranked table shows: seconds to the recipe's target (of several, the first),
    or to SHOWN_FRACTION of the way to the best ('to 90% (s)'); none when no trial reached it."""
    from sweepnn.speed import SHOWN_FRACTION, fraction_label

    # the recipe's one target, or the default shown one, else the first of the recipe's several
    timed = [c for c in df.columns if c.startswith("seconds_to_")]
    for c in (f"seconds_to_{name}" for name in ("target", fraction_label(SHOWN_FRACTION))):
        if c in timed:
            timed = [c]
    return timed[:1] if timed and df[timed[0]].notna().any() else []


def results_only(df: pd.DataFrame) -> pd.DataFrame:
    """The trials frame without attempts that were trained again: those are history (trials.csv
    keeps them, with their state), not results, so no ranked table or report shows them."""
    if "retried_as" not in df:
        return df
    return df[df["retried_as"].isna()].reset_index(drop=True)


def display_frame(df: pd.DataFrame, recipe: Recipe, top: int | None = None) -> pd.DataFrame:
    """The ranked table as people read it: short parameter names, formatted numbers, no CSV-only columns."""
    paths = list(recipe.search.space)
    objective_cols = [c for c in df.columns if c.startswith("objective.") and not c.endswith(".std")]
    keep = [
        "rank",
        "number",
        *objective_cols,
        *(["pareto"] if "pareto" in df else []),
        # the held-out score of the best trials: how the chosen ones do on data that chose nothing
        *(c for c in TEST_COLUMNS[:2] if c in df),
        *paths,
        "epochs",
        "seconds",
        *shown_speed(df),
        "state",
        "outcome",
        # the diagnostic that tells the failures apart: gradient flow from the last layer to the first
        *(["grad_ratio"] if "grad_ratio" in df and df["grad_ratio"].notna().any() else []),
    ]
    df = results_only(df)
    out = df[keep].head(top) if top else df[keep]
    formatted = out.map(fmt) if hasattr(out, "map") else out.applymap(fmt)
    for c in (*objective_cols, *TEST_COLUMNS[:2]):  # seed repeats: mean ± std over the seeds
        if c in formatted and f"{c}.std" in df:
            std = df[f"{c}.std"].head(len(out)).map(lambda v: f"{v:.2g}" if pd.notna(v) else "")
            formatted[c] = [f"{m} ± {s}" if s else m for m, s in zip(formatted[c], std, strict=True)]
    renamed = {
        "number": "trial",
        "seconds": "time (s)",
        **{c: f"{c.removeprefix('seconds_')} (s)".replace("_", " ") for c in shown_speed(df)},
        "grad_ratio": "grad first/last",
        **{c: c.removeprefix("objective.") for c in objective_cols},
    }
    # a searched path's label never takes the name of one of the table's own columns
    fixed = [*(renamed.get(c, c) for c in keep if c not in paths), *SHOWN_DIAGNOSTICS.values()]
    return formatted.rename(columns={**renamed, **short_names(paths, fixed=fixed)})
