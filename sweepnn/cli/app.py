"""The `sweepnn` program: the Typer app, its options, and what every command shares (the console,
errors turned into exit codes). The commands live in the modules beside this one, a group each."""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Annotated

import typer
from rich.console import Console

from sweepnn import __version__
from sweepnn.errors import SweepnnError


def _flags_as_flags(command, ctx) -> None:
    """An on/off option is shown bare: this Typer writes `<bool>` beside it, which reads as a value
    it would take (`--smoke true`), and a flag refuses one."""
    for param in [*command.params, command.get_help_option(ctx)]:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


class _Group(typer.core.TyperGroup):
    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _flags_as_flags(command, ctx)
        return command

    def format_help(self, ctx, formatter):
        _flags_as_flags(self, ctx)
        return super().format_help(ctx, formatter)


app = typer.Typer(
    cls=_Group,
    help="Which training techniques make this network train well? Sweep a YAML recipe with Optuna.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
_state = {"debug": False}
err_console = Console(stderr=True, highlight=False)


def stdout_console() -> Console:
    """stdout console; when it is not a terminal (CI logs, pipes) tables get room instead of 80 columns."""
    import os

    if sys.stdout.isatty():
        return Console(highlight=False)
    return Console(width=int(os.environ.get("COLUMNS", "200")), highlight=False)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sweepnn {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug


DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]


def errors_to_exit(fn):
    """SweepnnError -> 'Error: ...' on stderr and its exit code; a traceback only with --debug, which
    each command takes too (`sweepnn run r.yaml --debug`), not only the program."""

    @functools.wraps(fn)
    def wrapper(*args, debug: bool = False, **kwargs):
        _state["debug"] = _state["debug"] or debug
        try:
            return fn(*args, **kwargs)
        except SweepnnError as e:
            if _state["debug"]:
                import traceback

                traceback.print_exc()
            else:
                # the message is text, not markup: "pip install 'sweepnn[parquet]'" keeps its brackets,
                # and a quoted recipe value or file name shows its escape sequences instead of running them
                from sweepnn.untrusted import rich_line

                err_console.print(
                    rich_line(("Error:", "bold red"), " ", str(e), multiline=True), soft_wrap=True
                )
            raise typer.Exit(e.exit_code) from None

    signature = inspect.signature(fn, eval_str=True)
    debug = inspect.Parameter("debug", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=DebugOpt)
    wrapper.__signature__ = signature.replace(parameters=[*signature.parameters.values(), debug])
    wrapper.__annotations__ = {p.name: p.annotation for p in wrapper.__signature__.parameters.values()}
    return wrapper


def main() -> None:
    """The `sweepnn` command: runs the Typer app; Ctrl-C outside a sweep exits 130, with no traceback."""
    try:
        app(prog_name="sweepnn")  # also under `python -m sweepnn`: the name help and completion use
    except KeyboardInterrupt:  # outside a sweep (e.g. during start-up): exit quietly, as shells expect
        sys.exit(130)
