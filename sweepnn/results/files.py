"""What a sweep leaves behind: results/<study>/ with recipe.yaml, trials.csv, summary.md, best.yaml,
all made from the one frame of trials (sweepnn.results.tables), and models/trial-<n>/ for the best
`search.save_top` trials (their weights, recipe and model.json; sweepnn.training.weights). Every file
is written to a temporary name and renamed, so a crash or kill during a write leaves the previous
version whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sweepnn import record
from sweepnn.atomic import atomic_write
from sweepnn.errors import SweepnnError
from sweepnn.options.metrics import own_metrics
from sweepnn.recipe.checks import scored_on
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.variants import to_yaml, with_code
from sweepnn.record import outcome_counts
from sweepnn.results.tables import best_recipe, display_frame, fmt, trial_recipe, trials_frame
from sweepnn.results.values import params_of
from sweepnn.untrusted import md_cell, safe_frame, safe_text


def counts(study) -> dict[str, int]:
    """The study's trials by outcome, of those that are results (sweepnn.training.result.results_of)."""
    return outcome_counts(study.get_trials(deepcopy=False))


def summary_markdown(
    study, recipe: Recipe, df: pd.DataFrame, best: tuple[Recipe, Any] | None, folder: Path
) -> str:
    """summary.md: the study's objectives and counts, its start-up time, the ranked trials and the
    best configuration."""
    # A recipe's text and a trial's values are shown as safe text (sweepnn.untrusted): no escape
    # sequence reaches the file, and no pipe in a value splits a table cell.
    lines = [f"# Study `{safe_text(recipe.name)}`", ""]
    if recipe.description:
        lines += [safe_text(recipe.description.strip(), multiline=True), ""]
    objectives = ", ".join(f"{o.metric} ({o.direction})" for o in recipe.search.objectives)
    states = ", ".join(f"{n} {s}" for s, n in sorted(counts(study).items()))
    lines += [
        f"- objective: {objectives}",
        f"- trials: {sum(counts(study).values())} ({states}){_history_note(df)}",
        f"- data: {recipe.data.name}; model: {recipe.model.name}; {_length(recipe)}; {scored_on(recipe)}",
        f"- sampler: {recipe.search.sampler.name}",
    ]
    startup = study.user_attrs.get(record.STUDY_STARTUP)
    if startup is not None:
        lines.append(f"- start-up: {startup:.2f} s (the process's one-off set-up, in no trial's time)")
    lines.append("")
    if best is not None:
        _cfg, trial = best
        values = ", ".join(
            f"{o.metric} = {fmt(v)}" for o, v in zip(recipe.search.objectives, trial.values, strict=True)
        )
        lines += [f"## Best trial: {trial.number} ({values})", ""]
        params = params_of(trial)
        ordered = [k for k in recipe.search.space if k in params]
        lines += [f"- `{k}`: {safe_text(fmt(params[k]))}" for k in ordered] or ["- (no searched parameters)"]
        lines += ["", f"Train it again: `sweepnn run {safe_text(folder / 'best.yaml')}`", ""]
    else:
        lines += ["No trial completed.", ""]
    lines += ["## Ranked trials", "", markdown_table(display_frame(df, recipe)), ""]
    return "\n".join(lines)


def _history_note(df: pd.DataFrame) -> str:
    n = int(df["retried_as"].notna().sum()) if "retried_as" in df else 0
    return f"; {n} attempt(s) cut short and trained again, kept in trials.csv" if n else ""


def _numeric(column: pd.Series) -> bool:
    values = column[column != ""]
    return bool(len(values)) and pd.to_numeric(values, errors="coerce").notna().all()


def markdown_table(shown: pd.DataFrame) -> str:
    """A display frame as a Markdown table: our number formatting kept (no re-parsing), numeric
    columns right-aligned, every header and cell one line of safe text whose pipes are escaped."""
    align = ["right" if _numeric(shown[c]) else "left" for c in shown.columns]
    cells = shown.map(md_cell) if hasattr(shown, "map") else shown.applymap(md_cell)
    cells = cells.rename(columns=md_cell)
    return cells.to_markdown(index=False, disable_numparse=True, colalign=align)


def json_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame's rows as JSON-ready data with every float exact: Python writes the shortest text that
    reads back the same double, where pandas' writer stops at 15 digits. Missing and non-finite values
    are null, as pandas writes them."""
    return [dict(zip(df.columns, map(_plain, row), strict=True)) for row in df.itertuples(False, None)]


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if hasattr(v, "item"):  # a numpy scalar: the Python number it holds
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return [_plain(x) for x in v] if isinstance(v, tuple) else v


@dataclass(frozen=True)
class Written:
    """The result files a write produced, and the folder they are in (results/<study>/); `models`: the
    kept trials' folders (models/trial-<n>/), best first."""

    folder: Path
    files: list[Path]
    models: list[Path] = field(default_factory=list)


