"""The one error type a user sees, and the located problems a recipe can have.

Everything a user can fix (a bad recipe, an unknown option, a changed study) raises `SweepnnError`;
the CLI prints it as `Error: ...` on stderr with exit code 2 (bad input) or 1 (a run that failed),
and shows a traceback only with `--debug`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from sweepnn.untrusted import safe_text


class SweepnnError(Exception):
    """A problem the user can act on. `exit_code` is what the CLI exits with. Its text is safe to
    show: a message quoting a recipe value, a file name or a stored text shows their control
    characters as escapes (sweepnn.untrusted), wherever it is printed."""

    exit_code = 1

    def __str__(self) -> str:
        return safe_text(super().__str__(), multiline=True)


class InputError(SweepnnError):
    """Bad input (a recipe, a flag, a name): nothing was trained. Exit code 2."""

    exit_code = 2


class UnknownOptionError(InputError, ValueError):
    """An option name no registry knows. A ValueError too, so pydantic reports it in place."""


@dataclass(frozen=True)
class Problem:
    """One located mistake in a recipe: where it is and what to do about it."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return safe_text(text)  # one line: editors jump to file:line:col


class RecipeError(InputError):
    """A recipe with one or more problems; all of them are reported, not only the first."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in recipe"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


def notice(message: str) -> None:
    """A line on stderr about something sweepnn did or found on its own, for layers below the CLI
    (storage, workers) that have no console; the run goes on."""
    import sys

    print(f"sweepnn: {safe_text(message, multiline=True)}", file=sys.stderr, flush=True)


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """' did you mean 'x'?' for the closest valid name, or '' when nothing is close."""
    close = difflib.get_close_matches(str(name), list(valid), n=1, cutoff=0.6)
    return f" did you mean '{close[0]}'?" if close else ""


def choices_text(valid: Iterable[str]) -> str:
    """The valid names sorted and comma-separated, as error messages list them: 'adam, sgd'."""
    return ", ".join(sorted(valid))
