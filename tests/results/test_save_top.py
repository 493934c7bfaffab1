"""search.save_top: the best trials' trained weights kept under results/<study>/models/, in safetensors
beside the recipe that made them, and `sweepnn.load_model` giving back the very network that was scored.

Each test runs the real `sweepnn run` in a process of its own, then rebuilds the network from what it
left and scores it on the validation split: the recorded score comes back exactly (==).
"""

from __future__ import annotations

import json
import os
import struct
import time
from pathlib import Path

import optuna
import pytest
import torch
from conftest import TINY, sweepnn
from safetensors.torch import load_file

import sweepnn as api
from sweepnn.results.files import write_results
from sweepnn.sweep.storage import open_storage
from sweepnn.training import steps
from sweepnn.training.data import load_data
from sweepnn.training.trainer import evaluate

CPU = torch.device("cpu")


def run(tmp_path: Path, text: str, *args: str, name: str = "tiny") -> Path:
    """`sweepnn run` on the recipe in a process of its own; results/<study>/."""
    (tmp_path / f"{name}.yaml").write_text(text)
    proc = sweepnn("run", f"{name}.yaml", "--device", "cpu", *args, cwd=tmp_path)
    _out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    return tmp_path / "results" / name


def study_of(folder: Path) -> optuna.Study:
    storage = open_storage(None, folder.parent)
    return optuna.load_study(study_name=folder.name, storage=storage)


def scored(trial_folder: Path, **load) -> dict[str, float]:
    """The kept network's validation loss and score, evaluated as the trainer evaluates."""
    model = api.load_model(trial_folder, **load)
    cfg = api.load(trial_folder / "recipe.yaml")
    data = load_data(cfg.data, CPU)
    loss, score = evaluate(
        model, data.x_val, data.y_val, data.task, steps.loss_of(cfg.train, data.task), data.y_var[1]
    )
    return {"val_loss": loss, "val_accuracy": score}


def kept(folder: Path) -> list[int]:
    return sorted(int(p.name.removeprefix("trial-")) for p in (folder / "models").glob("trial-*"))


def ranked(study: optuna.Study, maximize: bool = True) -> list[int]:
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    return [t.number for t in sorted(complete, key=lambda t: -t.values[0] if maximize else t.values[0])]


# ---- the default: the best trial --------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> Path:
    return run(tmp_path_factory.mktemp("default"), TINY)


def test_the_best_trial_is_kept_and_gives_its_recorded_score_back_exactly(default_run):
    study = study_of(default_run)
    best = study.best_trial
    assert kept(default_run) == [best.number]
    folder = default_run / "models" / f"trial-{best.number}"
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "model.safetensors", "recipe.yaml"]
    recorded = best.user_attrs["metrics"]
    got = scored(folder)
    assert got["val_accuracy"] == recorded["val_accuracy"] == best.value
    assert got["val_loss"] == recorded["val_loss"]
    # the file itself names the folder as well, and the network comes back in eval mode
    model = api.load_model(folder / "model.safetensors")
    assert not model.training
    assert not (default_run / "models" / ".staging").exists()  # the staging is cleared at the end


def test_the_weights_file_is_safetensors_with_no_pickle_in_it(default_run):
    path = next((default_run / "models").glob("trial-*")) / "model.safetensors"
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])  # safetensors: an 8-byte header length, JSON, raw tensor bytes
    header = json.loads(raw[8 : 8 + n])
    assert not raw.startswith((b"\x80", b"PK"))  # neither a pickle nor torch.save's zip of pickles
    tensors = load_file(path)
    model = api.load_model(path.parent)
    assert set(tensors) == set(model.state_dict()) == set(header) - {"__metadata__"}
    for k, v in model.state_dict().items():
        assert torch.equal(v, tensors[k])


def test_model_json_says_what_the_network_is_and_what_made_it(default_run):
    study = study_of(default_run)
    best = study.best_trial
    folder = default_run / "models" / f"trial-{best.number}"
    card = json.loads((folder / "model.json").read_text())
    assert card["trial"] == best.number and card["study"] == "tiny"
    assert card["objectives"] == [{"metric": "val_accuracy", "direction": "maximize", "value": best.value}]
    assert card["metrics"] == {k: v for k, v in best.user_attrs["metrics"].items() if k.startswith("val_")}
    assert card["input_shape"] == [2] and card["n_outputs"] == 3 and card["task"] == "classification"
    assert card["sweepnn"] == api.__version__ and card["torch"] == torch.__version__
    assert card["recipe_folder"] == str(default_run.parent.parent.resolve())
    assert card["seed"] == 0
    # the recipe beside the weights is the trial's own configuration, ready to run
    cfg = api.load(folder / "recipe.yaml")
    params = best.params
    # its searched floats as set (12 significant digits, sweepnn.results.values): the float32 the
    # trainer used, without the digits of Optuna's arithmetic
    lr = params["train.optimizer.lr"]
    assert cfg.train.optimizer.lr == float(f"{lr:.12g}") == pytest.approx(lr, rel=1e-12, abs=0)
    assert torch.tensor(cfg.train.optimizer.lr).item() == torch.tensor(lr).item()  # float32 by default
    assert cfg.model.activation.name == params["model.activation"]
    assert cfg.search.space == {}


