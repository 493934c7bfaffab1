"""Where in a user's own code a failure happened: the deepest traceback frame that is theirs (a file
beside the recipe, their package, installed or not), not sweepnn's, Python's or a library's they call;
and the InputError that says so, so a factory that raises is exit 2 at the user's own file:line."""

from __future__ import annotations

import os
import sysconfig
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sweepnn.errors import InputError

_SWEEPNN = Path(__file__).resolve().parents[1]
_STDLIB = {Path(p).resolve() for p in (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])}
# libraries a factory calls into: a failure inside them is shown at the user's line that called them
_THIRD_PARTY = {"torch", "numpy", "pydantic", "pydantic_core", "PIL", "optuna", "pandas"}
_INSTALLED = ("site-packages", "dist-packages")
# the top-level packages of the user's code that this process loaded (their entry points' and import
# paths' modules): of the installed packages, only frames in these are the user's
users_packages: set[str] = set()


def _is_users(filename: str) -> bool:
    """Is this traceback frame in the user's own code (a file beside the recipe, their package, installed
    or not), rather than in sweepnn, Python's standard library or a library they call?"""
    if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>
        return False
    path = Path(filename).resolve()
    if path.is_relative_to(_SWEEPNN) or _THIRD_PARTY.intersection(path.parts):
        return False
    at = [i for i, part in enumerate(path.parts) if part in _INSTALLED]
    if at:  # an installed package: the user's own (own_nets), or a library it calls (sklearn, timm)
        top = path.parts[at[-1] + 1] if at[-1] + 1 < len(path.parts) else ""
        return top.removesuffix(".py") in users_packages
    return not any(path.is_relative_to(lib) for lib in _STDLIB)


def where_in(filename: str, line: int | None) -> str:
    """A file (and line) as a user reads it: relative to the working directory when that is short."""
    try:
        shown = os.path.relpath(filename)
    except ValueError:  # another drive (Windows)
        shown = filename
    if shown.startswith(".." + os.sep + ".."):
        shown = filename
    return f"{shown}:{line}" if line else shown


def users_line(e: BaseException) -> str:
    """`file:line in function` of the deepest frame of the user's own code in `e`'s traceback (their
    syntax error's own place), or '' when none of it is theirs."""
    if isinstance(e, SyntaxError) and e.filename:
        return where_in(e.filename, e.lineno)
    frames = [f for f in traceback.extract_tb(e.__traceback__) if _is_users(f.filename)]
    if not frames:
        return ""
    f = frames[-1]
    return f"{where_in(f.filename, f.lineno)} in {f.name}"


def failure(what: str, e: BaseException) -> InputError:
    """An InputError saying what failed, where in the user's code, and the exception's own words."""
    where = users_line(e)
    detail = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    if isinstance(e, SyntaxError):
        detail = f"SyntaxError: {e.msg}"
    return InputError(f"{what} failed at {where}: {detail}" if where else f"{what} failed: {detail}")


def call(what: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs), an exception from the user's code becoming an InputError that names it."""
    try:
        return fn(*args, **kwargs)
    except InputError:
        raise
    except Exception as e:
        raise failure(what, e) from e
