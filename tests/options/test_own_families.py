"""A user's own loss, metric and dataset shapes, by import path, through real `sweepnn run` processes:
each works as a built-in does (trained with, recorded, ranked by), and each mistake is exit 2 with
the user's words and nothing written."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from sweepnn.data.arrays import Arrays, check
from sweepnn.errors import InputError
from sweepnn.options.losses import LOSSES
from tests.conftest import rows, sweepnn

EXTRAS = '''
import numpy as np
import torch

def f1(output, target):
    """Macro F1 over the classes."""
    pred = output.argmax(1)
    scores = []
    for c in range(output.shape[1]):
        tp = ((pred == c) & (target == c)).sum().item()
        fp = ((pred == c) & (target != c)).sum().item()
        fn = ((pred != c) & (target == c)).sum().item()
        scores.append(2 * tp / max(1, 2 * tp + fp + fn))
    return sum(scores) / len(scores)
f1.direction = "maximize"

def undirected(output, target):
    return 0.0

def focal(output, target, gamma: float = 2.0):
    logp = torch.log_softmax(output, 1).gather(1, target[:, None]).squeeze(1)
    return (-(1 - logp.exp()) ** gamma * logp).mean()

def rings(n: int = 400, noise: float = 0.1, rng_seed: int = 0):
    """Two concentric rings."""
    rng = np.random.default_rng(rng_seed)
    y = rng.integers(0, 2, n)
    a = rng.uniform(0, 6.28, n)
    r = 1 + y + rng.normal(0, noise, n)
    return np.stack([r * np.cos(a), r * np.sin(a)], 1).astype("float32"), y

def with_val(n: int = 300):
    x, y = rings(n)
    return {"train": (x[:200], y[:200]), "val": (x[200:], y[200:])}

class Points(torch.utils.data.Dataset):
    def __init__(self, n):
        self.x, self.y = rings(n)
    def __len__(self):
        return len(self.y)
    def __getitem__(self, i):
        return torch.from_numpy(self.x[i]), int(self.y[i])

def as_dataset(n: int = 300):
    return Points(n)

def mismatched():
    return np.zeros((10, 2), "float32"), np.zeros(9, "int64")

def with_nan():
    x, y = rings(100)
    x[3, 1] = float("nan")
    return x, y

def teacher(n: int = 300):
    x = np.random.default_rng(0).normal(size=(n, 3)).astype("float32")
    return x, (x @ np.array([1.0, -2.0, 0.5])).astype("float32")
teacher.task = "regression"
'''


def _run(tmp_path, recipe: str, *extra):
    (tmp_path / "extras.py").write_text(EXTRAS)
    (tmp_path / "r.yaml").write_text(textwrap.dedent(recipe))
    p = sweepnn("run", "r.yaml", "--results", "out", *extra, cwd=tmp_path)
    out, err = p.communicate(timeout=300)
    return p.returncode, out, err


BASE = """\
    data: {name: "extras:rings", n: 300}
    model: {name: mlp, depth: 1, width: 16}
    train: {epochs: 2}
    search: {n_trials: 2, space: {train.optimizer.lr: [0.01, 0.03]}}