def test_the_kept_files_have_the_modes_of_the_other_result_files(default_run):
    mode = (default_run / "trials.csv").stat().st_mode & 0o777
    folder = next((default_run / "models").glob("trial-*"))
    assert {
        (folder / n).stat().st_mode & 0o777 for n in ("model.safetensors", "model.json", "recipe.yaml")
    } == {mode}


def test_a_folder_cut_short_is_made_whole_and_files_of_another_study_are_not_kept(default_run, tmp_path):
    """What a kill between the kept files leaves, a killed writer's temporary file, and weights staged
    by a study of the same name that was deleted: the next write of the results sorts them out."""
    import shutil

    shutil.copytree(default_run.parent, tmp_path / "results")  # the study's folder and its journal
    folder = tmp_path / "results" / "tiny"
    study = study_of(folder)
    recipe = api.load_text(TINY, "tiny.yaml", "tiny")
    best = study.best_trial.number
    trial = folder / "models" / f"trial-{best}"
    (trial / "model.json").unlink()
    staging = folder / "models" / ".staging"
    staging.mkdir()
    old = staging / ".trial-7.safetensors.x.tmp"
    old.write_bytes(b"half")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    # another study's trial: its header's values are not this study's trial's
    other = next(n for n in range(3) if n != best)
    shutil.copy(trial / "model.safetensors", staging / f"trial-{other}.safetensors")
    recipe = recipe.model_copy(update={"search": recipe.search.model_copy(update={"save_top": 3})})
    written = write_results(study, recipe, folder.parent)
    assert json.loads((trial / "model.json").read_text())["trial"] == best
    assert written.models[0] == trial
    assert kept(folder) == [best]  # the others had no weights of their own staged
    assert not staging.exists()


# ---- how many ---------------------------------------------------------------------------------------


def test_save_top_3_keeps_the_best_three_each_giving_its_score_back(tmp_path):
    text = TINY.replace("n_trials: 3", "n_trials: 5\n  save_top: 3\n  objective: val_loss")
    folder = run(tmp_path, text)
    study = study_of(folder)
    best3 = ranked(study, maximize=False)[:3]
    assert len(study.trials) == 5 and kept(folder) == sorted(best3)
    for t in study.trials:
        if t.number in best3:
            got = scored(folder / "models" / f"trial-{t.number}")
            assert got["val_loss"] == t.value == t.user_attrs["metrics"]["val_loss"]
            assert got["val_accuracy"] == t.user_attrs["metrics"]["val_accuracy"]


def test_save_top_0_keeps_nothing(tmp_path):
    folder = run(tmp_path, TINY.replace("n_trials: 3", "n_trials: 3\n  save_top: 0"))
    assert (folder / "trials.csv").exists() and not (folder / "models").exists()


def test_a_diverged_trial_is_never_kept(tmp_path):
    text = TINY.replace("optimizer: {name: adam, lr: 0.01}", "optimizer: {name: sgd, lr: 0.01}")
    text = text.replace("sampler: random", "sampler: grid").replace("n_trials: 3", "save_top: 5")
    text = text.replace(
        "train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}", "train.optimizer.lr: [0.3, 1e9]"
    )
    folder = run(tmp_path, text.replace("    model.activation: [relu, tanh]\n", ""))
    study = study_of(folder)
    outcomes = {t.params["train.optimizer.lr"]: t.user_attrs["outcome"] for t in study.trials}
    assert outcomes[1e9] == "diverged" and outcomes[0.3] != "diverged", outcomes
    assert kept(folder) == [t.number for t in study.trials if t.params["train.optimizer.lr"] == 0.3]
    assert not (folder / "models" / ".staging").exists()


