"""Commands that read finished studies: list, compare, show, export, plot .

They read the storage a sweep wrote (`--storage`, SWEEPNN_STORAGE, or results/studies.journal) and
never change it. Tables come as a rich table for people, CSV and JSON with raw numbers for programs,
or Markdown for notes. pandas and Optuna are imported inside the commands, as in sweepnn.cli.app.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from sweepnn.cli.app import app, errors_to_exit, stdout_console
from sweepnn.errors import InputError


class Format(str, Enum):
    """How a reading command prints a table: rich for people, CSV or JSON for programs, Markdown."""

    table = "table"
    csv = "csv"
    markdown = "markdown"
    json = "json"


class Cell(str, Enum):
    """What a cell of compare's two-way table shows."""

    best = "best"
    mean = "mean"
    time = "time"


class ExportFormat(str, Enum):
    """The file formats of `sweepnn export` (Parquet needs the sweepnn[parquet] extra)."""

    csv = "csv"
    parquet = "parquet"
    markdown = "markdown"
    json = "json"


StorageOpt = Annotated[
    str | None,
    typer.Option(
        envvar="SWEEPNN_STORAGE",
        help="Optuna storage URL or journal file (default: results/studies.journal).",
    ),
]
ResultsOpt = Annotated[Path, typer.Option(help="Folder the sweeps wrote results to.")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", case_sensitive=False, help="Output format.")]


# ---- rendering ----------------------------------------------------------------------------------


def _formatted(df):
    from sweepnn.results.tables import fmt

    return df.map(fmt) if hasattr(df, "map") else df.applymap(fmt)


def _markdown(shown) -> str:
    """A display frame as a Markdown table; numbers keep their formatting and align right, stored
    text is safe text whose pipes do not split its cell (sweepnn.results.files.markdown_table)."""
    from sweepnn.results.files import markdown_table

    return markdown_table(shown)


def _csv(df) -> str:
    """CSV of raw values, with the text in them safe to print or cat (sweepnn.untrusted.safe_frame)."""
    from sweepnn.untrusted import safe_frame

    return safe_frame(df).to_csv(index=False)


def _records(df) -> list[dict]:
    """The rows as JSON-ready data, every float exact (sweepnn.results.files.json_records)."""
    from sweepnn.results.files import json_records

    return json_records(df)


def _emit(df, fmt: Format, title: str, shown=None) -> None:
    """Write one table: `df` holds raw values (CSV, JSON), `shown` the human version (default: `df`
    with numbers formatted). Study names and values come from the storage: shown as safe text."""
    from sweepnn.results.display import ranked_table
    from sweepnn.untrusted import rich_line, safe_text

    if fmt is Format.csv:
        typer.echo(_csv(df), nl=False)
    elif fmt is Format.json:  # JSON escapes control characters itself; programs get the values as stored
        typer.echo(json.dumps(_records(df), indent=2))
    else:
        shown = _formatted(df) if shown is None else shown
        if fmt is Format.markdown:
            typer.echo(f"**{safe_text(title)}**\n\n{_markdown(shown)}")
        else:
            console = stdout_console()
            console.print(rich_line((title, "bold")), soft_wrap=True)  # a table would wrap it to its width
            console.print(ranked_table(shown))


def _write_parquet(df, path: Path) -> None:
    """The trials frame as Parquet; columns that mix kinds (a choice of None or a name) become text."""
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:
        raise InputError("parquet needs pyarrow: pip install 'sweepnn[parquet]'")
    import math

    df = df.copy()
    for col in df.columns:
        if df[col].dtype.kind != "O":  # numbers and booleans are one kind already
            continue
        kinds = {type(v) for v in df[col] if v is not None and not (isinstance(v, float) and math.isnan(v))}
        if len(kinds) > 1 or kinds - {str, bool, int, float}:
            df[col] = df[col].map(lambda v: None if v is None else str(v))
    from sweepnn.atomic import replacing

    try:  # a temporary name, then a rename: a failed write leaves any earlier file whole
        with replacing(path) as tmp:
            df.to_parquet(tmp, index=False)
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror or e}") from None


