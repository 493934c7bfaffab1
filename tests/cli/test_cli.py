"""The sweepnn command, run for real: in-process through Typer's runner and as a subprocess."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import TINY, rows, sweepnn

ROOT = Path(__file__).resolve().parents[2]


def test_help_imports_neither_torch_nor_optuna():
    code = (
        "import sys; from typer.testing import CliRunner; from sweepnn.cli import app;"
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output;"
        "assert 'run' in r.output;"
        "print(sorted(m for m in ('torch', 'optuna', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_validate_imports_neither_torch_nor_optuna(write_recipe):
    path = write_recipe()
    code = (
        "import sys; from typer.testing import CliRunner; from sweepnn.cli import app;"
        f"r = CliRunner().invoke(app, ['validate', {str(path)!r}]); assert r.exit_code == 0, r.output;"
        "print(sorted(m for m in ('torch', 'optuna') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_validate_reports_every_problem_in_every_file(cli, write_recipe):
    good = write_recipe(TINY, "good")
    bad1 = write_recipe("model:\n  depth: -1\n  activation: rleu\n", "bad1")
    bad2 = write_recipe("train:\n  epochs: [\n", "bad2")
    code, out, err = cli("validate", good, bad1, bad2)
    assert code == 2
    assert out == f"{good}: ok\n"
    assert err.splitlines() == [
        f"{bad1}:2:3: model.depth: must be at least 0 (got -1)",
        f"{bad1}:3:3: model.activation: unknown activation 'rleu'; did you mean 'relu'? valid: elu, gelu,"
        " leaky_relu, relu, sigmoid, silu, tanh",
        f"{bad2}:3:1: YAML syntax error: expected the node content, but found '<stream end>'",
        "Error: 3 problems in 2 of 3 files",
    ]


def test_validate_ok_and_missing_file(cli, write_recipe):
    code, out, _ = cli("validate", write_recipe())
    assert code == 0 and out.endswith("tiny.yaml: ok\n")
    code, _, err = cli("validate", "nope.yaml")
    assert code == 2 and "nope.yaml: no recipe file at nope.yaml" in err


def test_run_with_bad_recipe_exits_2_before_training(cli, write_recipe, tmp_path):
    code, out, err = cli("run", write_recipe("train: {optimizer: adm}\n", "bad"))
    assert code == 2
    assert "Error: 1 problem in recipe:" in err and "unknown optimizer 'adm'" in err
    assert "Traceback" not in err + out
    assert not (tmp_path / "results").exists()


def test_schema_is_json_schema(cli):
    code, out, _ = cli("schema")
    schema = json.loads(out)
    assert code == 0 and schema["title"] == "sweepnn recipe"
    assert set(schema["properties"]) == {"name", "description", "code", "data", "model", "train", "search"}


def test_options_lists_families(cli):
    code, out, _ = cli("options", "optimizer")
    assert code == 0 and "nesterov" in out and "beta2=0.999" in out
    code, _, err = cli("options", "optimiser")
    assert code == 2 and "did you mean 'optimizer'?" in err


def test_run_writes_results_then_resumes(cli, write_recipe, tmp_path):
    recipe = write_recipe()
    code, out, err = cli("run", recipe, "--device", "cpu")
    assert code == 0, err
    assert "Study tiny: 3 trials (random sampler)." in out
    assert "Top trials of tiny" in out and "Best: trial" in out
    folder = tmp_path / "results" / "tiny"
    assert sorted(p.name for p in folder.iterdir()) == [
        "best.yaml",
        "models",  # the best trial's weights (search.save_top: 1)
        "recipe.yaml",
        "summary.md",
        "trials.csv",
    ]
    table = rows(folder)
    assert len(table) == 3 and {r["state"] for r in table} <= {"complete", "pruned"}
    assert list(table[0])[:5] == ["rank", "number", "state", "outcome", "objective.val_accuracy"]
    assert "train.optimizer.lr" in table[0] and "model.activation" in table[0]
    scores = [float(r["objective.val_accuracy"]) for r in table if r["state"] == "complete"]
    assert scores == sorted(scores, reverse=True)
    assert "## Best trial:" in (folder / "summary.md").read_text()

    code, out, _ = cli("run", recipe, "--device", "cpu")
    assert code == 0 and "Resuming study tiny: 3 of 3 trials done, 0 to run." in out
    assert len(rows(folder)) == 3

    code, out, _ = cli("run", recipe, "--device", "cpu", "--trials", "5")  # a larger budget extends it
    assert code == 0 and "Resuming study tiny: 3 of 5 trials done, 2 to run." in out
    assert len(rows(folder)) == 5


def test_best_yaml_trains_the_best_configuration(cli, write_recipe, tmp_path):
    assert cli("run", write_recipe(), "--device", "cpu")[0] == 0
    best_file = tmp_path / "results" / "tiny" / "best.yaml"
    best = yaml.safe_load(best_file.read_text())
    winner = rows(tmp_path / "results" / "tiny")[0]
    assert best["model"]["activation"]["name"] == winner["model.activation"]
    assert best["train"]["optimizer"]["lr"] == pytest.approx(float(winner["train.optimizer.lr"]))
    code, out, _ = cli("run", best_file, "--device", "cpu")
    assert code == 0 and f"Study tiny-trial{winner['number']}: 1 trial" in out
    again = rows(tmp_path / "results" / f"tiny-trial{winner['number']}")[0]
    assert float(again["val_accuracy"]) == pytest.approx(float(winner["val_accuracy"]))


def test_changed_recipe_is_refused_unless_fresh(cli, write_recipe, tmp_path):
    recipe = write_recipe()
    assert cli("run", recipe, "--device", "cpu")[0] == 0
    write_recipe(TINY.replace("epochs: 2", "epochs: 3"))
    code, _, err = cli("run", recipe, "--device", "cpu")
    assert code == 2
    assert "study 'tiny' exists and was run with a different recipe:" in err
    assert "train.epochs: 2 -> 3" in err and "--fresh" in err
    code, out, _ = cli("run", recipe, "--device", "cpu", "--fresh")
    assert code == 0 and "Study tiny: 3 trials" in out
    assert {r["epochs"] for r in rows(tmp_path / "results" / "tiny") if r["state"] == "complete"} == {"3"}


def test_smoke_runs_its_own_small_study(cli, write_recipe, tmp_path):
    code, out, _ = cli("run", write_recipe(TINY.replace("n_trials: 3", "n_trials: 40")), "--smoke")
    assert code == 0 and "Study tiny-smoke: 3 trials" in out
    table = rows(tmp_path / "results" / "tiny-smoke")
    assert len(table) == 3 and all(r["epochs"] == "1" for r in table)
    assert not (tmp_path / "results" / "tiny").exists()


def test_every_trial_failing_exits_1_and_says_why(cli, write_recipe, tmp_path):
    assert cli("run", write_recipe(), "--device", "cpu")[0] == 0
    best = tmp_path / "results" / "tiny" / "best.yaml"
    assert best.is_file()
    diverging = TINY.replace(
        "  epochs: 2\n", "  epochs: 2\n  regularization: {penalty: {name: l2, strength: 1e300}}\n"
    )
    code, out, err = cli("run", write_recipe(diverging), "--device", "cpu", "--fresh")
    assert code == 1
    assert "Error: no trial of 'tiny' completed" in err
    assert "diverged" in out
    assert not best.exists()  # the discarded study's best is not left behind as if it were this one's


MIXED = """\
description: one sane learning rate, one that must diverge
data: {name: blobs, n_samples: 240, classes: 3}
model: {name: mlp, depth: 2, width: 16}
train: {epochs: 3, batch_size: 64, optimizer: {name: sgd, lr: 0.1}}
search:
  sampler: grid
  pruner: none
  space:
    train.optimizer.lr: [0.1, 1.0e+6]