def test_resuming_keeps_the_trials_kept_by_the_earlier_run(tmp_path):
    text = TINY.replace("n_trials: 3", "n_trials: 2\n  save_top: 3\n  objective: val_loss")
    folder = run(tmp_path, text)
    first = {n: (folder / "models" / f"trial-{n}" / "model.safetensors").read_bytes() for n in kept(folder)}
    assert sorted(first) == [0, 1]
    run(tmp_path, text, "--trials", "4")  # trains trials 2 and 3 only
    study = study_of(folder)
    assert len(study.trials) == 4 and kept(folder) == sorted(ranked(study, maximize=False)[:3])
    for n in set(first) & set(kept(folder)):  # not trained again: the earlier run's weights, kept
        assert (folder / "models" / f"trial-{n}" / "model.safetensors").read_bytes() == first[n]
        assert scored(folder / "models" / f"trial-{n}")["val_loss"] == study.trials[n].value
    assert set(first) & set(kept(folder)), "a trial of the first run should still be among the best three"


# ---- how they were trained ----------------------------------------------------------------------------


def test_early_stopping_keeps_the_restored_best_epoch(tmp_path):
    text = """\
data: {name: blobs, n_samples: 240, classes: 3, spread: 3.0}
model: {name: mlp, depth: 1, width: 16}
train:
  epochs: 4
  batch_size: 32
  optimizer: {name: sgd, lr: 1.0}
  early_stopping: {metric: val_loss, patience: 5, restore_best: true}
"""
    folder = run(tmp_path, text, name="es")
    (trial,) = study_of(folder).trials
    recorded, last = trial.user_attrs["metrics"], trial.user_attrs["history"][-1]
    assert recorded["epoch"] < last["epoch"] and recorded["val_loss"] != last["val_loss"], (
        "this recipe should have its best epoch before its last"
    )
    got = scored(folder / "models" / "trial-0")
    assert got == {"val_loss": recorded["val_loss"], "val_accuracy": recorded["val_accuracy"]}


def test_a_stacked_member_is_kept_as_the_network_train_builds(tmp_path):
    text = TINY.replace("n_trials: 3", "n_trials: 3\n  group_size: 3\n  save_top: 3").replace(
        "model.activation: [relu, tanh]", "model.init: [he_normal, xavier_uniform]"
    )
    folder = run(tmp_path, text)
    study = study_of(folder)
    assert [t.user_attrs.get("group_size") for t in study.trials] == [3, 3, 3]  # one stacked group
    assert kept(folder) == [0, 1, 2]
    for t in study.trials:
        got = scored(folder / "models" / f"trial-{t.number}")
        assert got["val_accuracy"] == t.user_attrs["metrics"]["val_accuracy"] == t.value
        # the stack's evaluation sums in another order than one network's: equal up to rounding
        assert got["val_loss"] == pytest.approx(t.user_attrs["metrics"]["val_loss"], rel=1e-5)
    # the member's network is the one train() builds for its configuration: same modules, same names
    built = api.train(api.load(folder / "models" / "trial-0" / "recipe.yaml"), "cpu").model
    assert set(built.state_dict()) == set(load_file(folder / "models" / "trial-0" / "model.safetensors"))


def test_with_seed_repeats_the_first_seed_stands_for_the_configuration(tmp_path):
    text = TINY.replace("n_trials: 3", "n_trials: 2\n  repeats: 2")
    folder = run(tmp_path, text)
    study = study_of(folder)
    best = study.best_trial
    card = json.loads((folder / "models" / f"trial-{best.number}" / "model.json").read_text())
    first_seed = best.user_attrs["repeats"][0]
    assert card["seed"] == first_seed["seed"] == 0 and card["repeats"] == 2
    assert card["objectives"][0]["value"] == best.value  # the mean over the seeds
    assert card["metrics"] == {k: v for k, v in first_seed.items() if k.startswith("val_")}
    got = scored(folder / "models" / f"trial-{best.number}")
    assert got == {"val_loss": first_seed["val_loss"], "val_accuracy": first_seed["val_accuracy"]}


@pytest.mark.slow
def test_trials_trained_by_another_worker_process_are_kept_too(tmp_path):
    # trials long enough that the second process, which starts after the first, gets some
    text = TINY.replace("n_samples: 240", "n_samples: 1500").replace("epochs: 2", "epochs: 30")
    text = text.replace("batch_size: 64", "batch_size: 16").replace(
        "n_trials: 3", "n_trials: 6\n  pruner: none\n  save_top: 6\n  objective: val_loss"
    )
    folder = run(tmp_path, text, "--workers", "2")
    study = study_of(folder)
    workers = {t.number: t.user_attrs["sweepnn:worker"] for t in study.trials if t.state.name == "COMPLETE"}
    assert len(set(workers.values())) == 2, "both workers should have trained trials"
    assert kept(folder) == sorted(workers)
    for n in workers:
        assert scored(folder / "models" / f"trial-{n}")["val_loss"] == study.trials[n].value
