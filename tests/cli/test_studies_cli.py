"""`sweepnn delete`, `copy` and `rename` as a user runs them: real processes on a study one tiny real
sweep made, the storage read back with Optuna. The confirmation is answered on a real terminal (a
pseudo-terminal the test opens); without one, delete refuses unless --yes is given."""

from __future__ import annotations

import json
import os
import pty
import shutil
import socket
import subprocess
import time
from pathlib import Path

import optuna
import pytest
from conftest import command_on, sweepnn

from sweepnn import record
from sweepnn.sweep.storage import open_storage

RECIPE = """\
name: {name}
description: a tiny sweep to delete, copy and rename
data: {{name: blobs, n_samples: 240, classes: 3}}
model: {{name: mlp, depth: 1, width: 16}}
train: {{epochs: 2, batch_size: 64, optimizer: {{name: adam, lr: 0.01}}}}
search:
  sampler: random
  n_trials: {trials}
  test_top: 0
  space:
    train.optimizer.lr: {{low: 1e-3, high: 1e-1, log: true}}
    model.activation: [relu, tanh]
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("studies")
    (tmp / "kept.yaml").write_text(RECIPE.format(name="kept", trials=3))
    code, _, err = command_on(tmp, "run", tmp / "kept.yaml", timeout=240)
    assert code == 0, err
    return tmp / "results"


@pytest.fixture
def here(swept, tmp_path) -> Path:
    """A folder of the test's own holding a copy of the sweep's results/."""
    shutil.copytree(swept, tmp_path / "results")
    return tmp_path


def run(here: Path, *args, stdin=subprocess.DEVNULL, answer: str | None = None) -> tuple[int, str, str]:
    """`sweepnn ARGS --results results` in `here`; with `answer`, typed on a terminal as its stdin."""
    if answer is None:
        process = sweepnn(*args, "--results", "results", cwd=here, stdin=stdin)
        out, err = process.communicate(timeout=120)
        return process.returncode, out, err
    leader, follower = pty.openpty()
    try:
        process = sweepnn(*args, "--results", "results", cwd=here, stdin=follower)
        os.write(leader, answer.encode() + b"\n")  # the terminal holds the line until it is read
        out, err = process.communicate(timeout=120)
    finally:
        os.close(follower)
        os.close(leader)
    return process.returncode, out, err


def studies(here: Path, url: str | None = None) -> list[str]:
    """The studies in the storage, as Optuna reads them."""
    return sorted(s.study_name for s in open_storage(url, here / "results").get_all_studies())


def test_delete_without_a_terminal_or_yes_refuses_and_deletes_nothing(here):
    for stdin in (subprocess.DEVNULL, None):  # no input at all, and "y" piped in: a script's accident
        if stdin is None:
            process = sweepnn("delete", "kept", "--results", "results", cwd=here, stdin=subprocess.PIPE)
            out, err = process.communicate("y\n", timeout=120)
            code = process.returncode
        else:
            code, out, err = run(here, "delete", "kept", stdin=stdin)
        assert code == 2
        assert (
            "Error: deleting study 'kept' needs a yes: there is no terminal to ask on, so pass --yes" in err
        )
        assert "3 trials: 3 complete" in out  # what would have gone is shown all the same
    assert studies(here) == ["kept"] and (here / "results" / "kept" / "trials.csv").is_file()


def test_delete_asks_on_a_terminal_and_no_keeps_the_study(here):
    code, out, err = run(here, "delete", "kept", answer="n")
    assert code == 1 and "Nothing deleted." in err
    assert "Delete study 'kept'? [y/N]" in out
    assert "Results folder results/kept/ (" in out and "): deleted too" in out
    assert studies(here) == ["kept"] and (here / "results" / "kept").is_dir()
    code, out, err = run(here, "delete", "kept", answer="y")
    assert (code, err) == (0, "")
    assert "Deleted study 'kept' and results/kept/." in out
    assert studies(here) == [] and not (here / "results" / "kept").exists()


def test_delete_yes_deletes_that_study_and_its_folder_only(here):
    assert run(here, "copy", "kept", "other")[0] == 0
    code, out, err = run(here, "delete", "kept", "--yes")
    assert (code, err) == (0, "") and "Deleted study 'kept' and results/kept/." in out
    assert studies(here) == ["other"]
    assert not (here / "results" / "kept").exists() and (here / "results" / "other" / "trials.csv").is_file()
    code, _, err = run(here, "delete", "kept", "--yes")
    assert code == 2 and "Error: no study 'kept' in this storage; studies here: other" in err
    code, _, err = run(here, "delete", "othr", "--yes", "--keep-files")
    assert code == 2 and "did you mean 'other'?" in err
    code, _, err = run(here, "delete", "other", "--yes", "--keep-files")
    assert code == 0 and studies(here) == [] and (here / "results" / "other" / "trials.csv").is_file()


def _export(here: Path, study: str, *more: str) -> list[dict]:
    code, out, err = run(here, "export", study, "-f", "json", *more)
    assert (code, err) == (0, ""), err
    return json.loads(out)


@pytest.mark.slow
def test_rename_then_the_reading_commands_read_the_new_name_and_the_old_recipe_starts_anew(here):
    before = _export(here, "kept")
    (here / "results" / "kept" / "plots").mkdir()  # drawn for the old name, as plot and report draw them
    (here / "results" / "kept" / "plots" / "history.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (here / "results" / "kept" / "report.html").write_text("<title>sweepnn report: kept</title>")
    code, out, err = run(here, "rename", "kept", "renamed")
    assert (code, err) == (0, "")
    folder = here / "results" / "renamed"
    assert not (folder / "plots").exists() and not (folder / "report.html").exists()
    assert "Removed plots and report.html (drawn for the old name)" in out
    assert (folder / "summary.md").is_file() and "renamed" in (folder / "summary.md").read_text()
    assert "Renamed study 'kept' (3 trials: 3 complete) to 'renamed' in results/studies.journal." in out
    assert "A recipe with `name: kept`" in out and "set `name: renamed` in it" in out
    assert studies(here) == ["renamed"]
    assert _export(here, "renamed") == before
    code, out, err = run(here, "show", "renamed")
    assert (code, err) == (0, "") and out.startswith("Study renamed: a tiny sweep to delete, copy and rename")
    code, out, err = run(here, "compare", "renamed", "--by", "model.activation", "-f", "json")
    assert (code, err) == (0, "") and {r["model.activation"] for r in json.loads(out)} <= {"relu", "tanh"}
    code, _, err = run(here, "show", "kept")
    assert code == 2 and "no study 'kept'" in err and "studies in this storage: renamed" in err
    folder = here / "results" / "renamed"
    assert (
        "name: renamed\n" in (folder / "recipe.yaml").read_text() and not (here / "results" / "kept").exists()
    )
    assert "# Study `renamed`" in (folder / "summary.md").read_text()

    # the old recipe makes a new study of the old name; the renamed one goes on under `name: renamed`
    (here / "kept.yaml").write_text(RECIPE.format(name="kept", trials=2))
    (here / "renamed.yaml").write_text(RECIPE.format(name="renamed", trials=4))
    for recipe in ("kept.yaml", "renamed.yaml"):
        code, _, err = command_on(here, "run", here / recipe, timeout=240)
        assert code == 0, err
    storage = open_storage(None, here / "results")
    assert len(optuna.load_study(study_name="kept", storage=storage).trials) == 2
    assert len(optuna.load_study(study_name="renamed", storage=storage).trials) == 4


@pytest.mark.slow
def test_copy_into_another_storage_kind_reads_like_the_original(here):
    url = f"sqlite:///{here}/copies.db"
    code, out, err = run(here, "copy", "kept", "--to-storage", url)
    assert (code, err) == (0, "")
    assert f"Copied study 'kept' (3 trials: 3 complete) to 'kept' in {url}." in out
    assert studies(here, url) == ["kept"] and studies(here) == ["kept"]
    assert _export(here, "kept", "--storage", url) == _export(here, "kept")
    shown = [run(here, "show", "kept", "-f", "json", *more) for more in ((), ("--storage", url))]
    assert shown[0][0] == 0 and shown[0] == shown[1]
    code, _, err = run(here, "copy", "kept", "--to-storage", url)
    assert code == 2 and "a study 'kept' exists in the storage copied to" in err
    code, _, err = run(here, "copy", "kept")
    assert code == 2 and "give the copy a name" in err
    # the two studies named 'kept' share results/kept/: deleting the copy leaves it to the original
    code, out, err = run(here, "delete", "kept", "--storage", url, "--yes")
    assert (code, err) == (0, "") and "the study 'kept' in results/studies.journal has it too" in out
    assert studies(here, url) == [] and (here / "results" / "kept" / "trials.csv").is_file()
    assert run(here, "show", "kept")[0] == 0


def test_delete_and_rename_refuse_a_study_being_run_unless_forced(here):
    storage = open_storage(None, here / "results")
    trial = optuna.load_study(study_name="kept", storage=storage).ask()  # trained by this live process
    me = f"{socket.gethostname()}:{os.getpid()}"
    trial.set_user_attr(record.WORKER, me)
    trial.set_user_attr(record.BEAT, time.time())
    for args in (("delete", "kept", "--yes"), ("rename", "kept", "moved")):
        code, _, err = run(here, *args)
        assert code == 2 and f"is being run right now (trials training, by {me})" in err and "--force" in err
    assert studies(here) == ["kept"]
    code, out, err = run(here, "delete", "kept", "--yes", "--force")
    assert (code, err) == (0, "") and f"Being trained right now by {me}: those runs will fail." in out
    assert studies(here) == []
