"""Commands that run and check sweeps: run, validate, download, status.

Heavy modules (torch, optuna, pandas) are imported inside commands, so `sweepnn --help` and
`sweepnn validate` start without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sweepnn import record
from sweepnn.cli.app import app, err_console, errors_to_exit, stdout_console
from sweepnn.errors import RecipeError, SweepnnError
from sweepnn.results.trackers import TRACKERS, TrackerName  # run --track's choices: no library loaded


@app.command()
@errors_to_exit
def run(
    recipe: Annotated[Path, typer.Argument(help="The recipe file (YAML).", show_default=False)],
    trials: Annotated[
        int | None, typer.Option(min=1, help="Trial budget (overrides search.n_trials).")
    ] = None,
    timeout: Annotated[
        str | None, typer.Option(help="Stop starting trials after this long: 90s, 10m, 1h.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of training and sampling (overrides train.seed).")
    ] = None,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="CI mode: 3 trials, 1 epoch, 256 examples; study <name>-smoke.")
    ] = False,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Discard the study's earlier trials and start over.")
    ] = False,
    storage: Annotated[
        str | None,
        typer.Option(
            envvar="SWEEPNN_STORAGE",
            help="Optuna storage URL or journal file (default: results/studies.journal).",
        ),
    ] = None,
    results: Annotated[Path, typer.Option(help="Folder for result files.")] = Path("results"),
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    threads: Annotated[
        int | None, typer.Option(min=1, help="Torch CPU threads (default: 1 on small machines).")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Rows of the ranked table to print.")] = 10,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the final table.")] = False,
    fail_under: Annotated[
        list[str] | None,
        typer.Option(
            help="METRIC=VALUE: exit 1 unless the best trial reaches it (at most VALUE for losses and"
            " times). Repeatable.",
            show_default=False,
        ),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option(help="Write a JUnit XML report here (a test case per trial and bar).")
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes on this machine sharing the study.")
    ] = 1,
    devices: Annotated[
        str | None,
        typer.Option(help="Devices of the workers, comma-separated (cuda:0,cuda:1); default: --device."),
    ] = None,
    track: Annotated[
        list[TrackerName] | None,
        typer.Option(
            help="Also write each trial to a tracker ("
            + "; ".join(f"{name}: {spec.description}" for name, spec in TRACKERS.items())
            + "); each needs the extra of its name: pip install 'sweepnn[NAME]'. Repeatable.",
            show_default=False,
        ),
    ] = None,
    worker: Annotated[bool, typer.Option("--worker", hidden=True)] = False,
) -> None:
    """Run (or resume) the sweep a recipe describes, then print the ranked trials."""
    from sweepnn.recipe import variants
    from sweepnn.recipe.loading import load
    from sweepnn.results.ci import parse_bar

    bars = [parse_bar(text) for text in fail_under or []]  # bad bars are bad input: before any training
    cfg = variants.override(load(recipe), trials=trials, timeout=timeout, seed=seed)
    if smoke:
        cfg = variants.smoke(cfg, trials=trials, timeout=timeout)  # flags given explicitly win
    from sweepnn.training.data import read_checked

    read_checked(cfg.data)  # bad data fails here, in a moment, before torch is imported

    from sweepnn.recipe.fair import arms
    from sweepnn.results.display import SweepDisplay
    from sweepnn.results.files import write_results
    from sweepnn.results.run_report import Finished, report, write_arms_summary
    from sweepnn.results.trackers import Tracking, caught_up, open_trackers
    from sweepnn.sweep.runner import RunOptions
    from sweepnn.sweep.runner import run as run_recipe
    from sweepnn.sweep.study import Interrupted
    from sweepnn.untrusted import rich_line

    console = stdout_console()
    opts = RunOptions(
        results_dir=results,
        storage=storage,
        device=device,
        threads=threads,
        fresh=fresh,
        source=str(recipe),
        workers=workers,
        devices=[d.strip() for d in devices.split(",") if d.strip()] if devices else None,
        worker=worker,
        write=write_results,
    )
    names = [t.value for t in track or []] if not worker else []  # a worker's trials: its command's to track
    # every study's trackers opened before the first trains: a missing library or a bad store is bad input
    trackers = {arm.name: open_trackers(names, arm, results) for _, arm in arms(cfg)} if names else {}
    runs = []
    for _label, arm in arms(cfg):  # one study; or, with search.fair, one per value of that option
        try:
            with SweepDisplay(console, arm, quiet=quiet) as display:
                events = Tracking(display, trackers[arm.name], arm) if names else display
                summary, written = run_recipe(arm, opts, events)
                caught_up(events, summary.study)  # earlier runs' trials, and any a failure missed
        except Interrupted as e:
            err_console.print(
                rich_line(
                    ("Interrupted:", "bold yellow"),
                    f" {e} Results so far: {results / arm.name}/",
                    multiline=True,
                ),
                soft_wrap=True,
            )
            raise typer.Exit(e.exit_code) from None
        if worker:  # started by another run, which reports for every worker
            return
        runs.append(Finished(arm, summary, written.folder))
    if cfg.search.fair is not None:
        write_arms_summary(runs, results / cfg.name, cfg)
    report(console, runs, top=top, bars=bars, junit=junit)
    for line in dict.fromkeys(f"{t.label}: {t.reader}" for ts in trackers.values() for t in ts):
        console.print(rich_line(line))  # how to open what the trackers wrote (one store: said once)
    lost = [line for r in runs for line in r.summary.worker_failures]
    if lost:  # the trials they finished are in the table; a worker that failed is still a failed run
        raise SweepnnError(f"{len(lost)} worker(s) of this run failed:\n  " + "\n  ".join(lost))


@app.command()
@errors_to_exit
def validate(
    recipes: Annotated[list[Path], typer.Argument(help="Recipe files to check.", show_default=False)],
) -> None:
    """Check recipes without training: every problem in every file, with line and key path."""
    from sweepnn.recipe.checks import scored_on, validates_on_test
    from sweepnn.recipe.loading import load
    from sweepnn.untrusted import safe_text

    problems, bad_files = 0, 0
    for path in recipes:
        try:
            recipe = load(path)
            data_problem = _data_problem(path, recipe)
        except RecipeError as e:
            bad_files += 1
            problems += len(e.problems)
            for p in e.problems:
                typer.echo(str(p), err=True)  # one line each, never wrapped: editors jump to file:line:col
        except SweepnnError as e:
            bad_files += 1
            problems += 1
            typer.echo(f"{safe_text(str(path))}: {e}", err=True)
        else:
            if data_problem is None:
                # say so when its val_* scores are the test split's: the objective is scored there
                where = f"; {scored_on(recipe)}" if validates_on_test(recipe) else ""
                typer.echo(f"{safe_text(str(path))}: ok{where}")
            else:
                bad_files += 1
                problems += 1
                typer.echo(data_problem, err=True)
    if problems:
        err_console.print(
            f"[bold red]Error:[/] {problems} problem{'s' if problems != 1 else ''} in "
            + (f"{bad_files} of {len(recipes)} files" if len(recipes) > 1 else "1 file")
        )
        raise typer.Exit(2)


def _data_problem(path: Path, recipe) -> str | None:
    """What is wrong with the recipe's data files that can be seen without loading them (files there,
    headers, magic numbers, columns), located at the line of data.path; None when nothing is."""
    from sweepnn.errors import InputError, Problem
    from sweepnn.options.datasets import check_data

    try:
        check_data(recipe.data)
    except InputError as e:
        from sweepnn.recipe.yaml_reading import parse_yaml

        _, marks, _ = parse_yaml(path.read_text(encoding="utf-8"), str(path))
        line, column = marks.get(("data", "path")) or marks.get(("data",)) or (None, None)
        return str(Problem(str(path), line, column, "data.path", str(e)))
    return None


@app.command()
@errors_to_exit
def download(
    name: Annotated[
        str, typer.Argument(help="mnist, fashion_mnist, cifar10 or cifar100.", show_default=False)
    ],
    folder: Annotated[
        Path | None,
        typer.Option(help="Where to put the files (default: data/NAME, where the dataset reads them)."),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Fetch from this mirror instead of the publisher.")
    ] = None,
) -> None:
    """Fetch a public dataset's files once, checked against the published checksums (needs a network)."""
    from sweepnn.data.download import download as fetch
    from sweepnn.untrusted import rich_line

    # a message names URLs and paths: text, not rich markup ("[mirror]" would vanish)
    written = fetch(name, folder, base_url, log=lambda m: err_console.print(rich_line(m), soft_wrap=True))
    typer.echo(f"{len(written)} files written" if written else "nothing to do: already there")


