"""Datasets from files in their real formats, written by the tests themselves."""

from __future__ import annotations

import csv
import gzip
import re
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import rows as trial_rows

from sweepnn.data.files import IDX_FILES, read_idx
from sweepnn.errors import InputError
from sweepnn.options.datasets import DATASETS

ROOT = Path(__file__).resolve().parents[2]


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    """An IDX file as LeCun's MNIST distribution has them: magic, big-endian sizes, raw bytes."""
    codes = {np.dtype("uint8"): 0x08, np.dtype(">f4"): 0x0D}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + b"".join(
        struct.pack(">I", n) for n in array.shape
    )
    data = header + array.tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """28x28 images of four classes: a 14x14 patch whose brightness tells the class, at a random place,
    on noise. Position-invariant on purpose, so a convnet with global pooling can learn it."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n).astype("uint8")
    x = rng.integers(0, 40, (n, 28, 28)).astype("uint8")
    for i, k in enumerate(y):
        r, c = rng.integers(0, 15, 2)
        x[i, r : r + 14, c : c + 14] = 60 + 60 * int(k)
    return x, y


def write_mnist(folder: Path, n: int = 600, gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (x, y), (xt, yt) = digits(n, 0), digits(n // 5, 1)
    for key, array in {"x": x, "y": y, "x_test": xt, "y_test": yt}.items():
        write_idx(folder / IDX_FILES[key], array, gz=gz and key.startswith("x"))  # a mix of .gz and raw
    return folder


def test_read_idx_round_trips_raw_and_gzip(tmp_path):
    a = np.arange(2 * 3 * 4, dtype="uint8").reshape(2, 3, 4)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a", a)), a)
    assert np.array_equal(read_idx(write_idx(tmp_path / "b", a, gz=True)), a)
    f = np.linspace(0, 1, 6).astype(">f4")
    assert np.array_equal(read_idx(write_idx(tmp_path / "f", f)), f)


def test_bad_idx_files_are_clear_errors(tmp_path):
    (tmp_path / "junk").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(InputError, match="is not an IDX file"):
        read_idx(tmp_path / "junk")
    good = write_idx(tmp_path / "cut", np.zeros((4, 5), "uint8"))
    good.write_bytes(good.read_bytes()[:-3])
    with pytest.raises(InputError, match="truncated or corrupt: 29 bytes, its header promises 32"):
        read_idx(good)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_dataset_loads_images_with_channels(tmp_path, name):
    folder = write_mnist(tmp_path / name)
    arrays = DATASETS[name].load(DATASETS.parse({"name": name, "path": str(folder)}), tmp_path)
    assert arrays.x.shape == (600, 1, 28, 28) and arrays.x.dtype == np.float32
    assert arrays.x.min() >= 0.0 and arrays.x.max() <= 1.0
    assert arrays.x_test.shape == (120, 1, 28, 28) and arrays.y.dtype == np.int64


def test_missing_idx_files_name_what_is_expected_and_where_to_get_it(tmp_path):
    folder = write_mnist(tmp_path / "m")
    (folder / (IDX_FILES["y_test"])).unlink()
    with pytest.raises(InputError) as e:
        DATASETS["mnist"].load(DATASETS.parse({"name": "mnist", "path": str(folder)}), tmp_path)
    text = str(e.value)
    assert "mnist files missing in" in text and "t10k-labels-idx1-ubyte (raw or .gz)" in text
    assert "storage.googleapis.com/cvdf-datasets/mnist" in text


def test_cnn_recipe_on_idx_files_runs_end_to_end(cli, write_recipe, tmp_path):
    folder = write_mnist(tmp_path / "digits", n=800)
    recipe = write_recipe(
        f"""\
description: a CNN on IDX files written by the test
data: {{name: mnist, path: {folder}, normalize: standardize}}
model: {{name: cnn, channels: [8, 16]}}
train: {{epochs: 5, batch_size: 32, optimizer: {{name: adam, lr: 0.003}}}}
search:
  sampler: random
  n_trials: 2
  space:
    model.dropout: [0.0, 0.2]