"""


def test_own_loss_and_metric_train_rank_and_are_recorded(tmp_path):
    recipe = BASE.replace(
        "train: {epochs: 2}", 'train: {epochs: 2, loss: {name: "extras:focal", gamma: 1.5}}'
    )
    recipe = recipe.replace("search: {n_trials: 2,", 'search: {objective: "extras:f1", n_trials: 2,')
    code, _, err = _run(tmp_path, recipe)
    assert code == 0, err
    scores = [float(r["extras:f1"]) for r in rows(tmp_path / "out" / "r")]
    assert scores == sorted(scores, reverse=True)  # ranked by the user's metric, maximized
    assert all(0 <= f <= 1 for f in scores) and len(scores) == 2
    recipe = (tmp_path / "out" / "r" / "recipe.yaml").read_text()
    assert "extras:focal" in recipe and "gamma: 1.5" in recipe


@pytest.mark.parametrize(
    ("data", "loss"),
    [
        ('{name: "extras:with_val"}', None),  # its own validation split
        ('{name: "extras:as_dataset"}', None),  # a torch Dataset, read once into arrays
        ('{name: "extras:teacher"}', '"torch.nn:SmoothL1Loss"'),  # regression, a torch loss class
    ],
)
def test_dataset_shapes_and_a_torch_loss_class_run(tmp_path, data, loss):
    recipe = BASE.replace('{name: "extras:rings", n: 300}', data)
    if loss:
        recipe = recipe.replace("train: {epochs: 2}", f"train: {{epochs: 2, loss: {loss}}}")
    code, _, err = _run(tmp_path, recipe)
    assert code == 0, err
    assert len(rows(tmp_path / "out" / "r")) == 2


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('"extras:rings", n: 300', '"extras:mismatched"'),
            "its train split has 10 inputs but 9 targets",
        ),
        (('"extras:rings", n: 300', '"extras:with_nan"'), "not finite numbers"),
        (('"extras:rings", n: 300', '"extras:rings", n: "300"'), "data.n: expected a whole number"),
        (('"extras:rings", n: 300', '"extras:rings", nn: 300'), "did you mean 'n'?"),
        (("train: {epochs: 2}", 'train: {epochs: 2, loss: "extras:focall"}'), "did you mean 'focal'?"),
        (("train: {epochs: 2}", 'train: {epochs: 2, loss: "nosuch:focal"}'), "no module 'nosuch'"),
        (("search: {n_trials: 2,", 'search: {objective: "extras:undirected", n_trials: 2,'), "direction"),
    ],
)
def test_mistakes_in_own_code_are_bad_input_with_nothing_written(tmp_path, change, expected):
    code, out, err = _run(tmp_path, BASE.replace(*change))
    assert code == 2, (out, err)
    assert expected in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_datasets_own_validation_split_is_the_validation_split():
    from sweepnn.options.datasets import DataParams
    from sweepnn.options.own_data import to_arrays

    x = np.arange(40, dtype="float32").reshape(20, 2)
    y = np.arange(20) % 2
    arrays = to_arrays({"train": (x[:15], y[:15]), "val": (x[15:], y[15:])}, "test data", "classification")
    assert arrays.x_val.shape == (5, 2) and arrays.y_val.dtype == np.int64
    params = DataParams(name="x")
    check(arrays, "classification", params)
    bad = Arrays(x, y, x_val=np.zeros((2, 3), "float32"), y_val=y[:2])
    with pytest.raises(InputError, match="validation inputs of shape 3"):
        check(bad, "classification", params)


def test_worker_processes_find_the_recipes_own_code(tmp_path):
    """Workers are processes of their own, started from a copy of the recipe elsewhere: the recipe's
    folder reaches them on PYTHONPATH, so they import extras.py as the command did. The recipe is not
    in the working directory, so only its folder being importable finds extras.py."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "extras.py").write_text(EXTRAS)
    (project / "r.yaml").write_text(textwrap.dedent(BASE.replace("n_trials: 2,", "n_trials: 4,")))
    p = sweepnn("run", "project/r.yaml", "--results", "out", "--workers", "2", cwd=tmp_path)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, (out, err)
    table = rows(tmp_path / "out" / "r")
    assert len(table) == 4 and {r["state"] for r in table} == {"complete"}


NETS = """
from torch import nn

def mlp(depth: int = 1, width: int = 16, in_features: int = 2, num_classes: int = 2):
    layers, d = [nn.Flatten()], in_features
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.BatchNorm1d(width), nn.ReLU()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, num_classes))
"""


