"""Bad input of every kind: each case a clear message, exit code 2, and nothing written to storage.

Recipes, command-line flags, storage URLs and study names, run through the real command.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import TINY

ROOT = Path(__file__).resolve().parents[2]

# (id, recipe text or None for TINY, extra command-line arguments, expected fragment of stderr)
CASES = [
    ("yaml syntax", "data: {name: [spirals\n", [], "r.yaml:2:1: YAML syntax error:"),
    ("unknown key", TINY + "serach: {}\n", [], "serach: unknown key 'serach'; did you mean 'search'?"),
    (
        "unknown option",
        TINY.replace("name: adam", "name: adm"),
        [],
        "unknown optimizer 'adm'; did you mean 'adam'?",
    ),
    (
        "not a number",
        TINY.replace("epochs: 2", "epochs: ten"),
        [],
        "train.epochs: expected a whole number, got the text 'ten'",
    ),
    (
        "negative rate",
        TINY.replace("lr: 0.01", "lr: -0.01"),
        [],
        "train.optimizer.lr: must be greater than 0",
    ),
    (
        "infinite",
        TINY.replace("lr: 0.01", "lr: .inf"),
        [],
        "train.optimizer.lr: must be a finite number",
    ),
    (
        "low above high",
        TINY.replace("low: 1e-3, high: 1e-1", "low: 1, high: 1e-1"),
        [],
        "low (1) is greater than high (0.1)",
    ),
    ("log of zero", TINY.replace("low: 1e-3", "low: 0"), [], "log scale needs low > 0 (got low=0)"),
    ("empty choices", TINY.replace("[relu, tanh]", "[]"), [], "choices is empty; list at least one value"),
    (
        "no such path",
        TINY.replace("model.activation:", "model.activaton:"),
        [],
        "'model.activaton' names no field of the recipe; did you mean 'model.activation'?",
    ),
    (
        "uneven step",
        TINY.replace("{low: 1e-3, high: 1e-1, log: true}", "{low: 0.0, high: 0.5, step: 0.15}"),
        [],
        "step 0.15 does not divide the range 0.0..0.5",
    ),
    (
        "python tag",
        TINY + "extra: !!python/object/apply:os.system ['touch pwned']\n",
        [],
        "YAML tag !!python/object/apply:os.system is refused",
    ),
    ("local tag", TINY.replace("name: blobs", "name: !shell blobs"), [], "YAML tag !shell is refused"),
    ("name escapes", "name: ../escape\n" + TINY, [], "a study name starts with a letter or digit"),
    ("absolute name", "name: /etc/passwd\n" + TINY, [], "a study name starts with a letter or digit"),
    ("name with slash", "name: a/b\n" + TINY, [], "has only letters, digits, '.', '_' and '-' (got 'a/b')"),
    ("not a mapping", "- data\n- model\n", [], "a recipe is a mapping of sections"),
    (
        "dropout list",
        TINY.replace("depth: 1, width: 16", "widths: [8, 8], dropout: [0.1]"),
        [],
        "dropout lists 1 rates for 2 hidden layers",
    ),
    (
        "augment misfit",
        TINY.replace("classes: 3}", "classes: 3, augment: {flip: true}}"),
        [],
        "flip augments image inputs, but blobs is table data",
    ),
    (
        "fair not a choice",
        TINY.replace("  n_trials: 3\n", "  n_trials: 3\n  fair: train.optimizer.lr\n"),
        [],
        "search.fair: 'train.optimizer.lr' is not a searched choice",
    ),
    (
        "unknown metric",
        TINY.replace("  n_trials: 3\n", "  n_trials: 3\n  objective: val_acc\n"),
        [],
        "unknown metric 'val_acc'; did you mean 'val_accuracy'?",
    ),
    (
        "cmaes for two objectives",
        TINY.replace("sampler: random", "sampler: cmaes").replace(
            "  n_trials: 3\n", "  n_trials: 3\n  objective: [val_accuracy, train_time]\n"
        ),
        [],
        "cmaes optimizes one objective",
    ),
    (
        "accuracy of a regression",
        TINY.replace("{name: blobs, n_samples: 240, classes: 3}", "{name: teacher}").replace(
            "  n_trials: 3\n", "  n_trials: 3\n  objective: val_accuracy\n"
        ),
        [],
        "val_accuracy is not recorded for regression",
    ),
    (
        "test split twice",
        TINY.replace("{name: blobs, n_samples: 240, classes: 3}", "{name: mnist1d, test_fraction: 0.1}"),
        [],
        "mnist1d has a test set of its own",
    ),
    ("device", None, ["--device", "tpu"], "unknown device 'tpu'; use auto, cpu, cuda or cuda:N"),
    ("no cuda", None, ["--device", "cuda"], "CUDA is not available here; use --device cpu"),
    ("bar", None, ["--fail-under", "val_accuracy"], "--fail-under 'val_accuracy': write METRIC=VALUE"),
    ("timeout", None, ["--timeout", "ten minutes"], "cannot read 'ten minutes' as a duration"),
    ("zero trials", None, ["--trials", "0"], "Invalid value for '--trials'"),
    ("zero workers", None, ["--workers", "0"], "Invalid value for '--workers'"),
    (
        "storage scheme",
        None,
        ["--storage", "foo://user:pw@host/db"],
        "unknown storage 'foo://user:***@host/db'",
    ),
    ("storage is a folder", None, ["--storage", "."], "cannot open storage .:"),
]


@pytest.mark.parametrize(("text", "args", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_exit_2_with_a_clear_message_and_writes_nothing(
    cli, write_recipe, tmp_path, text, args, message
):
    if "cuda" in args:
        import torch

        if torch.cuda.is_available():
            pytest.skip("CUDA is available here")
    recipe = write_recipe(text if text is not None else TINY, "r")
    code, out, err = cli("run", recipe, *args)
    assert code == 2, out + err
    assert message in err, err
    assert "Traceback" not in out + err
    assert not (tmp_path / "results").exists()  # no storage, no result files
    assert not (tmp_path / "pwned").exists()


def test_the_table_is_large_enough():
    assert len(CASES) >= 25


def test_unknown_study_names_list_the_existing_ones(cli, write_recipe):
    assert cli("run", write_recipe(), "--device", "cpu")[0] == 0
    code, _, err = cli("status", "tinyy")
    assert code == 2 and "no study 'tinyy' in this storage; did you mean 'tiny'? studies here: tiny" in err


def test_checkpoints_are_only_ever_loaded_as_weights():
    """Loading a pickle runs code: any torch.load in the package must ask for weights only."""
    calls = []
    for path in (ROOT / "sweepnn").rglob("*.py"):
        for line in path.read_text().splitlines():
            if "torch.load(" in line:
                calls.append((path.name, line.strip()))
    assert all("weights_only=True" in line for _, line in calls), calls
    assert not [
        p for p in (ROOT / "sweepnn").rglob("*.py") if re.search(r"\bpickle\.loads?\(", p.read_text())
    ]