""",
        "digits",
    )
    code, _, err = cli("run", recipe, "--device", "cpu")
    assert code == 0, err
    rows = trial_rows(tmp_path / "results" / "digits")
    assert len(rows) == 2 and max(float(r["val_accuracy"]) for r in rows) > 0.9


def test_missing_data_files_fail_before_a_study_exists(cli, write_recipe, tmp_path):
    recipe = write_recipe("data: {name: mnist, path: nowhere}\n", "nodata")
    code, _, err = cli("run", recipe, "--device", "cpu")
    assert code == 2 and "mnist files missing in" in err
    assert not (tmp_path / "results" / "studies.journal").exists()


def write_table(path: Path, n: int = 300, seed: int = 0) -> Path:
    """A CSV table: two numeric features, one text feature, a class label and a numeric target."""
    rng = np.random.default_rng(seed)
    size = rng.normal(0, 1, n)
    weight = rng.normal(0, 1, n)
    colour = rng.choice(["red", "green", "blue"], n)
    shift = {"red": 1.5, "green": 0.0, "blue": -1.5}
    score = size + 0.5 * weight + np.array([shift[c] for c in colour])
    label = np.where(score > 0.5, "high", np.where(score < -0.5, "low", "mid"))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["size", "weight", "colour", "label", "price"])
        for row in zip(size, weight, colour, label, 3 * score + 10, strict=True):
            w.writerow([f"{row[0]:.5f}", f"{row[1]:.5f}", row[2], row[3], f"{row[4]:.5f}"])
    return path


def test_csv_classification_one_hot_encodes_text_and_numbers_labels(tmp_path):
    file = write_table(tmp_path / "t.csv")
    p = DATASETS.parse({"name": "csv", "path": str(file), "target": "label"})
    arrays = DATASETS["csv"].load(p, tmp_path)
    assert arrays.x.shape == (300, 2 + 1 + 3)  # size, weight, price, one column per colour
    assert set(np.unique(arrays.y)) == {0, 1, 2}  # high, low, mid in sorted order
    colours = arrays.x[:, 3:]
    assert np.array_equal(colours.sum(1), np.ones(300))  # exactly one colour per row


def test_csv_regression_with_chosen_features(tmp_path):
    file = write_table(tmp_path / "t.csv")
    p = DATASETS.parse(
        {
            "name": "csv",
            "path": str(file),
            "target": "price",
            "task": "regression",
            "features": ["size", "weight", "colour"],
        }
    )
    arrays = DATASETS["csv"].load(p, tmp_path)
    assert arrays.x.shape == (300, 5) and arrays.y.dtype == np.float32


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target": "labl"}, "has no target column 'labl'; its columns: size, weight, colour, label, price"),
        ({"features": ["size", "hue"]}, "feature columns ['hue'] not found"),
        ({"path": "missing.csv"}, "no table at"),
        (
            {"target": "colour", "task": "regression"},
            "target 'colour' is not numeric; use task: classification",
        ),
    ],
)
def test_csv_mistakes_are_clear(tmp_path, change, message):
    file = write_table(tmp_path / "t.csv")
    p = DATASETS.parse({"name": "csv", "path": str(file), "target": "label", **change})
    with pytest.raises(InputError, match=re.escape(message)):
        DATASETS["csv"].load(p, tmp_path)


def test_csv_with_empty_cells_is_refused(tmp_path):
    file = tmp_path / "gaps.csv"
    file.write_text("a,b,y\n1,2,x\n3,,y\n")
    p = DATASETS.parse({"name": "csv", "path": str(file), "target": "y"})
    with pytest.raises(InputError, match="empty cells in b"):
        DATASETS["csv"].load(p, tmp_path)


def test_tabular_recipe_on_a_csv_file_runs_end_to_end(cli, write_recipe, tmp_path):
    file = write_table(tmp_path / "table.csv", n=600)
    recipe = write_recipe(
        f"""\
description: a tabular sweep on a CSV file written by the test
data: {{name: csv, path: {file}, target: label, normalize: standardize}}
model: {{depth: 2, width: 32}}
train: {{epochs: 10, optimizer: {{name: adam, lr: 0.01}}}}
search:
  sampler: random
  n_trials: 2
  space:
    model.activation: [relu, tanh]
""",
        "table",
    )
    code, _, err = cli("run", recipe, "--device", "cpu")
    assert code == 0, err
    rows = trial_rows(tmp_path / "results" / "table")
    assert len(rows) == 2 and max(float(r["val_accuracy"]) for r in rows) > 0.85


def write_parquet(path: Path, n: int = 300, seed: int = 0) -> Path:
    """The same table as write_table, as Parquet; the colour column stored as a categorical."""
    import pandas as pd

    table = pd.read_csv(write_table(path.with_suffix(".csv"), n, seed))
    table["colour"] = table["colour"].astype("category")
    table.to_parquet(path, engine="pyarrow")
    return path


@pytest.mark.parametrize(
    "change",
    [{"target": "label"}, {"target": "price", "task": "regression", "features": ["size", "colour"]}],
)
def test_parquet_gives_the_arrays_csv_gives_for_the_same_table(tmp_path, change):
    file = write_parquet(tmp_path / "t.parquet")
    arrays = {
        fmt: DATASETS[fmt].load(
            DATASETS.parse({"name": fmt, "path": str(file.with_suffix(f".{fmt}")), **change}), tmp_path
        )
        for fmt in ("csv", "parquet")
    }
    assert np.array_equal(arrays["csv"].x, arrays["parquet"].x)
    assert np.array_equal(arrays["csv"].y, arrays["parquet"].y)
    assert arrays["parquet"].x.dtype == np.float32


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda f: f.write_text("size,label\n1,a\n"), "cannot read {file} as Parquet"),
        (lambda f: None, "no table at {file}: give data.path, a Parquet file"),
    ],
    ids=["not-parquet", "missing"],
)
def test_parquet_mistakes_are_clear(tmp_path, write, message):
    file = tmp_path / "t.parquet"
    write(file)
    p = DATASETS.parse({"name": "parquet", "path": str(file), "target": "label"})
    with pytest.raises(InputError, match=re.escape(message.format(file=file))):
        DATASETS["parquet"].load(p, tmp_path)


def test_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    file = write_parquet(tmp_path / "t.parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if pyarrow were not installed
    p = DATASETS.parse({"name": "parquet", "path": str(file), "target": "label"})
    with pytest.raises(InputError, match=re.escape("needs pyarrow: pip install 'sweepnn[parquet]'")):
        DATASETS["parquet"].load(p, tmp_path)