"""


def test_a_diverged_trial_is_recorded_with_its_step_and_never_best(cli, write_recipe, tmp_path):
    code, out, _ = cli("run", write_recipe(MIXED, "mixed"), "--device", "cpu")
    assert code == 0  # one diverged trial does not stop or fail the sweep
    table = {r["train.optimizer.lr"]: r for r in rows(tmp_path / "results" / "mixed")}
    bad, good = table["1000000.0"], table["0.1"]
    assert (bad["state"], bad["outcome"], bad["rank"]) == ("failed", "diverged", "")
    assert bad["reason"].startswith("loss exploded to ") and "at step 1 (epoch 1)" in bad["reason"]
    assert (good["state"], good["outcome"], good["rank"]) == ("complete", "ok", "1")
    assert f"Best: trial {good['number']}," in out
    # the healthy trial carries its final diagnostics; ReLU cannot saturate, so that one is empty
    for column in ("grad_ratio", "dead_fraction", "update_ratio", "gap"):
        assert math.isfinite(float(good[column])), column
    assert good["saturated_fraction"] == ""
    assert "diverged" in out.split("Top trials of mixed")[1]


def test_a_deep_init_sweep_shows_each_failure_by_its_outcome(cli, write_recipe, tmp_path):
    """The seeds' claims about initializing a deep net, as the sweep's table reports them."""
    deep = yaml.safe_load((ROOT / "recipes" / "init_deep.yaml").read_text())
    deep["data"]["n_samples"] = 600
    deep["model"]["width"] = 32
    deep["train"]["epochs"] = 4
    deep["search"]["space"] = {
        "model.init": ["zeros", "normal", "he_normal"],
        "model.activation": ["relu", "sigmoid"],
    }
    code, _, _ = cli("run", write_recipe(yaml.safe_dump(deep), "deep"), "--device", "cpu")
    assert code == 0
    outcome = {
        (r["model.init"], r["model.activation"]): r["outcome"] for r in rows(tmp_path / "results" / "deep")
    }
    assert outcome["he_normal", "relu"] == "ok"
    assert outcome["zeros", "relu"] == "symmetric"  # every unit identical: nothing to learn from
    assert outcome["normal", "relu"] == "diverged"  # activations grow layer by layer
    assert outcome["he_normal", "sigmoid"] == "vanishing"  # 20 sigmoids: no gradient reaches the input


def test_unavailable_cuda_is_a_clear_error(cli, write_recipe):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    code, _, err = cli("run", write_recipe(), "--device", "cuda")
    assert code == 2 and "CUDA is not available here; use --device cpu" in err


SLOW_TRIALS = """\
description: trials long enough to interrupt
data: {name: blobs, n_samples: 5000, classes: 4, dims: 8}
model: {name: mlp, depth: 3, width: 256}
train: {epochs: 12, batch_size: 32}
search:
  sampler: random
  pruner: none
  n_trials: 3
  space:
    train.optimizer.lr: {low: 1e-4, high: 1e-2, log: true}
