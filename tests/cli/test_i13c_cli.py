"""The command line as a user meets it: short help, completion, flags shown as flags, --debug after
the command, the options listing (by family, and the plain fields), text printed as text."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import typer

from sweepnn.cli import app


def sweepnn(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "sweepnn", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd
    )


def _commands() -> dict[str, list[str]]:
    """Each command (and the program itself, as ''), with its on/off options, from the Typer app."""
    group = typer.main.get_command(app)
    out = {"": [p.opts[0] for p in group.params if getattr(p, "is_flag", False)]}
    for name, command in group.commands.items():
        out[name] = [p.opts[0] for p in command.params if getattr(p, "is_flag", False) and not p.hidden]
    return out


@pytest.mark.parametrize("command", list(_commands()), ids=lambda c: c or "sweepnn")
def test_help_is_short_too_and_shows_flags_as_flags(command):
    flags = _commands()[command]
    short = sweepnn(*([command] if command else []), "-h")
    assert short.returncode == 0, short.stderr
    assert f"Usage: sweepnn {command}".rstrip() in short.stdout
    lines = short.stdout.splitlines()
    rows = {flag: [line for line in lines if re.search(rf"{flag}\b", line)] for flag in flags}
    assert all(rows.values()), rows
    assert not [r for rs in rows.values() for r in rs if "<bool>" in r], rows
    assert "<bool>" not in short.stdout
    if command:
        assert "--debug" in flags  # every command takes it after its name
    else:
        assert {"--install-completion", "--show-completion"} <= set(short.stdout.split())


def test_debug_after_the_command_shows_the_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {optimizer: adm}\n")
    after = sweepnn("run", bad, "--debug")
    assert after.returncode == 2 and "Traceback" in after.stderr and "RecipeError" in after.stderr
    plain = sweepnn("options", "nope")
    debug = sweepnn("options", "nope", "--debug")
    assert plain.returncode == debug.returncode == 2
    assert "Traceback" not in plain.stderr and "UnknownOptionError" in debug.stderr


def test_shell_completion():
    # Typer finds the shell to write a script for among the command's parent processes: from bash,
    # as a user types it (a test run with no shell above it would find none). `; exit` keeps bash
    # there as the parent, where a lone command would replace it.
    script = subprocess.run(
        ["bash", "-c", f"'{sys.executable}' -m sweepnn --show-completion; exit $?"],
        capture_output=True,
        text=True,
    )
    assert script.returncode == 0 and "_SWEEPNN_COMPLETE" in script.stdout
    done = sweepnn(env={"_SWEEPNN_COMPLETE": "complete_bash", "COMP_WORDS": "sweepnn va", "COMP_CWORD": "1"})
    assert done.returncode == 0 and done.stdout.split() == ["validate"]


def test_options_markdown_of_one_family_is_that_family():
    from sweepnn.recipe.catalog import FAMILIES, reference_markdown

    for name in ("optimizer", "schedules"):
        out = sweepnn("options", name, "--markdown")
        reg = FAMILIES[name.rstrip("s")]
        assert out.returncode == 0 and out.stdout == reference_markdown([reg])
        assert out.stdout.count("**") == 2
    whole = sweepnn("options", "--markdown")
    assert whole.stdout == reference_markdown()  # docs/options.md's copy: unchanged


def test_options_lists_the_plain_fields_a_recipe_sets_and_searches():
    from sweepnn.recipe.catalog import plain_fields

    paths = [f.path for f in plain_fields()]
    assert {"train.regularization.clip_norm", "train.shuffle", "train.epochs", "train.batch_size"} <= set(
        paths
    )
    assert "train.regularization.label_smoothing" in paths
    for args in (["options"], ["options", "fields"]):
        out = sweepnn(*args)
        assert out.returncode == 0, out.stderr
        listed = {line.split("│")[1].strip() for line in out.stdout.splitlines() if line.startswith("│")}
        assert set(paths) <= listed, set(paths) - listed
    md = sweepnn("options", "fields", "--markdown").stdout
    assert all(f"| `{p}` |" in md for p in paths)


def test_validate_and_download_print_names_as_text(tmp_path):
    odd = tmp_path / "a\x1b[31mred.yaml"
    odd.write_text("data: {name: spirals}\n")
    missing = tmp_path / "b\x1b[2Jgone.yaml"
    out = sweepnn("validate", odd, missing)
    assert "\x1b" not in out.stdout + out.stderr
    assert out.stdout == f"{tmp_path}/a\\x1b[31mred.yaml: ok\n"
    assert out.stderr.startswith(f"{tmp_path}/b\\x1b[2Jgone.yaml: no recipe file at")
    mirror = f"file://{tmp_path}/[bold]mirror[/bold]"
    got = sweepnn("download", "mnist", "--folder", tmp_path / "mnist", "--base-url", mirror)
    assert got.returncode != 0
    assert f"fetching {mirror}/" in got.stderr
