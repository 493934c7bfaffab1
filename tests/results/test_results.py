"""Result files: ranking, formatting, atomic writes, and a read-only results folder."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import TINY, Quiet

from sweepnn.atomic import atomic_write
from sweepnn.errors import SweepnnError
from sweepnn.recipe.loading import load_text
from sweepnn.results.files import write_results
from sweepnn.results.tables import display_frame, fmt, trials_frame
from sweepnn.sweep.opening import open_study
from sweepnn.sweep.storage import open_storage
from sweepnn.sweep.study import run_sweep


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (pd.NA, ""),
        (float("nan"), ""),
        (0.0, "0"),
        (0.123456, "0.1235"),
        (2e-5, "2.00e-05"),
        (123456.0, "1.23e+05"),
        (3, "3"),
        (True, "yes"),
        (False, "no"),
        ("adam", "adam"),
        ({"name": "cosine", "warmup": {"name": "linear", "epochs": 2}}, "cosine(warmup=linear(epochs=2))"),
        ({"name": "step", "gamma": 0.3}, "step(gamma=0.3)"),
        ({"padding": 1}, "padding=1"),
        ([16, 32], "[16, 32]"),
    ],
)
def test_fmt(value, text):
    assert fmt(value) == text


def _study(tmp_path: Path, text: str):
    recipe = load_text(text, "t.yaml", "t")
    study, _ = open_study(recipe, open_storage(None, tmp_path))
    run_sweep(recipe, study, torch.device("cpu"), Quiet())
    return recipe, study


def test_ranking_puts_complete_trials_first_by_objective(tmp_path):
    pruner = "  pruner: {name: median, n_startup_trials: 1, n_warmup_steps: 0}\n"
    text = (
        TINY.replace("  sampler: random\n", "  sampler: random\n" + pruner)
        .replace("n_trials: 3", "n_trials: 10")
        .replace("epochs: 2", "epochs: 4")
        .replace("low: 1e-3", "low: 1e-7")
    )
    recipe, study = _study(tmp_path, text)
    df = trials_frame(study, recipe)
    states = list(df["state"])
    n_complete = states.count("complete")
    assert states[:n_complete] == ["complete"] * n_complete
    values = list(df["objective.val_accuracy"][:n_complete])
    assert values == sorted(values, reverse=True)
    assert list(df["rank"][:n_complete]) == list(range(1, n_complete + 1))
    shown = display_frame(df, recipe)
    assert list(shown.columns[:3]) == ["rank", "trial", "val_accuracy"]
    assert "lr" in shown.columns and "activation" in shown.columns
    if n_complete < len(df):  # pruned trials have no rank, shown blank
        assert set(shown["rank"][n_complete:]) == {""}


def test_atomic_write_keeps_the_old_file_when_a_write_fails(tmp_path):
    path = tmp_path / "trials.csv"
    atomic_write(path, "old\n")
    with pytest.raises(TypeError):
        atomic_write(path, 12345)  # fails in the middle of writing
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["trials.csv"]  # no temporary file left behind
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_results_folder_is_a_clear_error(tmp_path):
    recipe, study = _study(tmp_path, TINY)
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        with pytest.raises(SweepnnError, match="cannot write results to"):
            write_results(study, recipe, out)
    finally:
        out.chmod(0o700)


def test_results_folder_that_is_a_file_is_a_clear_error(tmp_path):
    recipe, study = _study(tmp_path, TINY)
    blocker = tmp_path / "blocked"
    blocker.write_text("not a folder")
    with pytest.raises(SweepnnError, match=r"cannot write results to .*blocked/t"):
        write_results(study, recipe, blocker)
