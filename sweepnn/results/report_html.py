"""`sweepnn report`: one HTML page of one or more studies that reads anywhere, offline: as a CI
artifact, a mail attachment, a file opened a year later.

The page holds what `show`, `compare` and `plot` give, made from the same frames and charts: the
environment it was made in; per study its budget and trials by state and outcome, the best
configuration, the ranked trials tinted by outcome (sweepnn.results.inspection), each trial that did
not train well with its reason, every chart sweepnn.results.plots draws (into a temporary folder,
then inlined as data: URIs), the effect of every searched path (sweepnn.results.effects), the
importances and the recipe as YAML; with several studies, compare's tables across them first.

Self-contained by construction: no script, no file fetched (no stylesheet, font or image), and a
Content-Security-Policy that forbids both (sweepnn.results.report_page, the HTML it is made of), so
a browser opening it asks the network for nothing. Every stored text (a description, a reason, a
study name, a value) goes through `esc`: shown as text, never read as HTML.
"""

from __future__ import annotations

import base64
import importlib.util
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from sweepnn import record
from sweepnn.atomic import atomic_write
from sweepnn.errors import InputError
from sweepnn.recipe.budget import budget
from sweepnn.recipe.variants import to_yaml
from sweepnn.results import effects, inspection
from sweepnn.results.analysis import Stored, binned, canonical
from sweepnn.results.report_page import esc, facts, key, note, page, table, tint
from sweepnn.results.tables import best_recipe, results_only

IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml"}  # what write_plots' files are inlined as
WIDE_PX = 800  # a chart wider than this (a default one is 750) is shown across the page, at its size
NO_CHARTS = "charts need matplotlib: pip install 'sweepnn[plot]'"


def write_report(studies: list[Stored], path: Path, now: datetime | None = None) -> list[str]:
    """The page of `studies`, written whole to `path`. Returns what it had to leave out (charts without
    matplotlib), for the command to say."""
    _check_writable(path)  # before the charts are drawn: a bad path fails at once
    source = report_html(studies, now)
    try:
        atomic_write(path, source)
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror or e}") from None
    return [] if charts_available() else [NO_CHARTS]


def _check_writable(path: Path) -> None:
    """A path the page can be written to: not a folder, and no file where a folder of it would be."""
    if path.is_dir():
        raise InputError(f"cannot write {path}: it is a folder; name the file, e.g. {path / 'report.html'}")
    for folder in path.parents:
        if folder.exists() and not folder.is_dir():
            raise InputError(f"cannot write {path}: {folder} is a file, not a folder")


def charts_available() -> bool:
    """Whether matplotlib is installed (the `plot` extra): without it the page is written chartless."""
    return importlib.util.find_spec("matplotlib") is not None


def report_html(studies: list[Stored], now: datetime | None = None) -> str:
    """The whole page, as text."""
    names = ", ".join(s.name for s in studies)
    env = environment(now)  # the results first; where they were read, at the end
    made = f"Generated {env['generated']} by sweepnn {env['sweepnn']}; the environment is at the end."
    body = [f"<h1>sweepnn report: {esc(names)}</h1>", note(made)]
    if len(studies) > 1:
        links = "".join(f'<a href="#study-{i}">{esc(s.name)}</a>' for i, s in enumerate(studies))
        body += [f"<nav>Studies: {links}</nav>", _across(studies)]
    body += [_study(s, f"study-{i}") for i, s in enumerate(studies)]
    body.append(_environment(studies, env))
    return page(f"sweepnn report: {names}", body)


# ---- the environment, and what all the studies share ---------------------------------------------


def environment(now: datetime | None = None) -> dict[str, str]:
    """Where the page was made: the time, the versions that read the studies, the machine."""
    import os
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import torch

    from sweepnn import __version__

    now = now or datetime.now(timezone.utc)
    env = {
        "generated": now.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "sweepnn": __version__,
    }
    env["python"] = f"{platform.python_version()} ({platform.python_implementation()})"
    for package in ("torch", "optuna", "pandas", "matplotlib"):
        try:
            env[package] = version(package)
        except PackageNotFoundError:
            env[package] = "not installed"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CUDA not available)"
    env["device"] = f"cpu: {os.cpu_count()} cores; gpu: {gpu}"
    env["platform"] = platform.platform()
    return env


