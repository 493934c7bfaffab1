"""The recipe rules of a run's length (`train.epochs` or `train.steps`, written or searched, never both)
and of training on the whole pool (`data.val_fraction: 0`, only with a test split to evaluate on), as
`sweepnn validate` reports them: in a process of its own, one line per problem at file:line:col with
the key path, and exit code 2.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sweepnn.recipe.checks import scored_on, validates_on_test
from sweepnn.recipe.loading import load_text

BAD = {
    "both.yaml": (
        "data: {name: spirals}\ntrain:\n  epochs: 5\n  steps: 100\n",
        (4, "train.steps", "give train.epochs or train.steps, not both"),
    ),
    "epochs_searched.yaml": (
        "train: {steps: 100}\nsearch:\n  space:\n    train.epochs: [2, 3]\n",
        (4, "search.space['train.epochs']", "train.steps is set (100)"),
    ),
    "steps_searched.yaml": (
        "train: {epochs: 5}\nsearch:\n  space:\n    train.steps: [100, 200]\n",
        (4, "search.space['train.steps']", "train.epochs is set (5)"),
    ),
    "both_searched.yaml": (
        "search:\n  space:\n    train.steps: [100, 200]\n    train.epochs: [2, 3]\n",
        (4, "search.space['train.epochs']", "train.steps is searched too"),
    ),
    "no_steps.yaml": ("train: {steps: 0}\n", (1, "train.steps", "must be at least 1 (got 0)")),
    "no_test.yaml": (
        "data:\n  name: spirals\n  val_fraction: 0\n",
        (3, "data.val_fraction", "data.test_fraction"),
    ),
    "no_test_searched.yaml": (
        "data: {name: blobs}\nsearch:\n  space:\n    data.val_fraction: [0]\n",
        (4, "search.space['data.val_fraction'].choices[0]", "blobs has no test split of its own"),
    ),
    "mixed_splits.yaml": (
        "data: {name: mnist1d}\nsearch:\n  space:\n    data.val_fraction: [0, 0.2]\n",
        (4, "search.space['data.val_fraction']", "one study ranks its trials on one split"),
    ),
}

GOOD = {
    "steps.yaml": "train: {steps: 500}\n",
    "steps_searched.yaml": "search:\n  space:\n    train.steps: [500, 1000]\n",
    "whole_mnist1d.yaml": "data: {name: mnist1d, val_fraction: 0}\n",
    "whole_carved.yaml": "data: {name: spirals, val_fraction: 0, test_fraction: 0.2}\n",
}


def validate(folder: Path, *names: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "sweepnn", "validate", *names],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_each_rule_is_a_problem_at_its_line_and_key_path(tmp_path):
    for name, (text, _) in BAD.items():
        (tmp_path / name).write_text(text)
    done = validate(tmp_path, *BAD)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    for name, (_, (line, path, words)) in BAD.items():
        mine = [x for x in lines if x.startswith(f"{name}:")]
        assert len(mine) == 1, (name, lines)
        assert mine[0].startswith(f"{name}:{line}:") and f" {path}: " in mine[0], mine[0]
        assert words in mine[0], mine[0]
    no_test = next(x for x in lines if x.startswith("no_test.yaml:"))
    assert "data.val_fraction 0" in no_test and "data.test_fraction" in no_test


def test_a_length_in_steps_and_a_whole_pool_with_a_test_split_are_valid(tmp_path):
    for name, text in GOOD.items():
        (tmp_path / name).write_text(text)
    done = validate(tmp_path, *GOOD)
    assert done.returncode == 0, done.stderr
    # a recipe scored on the test split says so beside its ok
    on_test = "; validated on the test split (data.val_fraction 0): the whole pool trains"
    lines = done.stdout.splitlines()
    assert len(lines) == len(GOOD)
    for name, line in zip(GOOD, lines, strict=True):
        assert line.startswith(f"{name}: ok{on_test}") if "whole" in name else line == f"{name}: ok"


def test_an_image_folder_without_test_is_a_problem_at_data_path(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for k in ("a", "b"):
            (tmp_path / "imgs" / split / k).mkdir(parents=True)
            for i in range(3):
                pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / "imgs" / split / k / f"{i}.png")
    text = "data:\n  name: image_folder\n  path: imgs\n  size: 8\n  val_fraction: 0\n"
    (tmp_path / "r.yaml").write_text(text)
    done = validate(tmp_path, "r.yaml")
    assert done.returncode == 2
    assert done.stderr.startswith("r.yaml:3:")
    assert "data.val_fraction 0" in done.stderr and "data.test_fraction" in done.stderr
    assert "no test/ folder" in done.stderr
    for k in ("a", "b"):  # with a test/ folder it is fine
        (tmp_path / "imgs" / "test" / k).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "imgs" / "test" / k / "0.png")
    assert validate(tmp_path, "r.yaml").returncode == 0


@pytest.mark.parametrize(
    "text, on_test",
    [
        ("data: {name: mnist1d, val_fraction: 0}\n", True),
        ("data: {name: mnist1d}\n", False),
        ("data: {name: mnist1d, val_fraction: 0}\nsearch: {space: {data.val_fraction: [0.1, 0.2]}}\n", False),
    ],
)
def test_where_the_objective_is_scored_is_said(text, on_test):
    recipe = load_text(text, "r.yaml", "r")
    assert validates_on_test(recipe) is on_test
    assert ("validated on the test split" in scored_on(recipe)) is on_test


def test_targets_fit_the_task_and_steps_are_numbers(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "data: {name: teacher}\nsearch:\n  target: {val_accuracy: 0.8}\n"
        "  space:\n    train.steps: [null, 50]\n"
    )
    done = validate(tmp_path, "bad.yaml")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0].startswith(
        "bad.yaml:3:12: search.target.val_accuracy: val_accuracy is not recorded for regression"
    )
    assert lines[1].startswith(
        "bad.yaml:5:5: search.space['train.steps']: a searched train.steps lists step counts only"
    )