def _open(storage: str | None, results: Path, names: list[str] | None):
    from sweepnn.sweep.reading import load_studies, open_for_reading

    return load_studies(open_for_reading(storage, results), names)


# ---- commands -----------------------------------------------------------------------------------


@app.command("list")
@errors_to_exit
def list_(
    storage: StorageOpt = None, results: ResultsOpt = Path("results"), format: FormatOpt = Format.table
):
    """List the studies in the storage: trials by state and the best value of each."""
    from sweepnn.results.analysis import summaries
    from sweepnn.sweep.reading import open_for_reading

    df = summaries(open_for_reading(storage, results))
    _emit(df, format, title=f"{len(df)} stud{'y' if len(df) == 1 else 'ies'}")


@app.command()
@errors_to_exit
def compare(
    studies: Annotated[
        list[str] | None, typer.Argument(help="Studies to compare (default: all).", show_default=False)
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help="A recipe path (model.init, train.optimizer.name): the effect of its values over all"
            " completed trials. Twice: the two-way table.",
            show_default=False,
        ),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            help="The recorded metric every table compares (val_loss, train_accuracy, auc, a diagnostic"
            " such as dead_fraction; default: the objective).",
            show_default=False,
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="METRIC=VALUE: per value, how many trials reached it, the median epochs and seconds to"
            " it and the rank by speed (default with --cell time: the recipe's search.target, else 90%"
            " of the way from a trivial predictor to the best).",
            show_default=False,
        ),
    ] = None,
    cell: Annotated[
        Cell, typer.Option("--cell", case_sensitive=False, help="What a two-way table's cell shows.")
    ] = Cell.best,
    format: FormatOpt = Format.table,
    storage: StorageOpt = None,
    results: ResultsOpt = Path("results"),
) -> None:
    """Compare studies: their best trials side by side, or the effect of a recipe path's values."""
    from sweepnn.results import effects
    from sweepnn.results.analysis import binned, check_paths
    from sweepnn.results.profiles import parse_target

    given = parse_target(target) if target else None  # bad input: before the storage is opened
    if metric and not by:
        raise InputError("--metric picks the metric of the --by tables: name a path, e.g. --by model.init")
    if cell is not Cell.best and len(by or []) != 2:
        raise InputError(f"--cell {cell.value} is what a two-way table's cells show: give --by twice")
    loaded = _open(storage, results, studies)
    # timed when asked, or when the recipe names a target: its question is how fast, too
    asked = given or cell is Cell.time or loaded[0].recipe.search.target
    timed = effects.target_of(loaded, given) if asked else None
    if not by:
        _emit(effects.side_by_side(loaded, timed), format, title=_best_title(timed))
        _emit_settings(loaded, format)
        return
    if len(by) > 2:
        raise InputError(f"--by takes one path (marginal effect) or two (two-way table), not {len(by)}")
    paths = check_paths(by, loaded)
    if len(paths) < len(by):
        raise InputError(f"--by names {paths[0]} twice; give two different paths for a two-way table")
    df, direction = effects.trials_for(loaded, paths, metric, timed)
    name = metric or loaded[0].metric
    where = f"{len(df)} completed trials of {', '.join(s.name for s in loaded)}"
    # a numeric path with many values is grouped: the header says so, the rows are its quartiles
    bins = [p for p in paths if binned(df[p])]
    where += "".join(f"; {p} in quartile bins of its {df[p].nunique()} values" for p in bins)
    where += f"; timed to {timed.describe()} (seconds of training)" if timed else ""
    if len(paths) == 1:
        table = effects.marginal(df, paths[0], direction, name)
        _emit(table, format, f"{name} ({direction}) by {paths[0]}: {where}", _marginal_shown(table))
        return
    long = effects.two_way(df, paths[0], paths[1], direction)
    shown = effects.pivot(long, *paths, CELLS[cell])
    what = CELL_TITLES[cell].format(metric=name, direction=direction)
    title = f"{what} by {paths[0]} (rows) and {paths[1]} (columns): {where}"
    _emit(long, format, title, shown)