"""


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_records_the_trial_writes_results_and_resumes(write_recipe, tmp_path, sig, code):
    recipe = write_recipe(SLOW_TRIALS, "slow")
    # Started as CI starts background jobs: SIGINT inherited as ignored. sweepnn must still stop.
    proc = sweepnn(
        "run",
        recipe,
        "--device",
        "cpu",
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    deadline = time.monotonic() + 60
    for line in proc.stdout:  # wait until the first trial has finished and the second has begun
        if "trial   0" in line or time.monotonic() > deadline:
            break
    time.sleep(0.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Interrupted:" in err and "Run the same command again to resume." in err
    table = rows(tmp_path / "results" / "slow")
    states = sorted(r["state"] for r in table)
    assert states == ["complete", "interrupted"]
    interrupted = next(r for r in table if r["state"] == "interrupted")

    done = subprocess.run(
        [sys.executable, "-m", "sweepnn", "run", str(recipe), "--device", "cpu", "--trials", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Resuming study slow: 1 of 2 trials done, 1 to run." in done.stdout
    table = rows(tmp_path / "results" / "slow")
    complete = [r for r in table if r["state"] == "complete"]
    assert len(complete) == 2
    # the interrupted trial was run again with the same parameters
    assert interrupted["train.optimizer.lr"] in {r["train.optimizer.lr"] for r in complete}


def test_debug_shows_the_traceback(write_recipe, tmp_path):
    bad = write_recipe("train: {optimizer: adm}\n", "bad")
    plain = subprocess.run([sys.executable, "-m", "sweepnn", "run", str(bad)], capture_output=True, text=True)
    debug = subprocess.run(
        [sys.executable, "-m", "sweepnn", "--debug", "run", str(bad)], capture_output=True, text=True
    )
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert debug.returncode == 2 and "Traceback" in debug.stderr and "RecipeError" in debug.stderr


def test_every_registry_in_the_package_is_in_the_catalog():
    import importlib
    import pkgutil

    import sweepnn
    from sweepnn.recipe.catalog import FAMILIES
    from sweepnn.registry import Registry

    found = set()
    for mod in pkgutil.walk_packages(sweepnn.__path__, "sweepnn."):
        if mod.name == "sweepnn.__main__":  # importing it runs the command line
            continue
        module = importlib.import_module(mod.name)
        found |= {v.family for v in vars(module).values() if isinstance(v, Registry)}
    assert found == set(FAMILIES)


def test_unknown_storage_scheme_is_bad_input(cli, write_recipe):
    code, _, err = cli("run", write_recipe(), "--storage", "foo://bar")
    assert code == 2 and "unknown storage 'foo://bar'" in err


def test_options_prints_descriptions_with_their_brackets(cli):
    code, out, _ = cli("options", "model")
    assert code == 0
    assert "[linear, norm," in out and "[conv, norm," in out  # not swallowed as rich markup