def kept_trials(study, recipe: Recipe, source: str = "") -> list:
    """The best `search.save_top` completed trials by the first objective, as what their folders under
    models/ say of them (sweepnn.training.weights.Kept): recipe.yaml, and model.json's objective values,
    validation metrics (with seed repeats, the kept seed's own), outcome and the recipe's folder."""
    from sweepnn.sweep.trials import top_numbers  # the study is open: Optuna is loaded already
    from sweepnn.training.weights import Kept

    # where the user's own code was imported from: the study's record of it (also from Python), else
    # the recipe file's folder
    code = study.user_attrs.get(record.STUDY_CODE) or []
    folder = code[0] if code else str(Path(source).resolve().parent) if source else None
    out = []
    judged = record.judged(study.get_trials(deepcopy=False))
    for number in top_numbers(study, recipe, recipe.search.save_top):
        trial = study.trials[number]
        metrics = trial.user_attrs.get(record.METRICS, {})
        seeds = trial.user_attrs.get(record.REPEATS)
        own = seeds[0] if seeds and len(seeds) > 1 else metrics  # the first seed's network is kept
        objectives = recipe.search.objectives
        card = {
            "study": recipe.name,
            "objectives": [
                {"metric": o.metric, "direction": o.direction, "value": v}
                for o, v in zip(objectives, trial.values, strict=True)
            ],
            # the validation split's metrics, the user's own among them (computed on that split)
            "metrics": {k: v for k, v in own.items() if k.startswith("val_") or k in own_metrics(recipe)},
            "outcome": record.outcome_of(trial, judged),
            "epochs": trial.user_attrs.get(record.EPOCHS),
            "repeats": recipe.search.repeats,
            "recipe_folder": folder,
        }
        text = to_yaml(
            with_code(trial_recipe(study, recipe, number), study.user_attrs.get(record.STUDY_CODE) or []),
            f"# trial {number} of study '{recipe.name}', whose weights are model.safetensors beside it",
        )
        out.append(Kept(number, list(trial.values), text, card))
    return out


def write_results(study, recipe: Recipe, results_dir: Path, source: str = "") -> Written:
    """Write (or rewrite) the four result files of a study."""
    folder = results_dir / recipe.name
    df = trials_frame(study, recipe)
    best = best_recipe(study, recipe)
    code = study.user_attrs.get(record.STUDY_CODE) or []  # so the copies find the user's code again
    files = {
        # the file name is one line of a YAML comment: a newline in it would start YAML of its own
        "recipe.yaml": to_yaml(
            with_code(recipe, code), f"# the recipe as run{f' (from {safe_text(source)})' if source else ''}"
        ),
        "trials.csv": safe_frame(df).to_csv(index=False),
        "summary.md": summary_markdown(study, recipe, df, best, folder),
    }
    if best is None:  # e.g. after --fresh with no trial complete yet: no stale best of the old study
        (folder / "best.yaml").unlink(missing_ok=True)
    else:
        cfg, trial = best
        files["best.yaml"] = to_yaml(
            with_code(cfg, code),
            f"# best trial {trial.number} of study '{recipe.name}';"
            f" train it with: sweepnn run {safe_text(folder / 'best.yaml')}",
        )
    try:
        for name, text in files.items():
            atomic_write(folder / name, text)
        models = _keep_models(study, recipe, folder, source)
    except OSError as e:
        raise SweepnnError(
            f"cannot write results to {folder}: {e.strerror or e}; the study itself is"
            " kept in its storage, so fix the folder and run again to rewrite them"
        ) from None
    return Written(folder, [folder / n for n in files], models)


def _keep_models(study, recipe: Recipe, folder: Path, source: str) -> list[Path]:
    """models/: the best trials' weights that the processes which trained them staged, kept; the
    staged weights of finished trials not among them, removed."""
    from sweepnn.training.weights import MODELS, keep

    if not (folder / MODELS).is_dir():  # nothing staged, nothing kept (search.save_top: 0 among them)
        return []
    finished = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    return keep(folder, kept_trials(study, recipe, source), finished)


def _length(recipe) -> str:
    """A trial's length as the recipe gives it: epochs, or optimizer steps."""
    t = recipe.train
    return f"steps: {t.steps}" if t.steps is not None else f"epochs: {t.epochs}"