def _cell_best(r) -> str:
    from sweepnn.results.tables import fmt

    return f"{fmt(r['best'])} ({r['trials']})"


def _cell_mean(r) -> str:
    from sweepnn.results.tables import fmt

    spread = f" ± {fmt(r['std'])}" if r["std"] == r["std"] else ""  # one trial has no spread
    return f"{fmt(r['mean'])}{spread} ({r['trials']})"


def _cell_time(r) -> str:
    from sweepnn.results.tables import fmt

    reached = f"{r['reached']}/{r['trials']}"
    return f"{fmt(r['s to'])} s ({reached})" if r["reached"] else f"never ({reached})"


CELLS = {Cell.best: _cell_best, Cell.mean: _cell_mean, Cell.time: _cell_time}
CELL_TITLES = {  # the table's header: what a cell holds, of the metric (and its direction)
    Cell.best: "best {metric} ({direction}) and trials",
    Cell.mean: "mean ± std of {metric} ({direction}) and trials",
    Cell.time: "median seconds to the target (trials that reached it / trials; {metric}, {direction})",
}


def _emit_settings(loaded, format: Format) -> None:
    """For people, below the best trials: how each study set the paths they set differently (fixed to
    which value, or searched over what); CSV and JSON have those paths as columns of the best trials."""
    from sweepnn.results import settings

    differ = settings.differing(loaded)
    if not differ or format in (Format.csv, Format.json):
        return
    if format is Format.markdown:
        typer.echo()
    title = "Settings the studies set differently (n/a: not in that study's recipe)"
    _emit(settings.frame(loaded, differ), format, title)


def _best_title(timed) -> str:
    return "Best trial of each study" + (f"; timed to {timed.describe()}" if timed else "")


def _marginal_shown(table):
    """The marginal table as people read it: the seeds' interval in one column, as a range."""
    from sweepnn.results.tables import fmt

    shown = _formatted(table)
    if "ci low" in table:
        ci = [
            f"{fmt(a)}..{fmt(b)}" if a == a else ""
            for a, b in zip(table["ci low"], table["ci high"], strict=True)
        ]
        shown = shown.drop(columns=["ci low", "ci high"])
        shown.insert(shown.columns.get_loc("seeds") + 1, "95% CI of best", ci)
    return shown


@app.command()
@errors_to_exit
def show(
    study: Annotated[str, typer.Argument(help="The study's name.", show_default=False)],
    top: Annotated[int, typer.Option(min=1, help="Trials to list.")] = 10,
    format: FormatOpt = Format.table,
    storage: StorageOpt = None,
    results: ResultsOpt = Path("results"),
) -> None:
    """One study: ranked trials with diagnostics, best configuration, importances, learning curves."""
    from sweepnn.results import inspection

    r = inspection.build(_open(storage, results, [study])[0], top)
    if format is Format.csv:
        typer.echo(_csv(r.frame.head(top)), nl=False)
    elif format is Format.json:
        typer.echo(json.dumps(inspection.to_json(r), indent=2))
    elif format is Format.markdown:
        typer.echo(inspection.to_markdown(r, _markdown(inspection.ranked(r))), nl=False)
    else:
        from sweepnn.results.display import ranked_table
        from sweepnn.untrusted import rich_line

        console = stdout_console()
        head = inspection.header_lines(r)  # the description is the recipe's text: never markup
        console.print(rich_line((head[0], "bold"), "\n", head[1], "\n", multiline=True))
        console.print(f"[bold]Top {top} trials[/]")
        console.print(ranked_table(inspection.ranked(r)))
        for title, lines in (
            ("Best configuration", inspection.best_lines(r)),
            ("Parameter importances", inspection.importance_lines(r)),
            ("Learning curves", inspection.curve_lines(r)),
        ):
            console.print(f"\n[bold]{title}[/]")
            console.print(rich_line("\n".join(lines), multiline=True), soft_wrap=True)


