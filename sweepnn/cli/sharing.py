"""Commands that hand a study's findings on: report (one self-contained HTML page).

Like the reading commands (sweepnn.cli.results) they open the storage a sweep wrote and never change
it; pandas, Optuna and matplotlib are imported inside the command, so `sweepnn --help` stays quick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sweepnn.cli.app import app, err_console, errors_to_exit
from sweepnn.cli.results import ResultsOpt, StorageOpt


@app.command()
@errors_to_exit
def report(
    studies: Annotated[
        list[str] | None, typer.Argument(help="Studies to report (default: all).", show_default=False)
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="HTML file to write (default: results/<study>/report.html for one study,"
            " results/report.html for several).",
            show_default=False,
        ),
    ] = None,
    storage: StorageOpt = None,
    results: ResultsOpt = Path("results"),
) -> None:
    """Write one HTML page of studies that reads offline: tables, outcomes, charts, recipe.

    The ranked trials, each outcome and its reason, compare's tables,
    every chart of `sweepnn plot` inlined (nothing is fetched), the recipe
    and the environment: a file to keep, mail or upload as a CI artifact."""
    from sweepnn.results.report_html import write_report
    from sweepnn.sweep.reading import load_studies, open_for_reading
    from sweepnn.untrusted import rich_line, safe_text

    loaded = load_studies(open_for_reading(storage, results), studies)
    if output is None:
        output = results / loaded[0].name / "report.html" if len(loaded) == 1 else results / "report.html"
    for note in write_report(loaded, output):  # what the page had to leave out, e.g. the charts
        err_console.print(rich_line(("Note:", "bold yellow"), " ", note), soft_wrap=True)
    typer.echo(f"Wrote {safe_text(output)}")