@app.command()
@errors_to_exit
def status(
    study_name: Annotated[str, typer.Argument(metavar="STUDY", help="The study's name.", show_default=False)],
    storage: Annotated[
        str | None,
        typer.Option(envvar="SWEEPNN_STORAGE", help="Optuna storage URL or journal file."),
    ] = None,
    results: Annotated[Path, typer.Option(help="Folder holding the default storage.")] = Path("results"),
) -> None:
    """Trials by state, and the running ones: their epoch and latest value, and the age of their last
    heartbeat (stuck ones marked)."""
    from rich.table import Table

    from sweepnn.results.tables import fmt
    from sweepnn.sweep.liveness import grace_seconds, progress_of, stuck
    from sweepnn.sweep.reading import load_study_named, state_counts
    from sweepnn.untrusted import rich_line, rich_text

    study = load_study_named(study_name, storage, results)
    console = stdout_console()
    counts = state_counts(study)
    console.print(
        rich_line(f"Study {study_name}: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
    )
    running = stuck(study)
    if not running:
        console.print("No trial is running.")
        return
    metric = _first_metric(study)
    table = Table(title="Running trials", title_justify="left", header_style="bold")
    for col in ("trial", "epoch", rich_text(metric), "worker", "started", "last heartbeat", "stuck"):
        table.add_column(col, justify="left" if col in ("worker", "started", "stuck") else "right")
    for t, age, stale in running:
        started = t.datetime_start.strftime("%Y-%m-%d %H:%M:%S") if t.datetime_start else ""
        where = progress_of(t) or {}
        epoch = f"{where['epoch']}/{where['epochs'] or '?'}" if where else "-"
        table.add_row(
            str(t.number),
            epoch,
            fmt(where.get("value")) or "-",
            rich_text(t.user_attrs.get(record.WORKER, "?")),
            started,
            f"{age:.0f}s ago",
            "yes: its worker is gone; the next run retries it" if stale else "",
        )
    console.print(table)
    console.print(
        f"(a trial is stuck when its worker's process is gone or silent for {grace_seconds():.0f}s;"
        " epoch and value are as of its last heartbeat or report)"
    )


def _first_metric(study) -> str:
    """The name of the value a running trial reports: the study's first objective's metric."""
    names = study.metric_names  # set by sweepnn from the recipe (sweepnn.sweep.opening.label_for_readers)
    return names[0] if names else "value"
