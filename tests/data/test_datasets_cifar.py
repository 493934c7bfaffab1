"""CIFAR-10 and CIFAR-100 from their binary version, in files the tests write record by record."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import rows as trial_rows

from sweepnn.data.files import CIFAR_PIXELS, CIFAR_SETS
from sweepnn.errors import InputError
from sweepnn.options.datasets import DATASETS

# the four-colour-level palette that tells the classes apart in written images: (r, g, b) levels
_LEVELS = (70, 120, 170, 220)


def cifar_records(n: int, labels: dict[str, np.ndarray], seed: int) -> tuple[bytes, np.ndarray]:
    """`n` records as the binary version has them: the label bytes, then 1024 red, 1024 green and
    1024 blue pixel bytes, each plane row-major. The image is noise with a 12x12 patch whose colour
    tells the last label's class, at a random place. Returns the bytes and the (n, 3, 32, 32) images."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 50, (n, 3, 32, 32)).astype("uint8")
    last = list(labels.values())[-1]
    for i, k in enumerate(last):
        r, c = rng.integers(0, 21, 2)
        colour = [_LEVELS[k % 4], _LEVELS[(k // 4) % 4], _LEVELS[(k // 16) % 4]]
        images[i, :, r : r + 12, c : c + 12] = np.array(colour, "uint8")[:, None, None]
    heads = np.stack([labels[k].astype("uint8") for k in labels], axis=1)
    records = np.concatenate([heads, images.reshape(n, CIFAR_PIXELS)], axis=1)
    return records.tobytes(), images


def write_cifar(folder: Path, source: str, per_file: int = 40, nested: bool = True, seed: int = 0) -> Path:
    """A CIFAR binary set as the published archive extracts it (inside its own directory when
    `nested`); every class appears in each file. Returns the folder a recipe names."""
    layout = CIFAR_SETS[source]
    where = folder / layout.folder if nested else folder
    where.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, name in enumerate([*layout.train, layout.test]):
        last = layout.labels[-1]
        y = rng.permutation(np.arange(per_file) % layout.classes[last])
        labels = {last: y} if len(layout.labels) == 1 else {"coarse": y // 5, "fine": y}
        data, _ = cifar_records(per_file, labels, seed + i)
        (where / name).write_bytes(data)
    return folder


def load(source: str, folder: Path, **kw):
    return DATASETS[source].load(DATASETS.parse({"name": source, "path": str(folder), **kw}), folder)


@pytest.mark.parametrize("nested", [True, False], ids=["extracted-folder-inside", "folder-itself"])
def test_cifar10_loads_train_and_test_as_float_images(tmp_path, nested):
    folder = write_cifar(tmp_path / "c10", "cifar10", per_file=30, nested=nested)
    a = load("cifar10", folder)
    assert a.x.shape == (150, 3, 32, 32) and a.x.dtype == np.float32  # five training batches
    assert a.x_test.shape == (30, 3, 32, 32) and a.y.dtype == np.int64 == a.y_test.dtype
    assert a.x.min() >= 0.0 and a.x.max() <= 1.0
    assert set(a.y.tolist()) == set(range(10))


def test_record_bytes_land_in_channel_row_column_order(tmp_path):
    """The label byte leads; then the red plane, the green, the blue, each row by row."""
    where = write_cifar(tmp_path / "c", "cifar10", per_file=10, nested=False)
    record = bytearray(1 + CIFAR_PIXELS)
    record[0] = 7
    record[1 + 1] = 255  # red, row 0, column 1
    record[1 + 1024 + 32 * 2 + 3] = 51  # green, row 2, column 3
    record[1 + 2048 + 32 * 31 + 31] = 102  # blue, last pixel
    (where / "test_batch.bin").write_bytes(bytes(record))
    a = load("cifar10", where)
    assert a.y_test.tolist() == [7]
    image = a.x_test[0]
    assert (
        image[0, 0, 1] == 1.0
        and image[1, 2, 3] == pytest.approx(0.2)
        and image[2, 31, 31] == pytest.approx(0.4)
    )
    assert np.count_nonzero(image) == 3


def test_cifar100_gives_fine_or_coarse_labels(tmp_path):
    folder = write_cifar(tmp_path / "c100", "cifar100", per_file=200)
    fine, coarse = load("cifar100", folder), load("cifar100", folder, labels="coarse")
    assert fine.x.shape == (200, 3, 32, 32) and fine.x_test.shape == (200, 3, 32, 32)
    assert set(fine.y.tolist()) == set(range(100)) and set(coarse.y.tolist()) == set(range(20))
    assert np.array_equal(coarse.y, fine.y // 5)  # as written: five fine classes per superclass
    assert np.array_equal(fine.x, coarse.x)


def test_a_file_that_is_not_whole_records_is_refused(tmp_path):
    folder = write_cifar(tmp_path / "c", "cifar10", per_file=4, nested=False)
    batch = folder / "data_batch_3.bin"
    batch.write_bytes(batch.read_bytes()[:-5])
    with pytest.raises(InputError) as e:
        load("cifar10", folder)
    assert (
        f"{batch} is not a CIFAR binary file: 12287 bytes is not a whole number of 3073-byte records"
        in str(e.value)
    )


@pytest.mark.parametrize(
    ("source", "labels", "message"),
    [
        ("cifar10", {"label": np.array([3, 10])}, "a record's label byte is 10, past its 10 classes"),
        (
            "cifar100",
            {"coarse": np.array([1, 2]), "fine": np.array([5, 100])},
            "a record's fine label byte is 100, past its 100 classes",
        ),
    ],
)
def test_label_bytes_past_the_classes_are_refused(tmp_path, source, labels, message):
    """Files of another set, or not CIFAR at all, can be whole records by chance; their labels tell."""
    folder = write_cifar(tmp_path / "c", source, per_file=100, nested=False)
    bad = folder / CIFAR_SETS[source].test
    bad.write_bytes(cifar_records(2, labels, 0)[0])
    with pytest.raises(
        InputError, match=re.escape(f"{bad} is not a CIFAR binary file of this set: {message}")
    ):
        load(source, folder)


def test_missing_cifar_files_name_each_expected_file_where_and_how_to_get_them(tmp_path):
    folder = write_cifar(tmp_path / "c", "cifar10")
    (folder / "cifar-10-batches-bin" / "data_batch_4.bin").unlink()
    (folder / "cifar-10-batches-py").mkdir()
    with pytest.raises(InputError) as e:
        load("cifar10", folder)
    text = str(e.value)
    assert (
        f"cifar10 files missing in {(folder / 'cifar-10-batches-bin').resolve()}: data_batch_4.bin." in text
    )
    assert "data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin" in text
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" in text
    assert "cifar-10-batches-py/ found there is the Python version, a pickle sweepnn does not read" in text
    assert "sweepnn download cifar10" in text


def test_missing_cifar100_folder_says_where_it_looked(tmp_path):
    with pytest.raises(InputError) as e:
        load("cifar100", tmp_path / "nowhere")
    assert re.search(r"cifar100 files missing in .*nowhere: train\.bin, test\.bin\.", str(e.value))
    assert "cifar-100-binary.tar.gz" in str(e.value)


def test_augmented_cnn_recipe_on_cifar10_files_runs_end_to_end(cli, write_recipe, tmp_path):
    folder = write_cifar(tmp_path / "cifar", "cifar10", per_file=80)
    recipe = write_recipe(
        f"""\
description: a CNN on CIFAR-10 binary files written by the test
data: {{name: cifar10, path: {folder}, normalize: standardize, augment: {{flip: true}}}}
model: {{name: cnn, channels: [8, 16]}}
train: {{epochs: 10, batch_size: 32, optimizer: {{name: adam, lr: 0.005}}}}
""",
        "cifar",
    )
    code, _, err = cli("run", recipe, "--device", "cpu")
    assert code == 0, err
    (row,) = trial_rows(tmp_path / "results" / "cifar")
    # ten classes (chance 0.1); the files' own test batch is scored too
    assert float(row["val_accuracy"]) > 0.6 and float(row["test_accuracy"]) > 0.6