def _environment(studies: list[Stored], env: dict[str, str]) -> str:
    """The environment, and the hosts the trials were trained on (each records its worker's)."""
    hosts = {
        str(t.user_attrs[record.WORKER]).rpartition(":")[0]
        for s in studies
        for t in s.study.get_trials(deepcopy=False)
        if record.WORKER in t.user_attrs
    }
    rows = [*env.items(), *([("trials trained on", ", ".join(sorted(hosts)))] if hosts else [])]
    return '<h2 id="environment">Environment</h2>\n' + facts(rows) + note("Where this page was made.")


def _across(studies: list[Stored]) -> str:
    """compare's tables over all the studies: the best trial of each, and every searched path's
    effect over their trials pooled (when they share an objective)."""
    timed = _target(studies)
    parts = ['<h2 id="compare">Compare the studies</h2>']
    title = "Best trial of each study" + (f"; timed to {timed.describe()}" if timed else "")
    parts.append(table(effects.side_by_side(studies, timed), title, name="best-of-each"))
    try:
        effects.shared_objective(studies)
    except InputError as e:
        return "\n".join([*parts, note(f"No pooled effect tables: {e}")])
    return "\n".join([*parts, _effect_tables(studies, timed)])


def _target(studies: list[Stored]):
    """The target compare times trials to unasked: the first recipe's search.target, if it names one."""
    return effects.target_of(studies, None) if studies[0].recipe.search.target else None


def _effect_tables(studies: list[Stored], timed) -> str:
    """`compare --by PATH` for each path the studies search: its values' trials, mean, best, rank."""
    out = []
    names = ", ".join(s.name for s in studies)
    for path in dict.fromkeys(canonical(p) for s in studies for p in s.recipe.search.space):
        try:
            df, direction = effects.trials_for(studies, [path], None, timed)
        except InputError as e:
            out.append(note(f"{path}: {e}"))
            continue
        metric = studies[0].metric
        where = f"{len(df)} completed trials of {names}"
        where += f"; in quartile bins of its {df[path].nunique()} values" if binned(df[path]) else ""
        where += f"; timed to {timed.describe()} (seconds of training)" if timed else ""
        out.append(
            table(effects.marginal(df, path, direction, metric), f"{metric} ({direction}) by {path}: {where}")
        )
    return "\n".join(out) or note("Nothing is searched.")


# ---- one study --------------------------------------------------------------------------------------


def _study(s: Stored, anchor: str) -> str:
    """A study's section: what `show` says of it, its outcomes, charts, effects and recipe."""
    r = inspection.build(s, top=max(1, len(s.study.trials)))  # every trial, ranked
    head = inspection.header_lines(r)
    parts = [f'<section id="{anchor}">', f"<h2>Study {esc(s.name)}</h2>"]
    if s.recipe.description.strip():
        parts.append(f'<p class="description">{esc(s.recipe.description.strip(), multiline=True)}</p>')
    parts.append(facts(_study_facts(s, head[1])))
    parts += ["<h3>Best configuration</h3>", _best(r)]
    ranked = inspection.ranked(r)
    classes = [tint(o) for o in ranked.get("outcome", [])]
    parts += [
        f"<h3>Ranked trials ({len(ranked)})</h3>",
        key(),
        table(ranked, row_classes=classes, name="ranked"),
    ]
    parts += ["<h3>Outcomes and their reasons</h3>", _outcomes(r.frame)]
    parts += ["<h3>Charts</h3>", _charts(s)]  # the picture first, then the figures behind it
    parts += ["<h3>Effect of each searched path</h3>", _effect_tables([s], _target([s]))]
    parts += ["<h3>Parameter importances</h3>", _importances(r)]
    parts += ["<h3>Recipe</h3>", f"<pre>{esc(to_yaml(s.recipe), multiline=True)}</pre>", "</section>"]
    return "\n".join(parts)


def _study_facts(s: Stored, summary: str) -> list[tuple[str, str]]:
    trials, why = budget(s.recipe)
    search = s.recipe.search
    planned = "as many as the timeout allows" if trials is None else f"{trials} trials"
    planned += f" ({why})" if why else ""
    planned += f"; timeout {search.timeout:g} s" if search.timeout else ""
    states = record.state_counts(s.study.get_trials(deepcopy=False))
    train = s.recipe.train
    length = f"{train.steps} steps" if train.steps is not None else f"{train.epochs} epochs"
    return [
        ("search", summary.rstrip("; ")),
        ("budget", planned),
        ("trials by state", ", ".join(f"{n} {k}" for k, n in sorted(states.items())) or "none"),
        ("data, model", f"{s.recipe.data.name}, {s.recipe.model.name}; {length} a trial"),
    ]


