"""`data.val_fraction: 0`: the whole training pool trains and every epoch is evaluated on the test split
(its metrics keep the names val_*), on datasets with a test split of their own (MNIST-1D, IDX files,
an image folder's test/) and on one `data.test_fraction` carves. The trivial predictor's score and the
targets' variance come from the split the run is scored on; no test score pretends to be held out.

Each case loads the same data twice, with val_fraction 0 and with the default 0.2, so the split the
epochs are scored on can be compared with the test split the default holds out.
"""

from __future__ import annotations

import csv
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from sweepnn.data.arrays import min_examples, split_sizes
from sweepnn.errors import InputError
from sweepnn.options.losses import LOSSES
from sweepnn.recipe.config import Recipe
from sweepnn.training.data import load_data, read_checked, train_size
from sweepnn.training.holdout import score_seeds_on_test
from sweepnn.training.trainer import evaluate, train

torch.set_num_threads(1)

CPU = torch.device("cpu")
MNIST1D = {"name": "mnist1d", "n_samples": 400, "limit": 300}  # 320 to train from, 80 to test
MLP = {"name": "mlp", "depth": 1, "width": 16}


def both(data: dict):
    """(the data with val_fraction 0, the same data with the default validation split)."""
    whole = Recipe(name="w", data={**data, "val_fraction": 0}, model=MLP).data
    split = Recipe(name="s", data=data, model=MLP).data
    return load_data(whole, CPU), load_data(split, CPU)


def test_the_whole_pool_trains_and_every_epoch_is_scored_on_the_test_split():
    whole, split = both(MNIST1D)
    assert whole.val_is_test and whole.x_test is None and not split.val_is_test
    assert len(whole.x_train) == 300 and len(split.x_train) == 240  # nothing held out of the 300
    assert torch.equal(whole.x_val, split.x_test) and torch.equal(whole.y_val, split.y_test)
    y_test = split.y_test.numpy()
    assert whole.chance == np.bincount(y_test).max() / len(y_test)
    cfg = Recipe(name="w", data={**MNIST1D, "val_fraction": 0}, model=MLP, train={"epochs": 2})
    result = train(cfg, CPU, data=whole)
    loss = LOSSES.parse("cross_entropy")
    val_loss, accuracy = evaluate(result.model, split.x_test, split.y_test, "classification", loss)
    assert result.history[-1]["val_accuracy"] == accuracy and result.history[-1]["val_loss"] == val_loss
    assert result.chance == whole.chance
    assert score_seeds_on_test(cfg, CPU, None) == []  # no held-out score beside the one it was chosen on


def test_a_test_split_carved_out_of_the_pool_is_the_one_evaluated_on():
    whole, split = both({"name": "spirals", "n_samples": 300, "test_fraction": 0.2})
    assert len(whole.x_train) == 240 and len(split.x_train) == 192
    assert torch.equal(whole.x_val, split.x_test)  # carved first, by the same seed
    together = torch.cat([whole.x_train, whole.x_val])
    assert len(torch.unique(together, dim=0)) == 300  # the test examples never train


def test_a_regression_is_scored_against_the_variance_of_the_test_targets():
    whole, split = both({"name": "teacher", "n_samples": 300, "test_fraction": 0.25})
    assert whole.y_var[1] == pytest.approx(float(split.y_test.numpy().var()), rel=1e-12)
    assert whole.y_var[0] == pytest.approx(float(whole.y_train.numpy().var()), rel=1e-12)
    assert whole.y_var[1] != split.y_var[1] and whole.chance == 0.0


def write_idx(path, array: np.ndarray) -> None:
    """An uncompressed IDX file: magic (uint8 data, its dimensions), big-endian sizes, raw bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(header + array.tobytes())


def test_idx_files_train_on_all_their_training_images_and_evaluate_on_t10k(tmp_path):
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": rng.integers(0, 255, (60, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 3, 60, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 255, (20, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.array([0, 1, 2, 2] * 5, dtype=np.uint8),
    }
    for name, array in files.items():
        write_idx(tmp_path / name, array)
    whole, split = both({"name": "mnist", "path": str(tmp_path)})
    assert len(whole.x_train) == 60 and len(split.x_train) == 48
    assert torch.equal(whole.x_val, split.x_test) and whole.chance == 0.5  # class 2: 10 of the 20
    expected = files["t10k-images-idx3-ubyte"].astype("float32") / 255
    assert np.array_equal(whole.x_val.numpy()[:, 0], expected)


def write_images(folder, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for k in ("a", "b"):
        (folder / k).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)).save(folder / k / f"{i}.png")


def test_an_image_folders_own_validation_split_trains_too_and_test_is_evaluated_on(tmp_path):
    write_images(tmp_path / "train", 5, 0)
    write_images(tmp_path / "val", 2, 1)
    data = {"name": "image_folder", "path": str(tmp_path), "size": 6}
    with pytest.raises(InputError, match=r"data\.val_fraction 0 .* data\.test_fraction"):
        read_checked(Recipe(name="w", data={**data, "val_fraction": 0}).data)  # no test/ yet
    write_images(tmp_path / "test", 3, 2)
    whole, split = both(data)
    assert len(split.x_train) == 10 and len(split.x_val) == 4  # the folders' own split
    assert len(whole.x_train) == 14 and len(whole.x_val) == 6  # train/ and val/ train; test/ scores
    assert torch.equal(whole.x_val, split.x_test)


def test_splits_and_sizes_follow_a_zero_validation_share():
    whole = Recipe(name="w", data={"name": "spirals", "val_fraction": 0, "test_fraction": 0.2}).data
    assert split_sizes(100, 0, 0.2, None) == (20, 0, 80)
    assert split_sizes(100, 0, 0.2, 30) == (20, 0, 30)
    assert min_examples(whole) == 2
    for data in (
        {"name": "spirals", "n_samples": 200, "val_fraction": 0, "test_fraction": 0.1, "limit": 50},
        {"name": "spirals", "n_samples": 200, "test_fraction": 0.1},
        {**MNIST1D, "val_fraction": 0},
    ):
        params = Recipe(name="w", data=data).data
        assert train_size(params) == len(load_data(params, CPU).x_train)


def test_a_sweep_says_it_is_scored_on_the_test_split_and_keeps_no_test_score(cli, tmp_path):
    (tmp_path / "r.yaml").write_text(
        "data: {name: mnist1d, n_samples: 400, limit: 300, val_fraction: 0}\n"
        "model: {name: mlp, depth: 1, width: 8}\n"
        "train: {epochs: 2}\n"
        "search: {n_trials: 2, space: {train.optimizer.lr: [0.01, 0.001]}}\n"
    )
    code, _out, err = cli("run", "r.yaml", "--device", "cpu", "--quiet")
    assert code == 0, err
    assert "validated on the test split (data.val_fraction 0)" in err
    assert "search.test_top 3 skipped" in err
    folder = tmp_path / "results" / "r"
    assert "val_fraction: 0" in (folder / "recipe.yaml").read_text()
    with open(folder / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(not r.get("test_accuracy") for r in rows)