def test_what_sweepnn_changed_in_an_own_network_is_in_the_trials_record(tmp_path):
    import optuna

    (tmp_path / "nets.py").write_text(NETS)
    recipe = BASE.replace(
        "{name: mlp, depth: 1, width: 16}", '{name: "nets:mlp", depth: 2, init: xavier_normal}'
    )
    recipe = recipe.replace("train.optimizer.lr: [0.01, 0.03]", "model.norm: [none, layernorm]")
    code, _, err = _run(tmp_path, recipe)
    assert code == 0, err
    journal = optuna.storages.journal.JournalFileBackend(str(tmp_path / "out" / "studies.journal"))
    study = optuna.load_study(study_name="r", storage=optuna.storages.JournalStorage(journal))
    for trial in study.trials:
        norm = trial.params["model.norm"]
        assert trial.user_attrs["changed"] == [
            f"2 norm layers -> {norm}",
            "3 weight layers -> xavier_normal",
        ]  # 2 hidden, 1 head


NO_NORM = """
import torch
from torch import nn

def plain(width: int = 8, in_features: int = 2, num_classes: int = 2):
    return nn.Sequential(nn.Linear(in_features, width), nn.ReLU(), nn.Linear(width, num_classes))

def bad_loss(output, target):
    raise ValueError("this loss is broken")
"""


def _project(tmp_path, recipe: str):
    project = tmp_path / "project"
    project.mkdir()
    (project / "nets.py").write_text(NETS + NO_NORM)
    (project / "r.yaml").write_text(textwrap.dedent(recipe))
    return project


def test_the_copies_of_an_own_model_recipe_run_where_they_are_and_reload(tmp_path):
    """best.yaml and the kept trial's recipe.yaml list the folder nets.py came from; load_model builds the
    user's network again and it scores what the trial recorded; moved away, `list` still lists it."""
    import torch

    import sweepnn as api
    from sweepnn.training.data import load_data
    from sweepnn.training.trainer import evaluate

    recipe = BASE.replace("{name: mlp, depth: 1, width: 16}", '{name: "nets:mlp", depth: 1}').replace(
        '"extras:rings", n: 300', "moons, n_samples: 300"
    )
    # a choice between a built-in and the user's network, by name; norm none on a norm-free network
    recipe = recipe.replace(
        "train.optimizer.lr: [0.01, 0.03]", 'model.name: ["nets:plain", "nets:mlp"], model.norm: [none]'
    )
    project = _project(tmp_path, recipe)
    p = sweepnn("run", "project/r.yaml", "--results", "out", cwd=tmp_path)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, (out, err)
    folder = tmp_path / "out" / "r"
    assert {r["model.name"] for r in rows(folder)} <= {"nets:plain", "nets:mlp"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    kept = next((folder / "models").glob("trial-*"))
    check = sweepnn("validate", folder / "best.yaml", kept / "recipe.yaml", cwd=elsewhere)
    out, err = check.communicate(timeout=120)
    assert check.returncode == 0, (out, err)
    card = json.loads((kept / "model.json").read_text())
    net = api.load_model(kept)
    cfg = api.load(kept / "recipe.yaml")
    data = load_data(cfg.data, torch.device("cpu"))
    _, accuracy = evaluate(net, data.x_val, data.y_val, data.task, LOSSES.parse("cross_entropy"))
    assert accuracy == card["metrics"]["val_accuracy"]
    project.rename(tmp_path / "moved")  # the study's code is gone: listed all the same, shown with why
    listed = sweepnn("list", "--results", "out", cwd=elsewhere.parent)
    out, err = listed.communicate(timeout=120)
    assert listed.returncode == 0 and "r" in out, (out, err)
    shown = sweepnn("show", "r", "--results", "out", cwd=elsewhere.parent)
    out, err = shown.communicate(timeout=120)
    assert shown.returncode == 2 and "cannot be read here" in err and "Traceback" not in err


def test_a_users_loss_that_raises_is_bad_input_before_the_sweep(tmp_path):
    recipe = BASE.replace("train: {epochs: 2}", 'train: {epochs: 2, loss: "nets:bad_loss"}').replace(
        '"extras:rings", n: 300', "moons, n_samples: 300"
    )
    _project(tmp_path, recipe)
    p = sweepnn("run", "project/r.yaml", "--results", "out", cwd=tmp_path)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 2, (out, err)
    assert "nets.py:" in err and "in bad_loss" in err and "this loss is broken" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