def _best(r: inspection.Report) -> str:
    lines = inspection.best_lines(r)
    if r.best is None:
        return note(lines[0])
    items = "".join(f"<li><code>{esc(line.strip())}</code></li>" for line in lines[1:])
    best = best_recipe(r.stored.study, r.stored.recipe)
    runnable = esc(to_yaml(best[0]), multiline=True)
    runnable = f"<details><summary>The best trial as a recipe to run</summary><pre>{runnable}</pre></details>"
    return f"<p>{esc(lines[0])}</p>" + (f"<ul>{items}</ul>" if items else "") + runnable


def _outcomes(frame: pd.DataFrame) -> str:
    """Trials by outcome, then each trial that did not train well (or at all) with its reason."""
    df = results_only(frame)
    if df.empty:
        return note("No trials yet.")
    counts = ", ".join(f"{n} {o}" for o, n in df["outcome"].value_counts().items())
    bad = df[df["outcome"] != "ok"]
    if bad.empty:
        return f"<p>{esc(counts)}: every trial trained well.</p>"
    shown = bad[["number", "state", "outcome", "reason"]].rename(columns={"number": "trial"})
    classes = [tint(o) for o in shown["outcome"]]
    return f"<p>{esc(counts)}</p>" + table(shown, row_classes=classes, wrap={"reason"}, name="outcomes")


def _importances(r: inspection.Report) -> str:
    """Optuna's importances of the searched paths, with the trials behind them and how far those can
    be trusted (the charts' own caveat), and what they leave out; or why there are none."""
    from sweepnn.sweep.reading import importance_caveat

    left_out = note(r.note) if r.note else ""
    if r.importances is None:
        return left_out
    complete = int((r.frame["state"] == "complete").sum())
    shares = pd.DataFrame({"path": list(r.importances), "importance": list(r.importances.values())})
    caveat = importance_caveat(complete)
    if caveat:
        caveat = caveat.replace("STUDY", r.stored.name)
    warning = f'<p class="warning">{esc(caveat, multiline=True)}</p>' if caveat else ""
    scope = inspection.importance_scope(r.stored)
    caption = f"PED-ANOVA (Optuna), from {complete} completed trials" + (f", {scope}" if scope else "")
    return table(shares, caption) + warning + left_out


def _charts(s: Stored) -> str:
    """Every chart sweepnn.results.plots draws for the study, inlined, captioned by its file's name;
    a chart drawn wider than two fit side by side gets the row to itself."""
    if not charts_available():
        return note(f"No charts: {NO_CHARTS}.")
    from sweepnn.results.plots import write_plots

    with tempfile.TemporaryDirectory(prefix="sweepnn-report-") as folder:
        written, skipped = write_plots(s, Path(folder))
        figures = [(p.stem, p.suffix, p.read_bytes()) for p in written if p.suffix in IMAGE_TYPES]
    shown = []
    for name, suffix, data in figures:
        wide = ' class="wide"' if suffix == ".png" and _png_width(data) > WIDE_PX else ""
        source = f"data:{IMAGE_TYPES[suffix]};base64,{base64.b64encode(data).decode('ascii')}"
        caption = esc(_caption(name))
        shown.append(
            f'<figure{wide}><img src="{source}" alt="{caption}"><figcaption>{caption}</figcaption></figure>'
        )
    notes = "".join(f"<li>{esc(n)}</li>" for n in skipped)
    return f'<div class="charts">{"".join(shown)}</div>' + (
        f'<p class="note">Not drawn:</p><ul class="note">{notes}</ul>' if notes else ""
    )


def _png_width(data: bytes) -> int:
    """A PNG's width in pixels, from its header (the IHDR chunk that every PNG starts with)."""
    return int.from_bytes(data[16:20], "big")


def _caption(stem: str) -> str:
    """'effect-train.optimizer.lr' -> 'Effect train.optimizer.lr': the file's name, as words."""
    text = stem.replace("-", " ", 1)
    return text[:1].upper() + text[1:]
