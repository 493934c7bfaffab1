"""Datasets: generated sets, the MNIST-1D cache, splits by seed, tensors resident on the device."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from sweepnn.options.datasets import DATASETS, cache_dir
from sweepnn.training.data import load_data

CPU = torch.device("cpu")
SMALL = {
    "spirals": {"n_samples": 300},
    "moons": {"n_samples": 300},
    "blobs": {"n_samples": 300},
    "mnist1d": {"n_samples": 1000},
    "teacher": {"n_samples": 300},
    "xor": {"n_samples": 300, "dims": 3},
    "digits": {},
}


# File datasets read the files the tests write: IDX images of four classes, tables (CSV, Parquet) of
# three, CIFAR binary files with every class.
FILE_CLASSES = {
    "mnist": 4,
    "fashion_mnist": 4,
    "csv": 3,
    "parquet": 3,
    "cifar10": 10,
    "cifar100": 100,
    "image_folder": 3,
}


@pytest.fixture(autouse=True, scope="module")
def _idx_files(tmp_path_factory):
    from test_datasets_cifar import write_cifar
    from test_files import write_mnist, write_parquet
    from test_image_folder import write_shapes

    folder = write_mnist(tmp_path_factory.mktemp("idx"), n=300)
    SMALL["mnist"] = SMALL["fashion_mnist"] = {"path": str(folder)}
    table = write_parquet(tmp_path_factory.mktemp("tables") / "table.parquet")  # and table.csv beside it
    SMALL["csv"] = {"path": str(table.with_suffix(".csv")), "target": "label"}
    SMALL["parquet"] = {"path": str(table), "target": "label"}
    SMALL["cifar10"] = {"path": str(write_cifar(tmp_path_factory.mktemp("c10"), "cifar10", per_file=40))}
    SMALL["cifar100"] = {"path": str(write_cifar(tmp_path_factory.mktemp("c100"), "cifar100", per_file=1000))}
    SMALL["image_folder"] = {
        "path": str(write_shapes(tmp_path_factory.mktemp("shapes"), per_class=20)),
        "size": 12,
    }
    yield
    for name in FILE_CLASSES:
        SMALL.pop(name, None)


def params(name: str, **kw):
    return DATASETS.parse({"name": name, **SMALL[name], **kw})


def test_every_dataset_has_small_test_params():
    assert set(SMALL) == set(DATASETS.builtins)  # file datasets are added by the _idx_files fixture


@pytest.mark.parametrize("name", list(DATASETS.builtins))
def test_dataset_loads_split_and_typed(name):
    p = params(name)
    d = load_data(p, CPU)
    n = len(d.x_train) + len(d.x_val)
    assert len(d.x_val) == round(p.val_fraction * n)
    assert d.x_train.dtype == torch.float32 and d.x_train.device.type == "cpu"
    assert d.task == DATASETS[name].task
    if d.task == "classification":
        assert d.y_train.dtype == torch.int64
        classes = getattr(p, "classes", FILE_CLASSES.get(name, 2 if name in ("moons", "xor") else 10))
        assert d.n_outputs == classes
        assert set(d.y_train.unique().tolist()) == set(range(classes))
        counts = torch.bincount(d.y_val)
        assert d.chance == pytest.approx(counts.max().item() / len(d.y_val))
    else:
        assert d.y_train.dtype == torch.float32 and d.n_outputs == p.outputs
        assert d.chance == 0.0 and d.y_var[1] == pytest.approx(d.y_val.var(unbiased=False).item(), rel=1e-4)
    # the two splits are disjoint: no example is both trained on and validated on
    train_rows = {tuple(r) for r in d.x_train.reshape(len(d.x_train), -1).numpy().round(6).tolist()}
    assert not any(
        tuple(r) in train_rows for r in d.x_val.reshape(len(d.x_val), -1).numpy().round(6).tolist()
    )


@pytest.mark.parametrize("name", list(DATASETS.builtins))
def test_split_follows_the_seed(name):
    a, b, c = (load_data(params(name, seed=s), CPU) for s in (0, 0, 1))
    assert torch.equal(a.x_val, b.x_val)
    assert not torch.equal(a.x_val, c.x_val)


def test_teacher_targets_are_a_learnable_function_plus_the_stated_noise():
    clean = DATASETS["teacher"].load(params("teacher", noise=0.0, n_samples=2000), cache_dir())
    noisy = DATASETS["teacher"].load(params("teacher", noise=0.5, n_samples=2000), cache_dir())
    assert clean.y.std() == pytest.approx(1.0, rel=1e-3)  # standardized before noise is added
    assert np.allclose(clean.x, noisy.x)
    assert (noisy.y - clean.y).std() == pytest.approx(0.5, rel=0.1)


def test_limit_caps_the_training_pool():
    d = load_data(params("spirals", limit=100), CPU)
    assert len(d.x_train) + len(d.x_val) == 100


def test_spirals_are_not_linearly_separable_but_blobs_are():
    """The generated problems differ in difficulty as their descriptions say."""

    def linear_accuracy(name: str) -> float:
        d = load_data(params(name, n_samples=1200), CPU)
        x = torch.cat([d.x_train, torch.ones(len(d.x_train), 1)], 1)
        onehot = torch.nn.functional.one_hot(d.y_train, d.n_outputs).float()
        w = torch.linalg.lstsq(x, onehot).solution  # least-squares linear classifier
        xv = torch.cat([d.x_val, torch.ones(len(d.x_val), 1)], 1)
        return ((xv @ w).argmax(1) == d.y_val).float().mean().item()

    assert linear_accuracy("blobs") > 0.9
    assert linear_accuracy("spirals") < 0.7


def test_mnist1d_is_generated_once_and_cached(tmp_path):
    p = params("mnist1d")  # a cache of its own: other tests cache other variants in the shared one
    DATASETS["mnist1d"].load(p, tmp_path)
    (cached,) = tmp_path.glob("mnist1d-*.npz")
    mtime = cached.stat().st_mtime_ns
    arrays = DATASETS["mnist1d"].load(p, tmp_path)
    assert cached.stat().st_mtime_ns == mtime  # read back, not generated again
    assert arrays.x.shape == (800, 40) and arrays.x_test.shape == (200, 40)
    assert np.isfinite(arrays.x).all()


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SWEEPNN_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SWEEPNN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x" / "sweepnn"
    assert os.environ["XDG_CACHE_HOME"] == str(tmp_path / "x")


def test_same_data_config_is_loaded_once_per_process():
    p = params("moons")
    assert load_data(p, CPU) is load_data(p, CPU)