@app.command()
@errors_to_exit
def export(
    studies: Annotated[
        list[str],
        typer.Argument(
            help="The study's name; several: their trials in one table, with a column per setting they"
            " set differently.",
            show_default=False,
        ),
    ],
    format: Annotated[
        ExportFormat, typer.Option("--format", "-f", case_sensitive=False, help="File format.")
    ] = ExportFormat.csv,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="File to write (default: stdout; parquet: results/<study>/trials.parquet)."
        ),
    ] = None,
    storage: StorageOpt = None,
    results: ResultsOpt = Path("results"),
) -> None:
    """Export every trial of a study, ranked, with dotted parameter paths as columns; of several
    studies, a study column and the settings that tell them apart too. JSON keeps the stored values
    exactly; the other formats give searched values as set (0.3, never 0.30000000000000004)."""
    from sweepnn.atomic import atomic_write
    from sweepnn.results.settings import exported
    from sweepnn.untrusted import safe_text

    if format is ExportFormat.parquet and len(studies) > 1 and output is None:
        raise InputError("parquet of several studies is one file: give it with --output FILE.parquet")
    loaded = _open(storage, results, studies)
    df = exported(loaded, exact=format is ExportFormat.json)
    if format is ExportFormat.parquet:
        path = output or results / loaded[0].name / "trials.parquet"
        _write_parquet(df, path)
        typer.echo(f"Wrote {len(df)} trials to {safe_text(path)}")
        return
    if format is ExportFormat.csv:
        text = _csv(df)
    elif format is ExportFormat.json:
        text = json.dumps(_records(df), indent=2) + "\n"
    else:  # for reading: columns no trial has a value in (metrics of another task) are left out
        text = _markdown(_formatted(df.dropna(axis="columns", how="all"))) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        atomic_write(output, text)
    except OSError as e:
        raise InputError(f"cannot write {output}: {e.strerror or e}") from None
    typer.echo(f"Wrote {len(df)} trials to {safe_text(output)}")


@app.command()
@errors_to_exit
def plot(
    study: Annotated[str, typer.Argument(help="The study's name.", show_default=False)],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder (default: results/<study>/plots).")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            help="METRIC=VALUE the profiles time each trial to (default: the recipe's search.target, else"
            " 90% of the way from a trivial predictor to the study's best).",
            show_default=False,
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="A recipe path: the options of the one profile drawn and the curves of the sensitivity"
            " charts (default: a profile per searched choice; curves per optimizer).",
            show_default=False,
        ),
    ] = None,
    time: Annotated[
        str, typer.Option(help="What the profiles count time in: seconds or epochs.")
    ] = "seconds",
    storage: StorageOpt = None,
    results: ResultsOpt = Path("results"),
) -> None:
    """Write PNG charts of a study: history (and the Pareto front of several objectives), learning
    curves, effects, parallel coordinates, importances, lr schedule, performance profiles of the time
    to a target and sensitivity curves."""
    from sweepnn.results.analysis import check_paths
    from sweepnn.results.plots import write_plots
    from sweepnn.results.profiles import UNITS, parse_target

    given = parse_target(target) if target else None  # bad input: before the storage is opened
    if time not in UNITS:
        raise InputError(f"--time {time!r}: one of {', '.join(UNITS)}")
    s = _open(storage, results, [study])[0]
    path = check_paths([by], [s])[0] if by else None
    folder = output or results / s.name / "plots"
    written, skipped = write_plots(s, folder, given, path, time)
    from sweepnn.untrusted import safe_text

    for path in written:
        typer.echo(safe_text(f"Wrote {path}"))
    for note in skipped:  # a note may quote Optuna's error about stored values
        typer.echo(safe_text(f"Skipped {note}"))
