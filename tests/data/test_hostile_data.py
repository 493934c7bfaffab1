"""Degenerate and hostile data files, for every loader that reads files: each is exit 2 at load time,
with a message that names the file and what is wrong; no traceback, nothing under the results
folder, no trial run.

The files are written here in their real formats (CSV text, Parquet through pyarrow, IDX headers
packed with struct, raw and gzipped, CIFAR binary records, a real PNG image) and every case runs the
real command in a process of its own, as a user meets it.
"""

from __future__ import annotations

import csv
import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import command_on

from sweepnn.data.files import CIFAR_PIXELS, CIFAR_SETS, IDX_FILES

LOADERS = ["csv", "parquet", "mnist", "fashion_mnist", "cifar10", "cifar100"]

RECIPE = """\
description: a sweep on hostile data
data:
  name: {name}
  path: {path}
{extra}model: {{name: mlp, depth: 1, width: 8}}
train: {{epochs: 1, batch_size: 16}}
search: {{sampler: random, n_trials: 1}}
"""
TARGET = {"csv": "  target: y\n", "parquet": "  target: y\n"}  # what a table's recipe adds
PATH_LINE = 4  # the line of data.path in RECIPE, where `validate` reports a data problem


# --- the files, in their real formats ---------------------------------------------------------------


def png_bytes() -> bytes:
    """A real 2x2 greyscale PNG image: signature, IHDR, IDAT, IEND chunks with their CRCs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"\x00\x10\x20\x00\x30\x40"  # each row: filter byte 0, then two pixels
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def idx_bytes(array: np.ndarray, code: int | None = None, shape: tuple[int, ...] | None = None) -> bytes:
    """An IDX file: two zero bytes, the type code, the number of dimensions, each size as a big-endian
    uint32, then the values. `code` and `shape` override what the header declares."""
    codes = {"u1": 0x08, "i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}
    shape = array.shape if shape is None else shape
    code = codes[array.dtype.str.replace("|", "").replace("<", ">")] if code is None else code
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + array.tobytes()


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def images(n: int, size: tuple[int, int] = (28, 28), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *size)).astype("uint8")


def mnist_set(folder: Path, n: int = 50, gz: bool = True, **arrays: np.ndarray) -> Path:
    """The four IDX files of an MNIST-style set (images .gz, labels raw); `arrays` replace any."""
    folder.mkdir(parents=True, exist_ok=True)
    default = {
        "x": images(n),
        "y": (np.arange(n) % 4).astype("uint8"),
        "x_test": images(n // 2, seed=1),
        "y_test": (np.arange(n // 2) % 4).astype("uint8"),
    }
    paths = {}
    for key, array in {**default, **arrays}.items():
        paths[key] = write(folder / IDX_FILES[key], idx_bytes(array), gz=gz and key.startswith("x"))
    return folder


def cifar_set(folder: Path, source: str, per_file: int = 20, labels=None, pixels=None) -> Path:
    """A CIFAR binary set as the archive extracts it: records of label byte(s), then 3072 pixel bytes."""
    layout = CIFAR_SETS[source]
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for name in (*layout.train, layout.test):
        fine = np.arange(per_file) % layout.classes[layout.labels[-1]] if labels is None else labels
        heads = [np.asarray(fine)] if len(layout.labels) == 1 else [np.asarray(fine) // 5, np.asarray(fine)]
        image = rng.integers(0, 256, (per_file, CIFAR_PIXELS)) if pixels is None else pixels
        records = np.concatenate([np.stack(heads, 1), np.broadcast_to(image, (per_file, CIFAR_PIXELS))], 1)
        (folder / name).write_bytes(records.astype("uint8").tobytes())
    return folder


def table_rows(n: int = 30) -> list[list]:
    return [[i / 10, (i * 7) % 5, "cat" if i % 3 else "dog"] for i in range(n)]


def write_table(path: Path, rows: list[list], header=("a", "b", "y")) -> Path:
    """A table as CSV (None is an empty cell) or, by the suffix, as Parquet written by pyarrow."""
    if path.suffix == ".parquet":
        import pandas as pd

        pd.DataFrame(rows, columns=list(header)).to_parquet(path, engine="pyarrow", index=False)
        return path
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows([["" if v is None else v for v in row] for row in rows])
    return path


# --- the command ------------------------------------------------------------------------------------


def sweep(tmp_path: Path, name: str, path: Path, extra: str = "", command: str = "run", timeout: float = 120):
    """The real command on a recipe reading `path`: (exit code, stdout, stderr)."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(name=name, path=path, extra=extra))
    return command_on(tmp_path, command, recipe, timeout)


def refused(tmp_path: Path, name: str, path: Path, names: Path, *messages: str, extra: str = "", timeout=120):
    """Exit 2, no traceback, each message and the file `names` in stderr, nothing written."""
    code, out, err = sweep(tmp_path, name, path, extra, timeout=timeout)
    text = " ".join(err.split())
    assert code == 2, out + err
    assert "Traceback" not in out + err, err
    assert str(names) in text, text
    for message in messages:
        assert message in text, text
    results = tmp_path / "results"
    assert not results.exists() or not any(results.rglob("*")), sorted(results.rglob("*"))
    assert "trial 0" not in out.lower()
    return text


# --- every loader x every kind of degenerate file ---------------------------------------------------


def _table(fmt: str):
    def case(kind: str, tmp: Path) -> tuple[Path, Path, list[str]]:
        file = tmp / f"t.{fmt}"
        what = "a CSV file with a header row" if fmt == "csv" else "a Parquet file"
        if kind == "no rows":
            return file, write_table(file, []), ["has a header and no rows"]
        if kind == "one row":
            need = "has 1 row: a training and a validation split (data.val_fraction 0.2) need at least 2"
            return file, write_table(file, table_rows(1)), [need]
        if kind == "one class":
            rows = [[a, b, "cat"] for a, b, _ in table_rows()]
            return file, write_table(file, rows), ["target 'y' is 'cat' in all 30 rows", "at least 2 classes"]
        if kind == "constant":
            rows = [[1.5, y] for _, _, y in table_rows()]
            return file, write_table(file, rows, ("a", "y")), ["the features (a) are the same in all 30 rows"]
        if kind == "empty column":
            rows = [[a, None, y] for a, _, y in table_rows()]
            return file, write_table(file, rows), ["column 'b' is empty in every row"]
        if kind == "wrong format":
            if fmt == "csv":
                file.write_bytes(png_bytes())
                return file, file, ["is not a CSV file: it is a PNG image"]
            write_table(tmp / "t.csv", table_rows()).rename(file)
            return file, file, ["as Parquet: it is not a Parquet file (one starts and ends with PAR1"]
        if kind == "directory":
            file.mkdir()
            return file, file, [f"is a folder: give data.path, {what}"]
        raise AssertionError(kind)

    return case


def _idx(kind: str, tmp: Path) -> tuple[Path, Path, list[str]]:
    folder = tmp / "idx"
    train_x, train_y = folder / f"{IDX_FILES['x']}.gz", folder / IDX_FILES["y"]
    if kind == "no rows":
        mnist_set(folder, x=np.zeros((0, 28, 28), "uint8"), y=np.zeros(0, "uint8"))
        return folder, train_x, ["holds no data: its header declares a shape of 0 x 28 x 28"]
    if kind == "one row":
        mnist_set(folder, x=images(1), y=np.array([1], "uint8"))
        return folder, train_y, ["has 1 example: a training and a validation split", "need at least 2"]
    if kind == "one class":
        mnist_set(folder, y=np.full(50, 3, "uint8"))
        return folder, train_y, ["all 50 examples are of one class (3)", "needs at least 2"]
    if kind == "constant":
        mnist_set(folder, x=np.zeros((50, 28, 28), "uint8"))
        return folder, train_x, ["every input is 0 in all 50 examples"]
    if kind == "empty column":  # a file with nothing in it
        mnist_set(folder)
        train_y.write_bytes(b"")
        return folder, train_y, ["is empty (0 bytes)"]
    if kind == "wrong format":
        mnist_set(folder)
        train_y.write_bytes(png_bytes())
        return folder, train_y, ["is not an IDX file", "it is a PNG image"]
    if kind == "directory":
        mnist_set(folder)
        train_y.unlink()
        train_y.mkdir()
        return folder, train_y, ["is a folder, not an IDX file"]
    raise AssertionError(kind)


def _cifar(source: str):
    layout = CIFAR_SETS[source]

    def case(kind: str, tmp: Path) -> tuple[Path, Path, list[str]]:
        folder = tmp / source
        first = folder / layout.train[0]
        named = first if len(layout.train) == 1 else folder  # the training pool spans five files
        if kind == "no rows":
            cifar_set(folder, source)
            (folder / layout.test).write_bytes(b"")
            return folder, folder / layout.test, ["is empty (0 bytes)"]
        if kind == "one row":
            if len(layout.train) > 1:
                pytest.skip("one record in each of five training files is five examples")
            cifar_set(folder, source, per_file=1)
            return folder, first, ["has 1 example: a training and a validation split", "need at least 2"]
        if kind == "one class":
            cifar_set(folder, source, labels=np.full(20, 4))
            return (
                folder,
                named,
                ["all 100 examples" if named == folder else "all 20 examples", "of one class (4)"],
            )
        if kind == "constant":
            cifar_set(folder, source, pixels=np.full(CIFAR_PIXELS, 7))
            return folder, named, ["every input is 0.027451 in all"]
        if kind == "empty column":
            cifar_set(folder, source)
            first.write_bytes(b"")
            return folder, first, ["is empty (0 bytes): a CIFAR binary file holds"]
        if kind == "wrong format":
            cifar_set(folder, source)
            first.write_bytes(png_bytes())
            return folder, first, ["is not a CIFAR binary file", "it is a PNG image"]
        if kind == "directory":
            cifar_set(folder, source)
            first.unlink()
            first.mkdir()
            return folder, first, ["is a folder, not a CIFAR binary file"]
        raise AssertionError(kind)

    return case


DEGENERATE = ["no rows", "one row", "one class", "constant", "empty column", "wrong format", "directory"]
CASES = {
    "csv": _table("csv"),
    "parquet": _table("parquet"),
    "mnist": _idx,
    "fashion_mnist": _idx,
    "cifar10": _cifar("cifar10"),
    "cifar100": _cifar("cifar100"),
}


@pytest.mark.parametrize("kind", DEGENERATE)
@pytest.mark.parametrize("loader", LOADERS)
def test_every_loader_refuses_every_degenerate_file(tmp_path, loader, kind):
    """The class test of issue 13: no rows, one row, one class, a constant or empty column (an empty
    file for the binary formats), a file of another format, a folder where a file belongs."""
    path, named, messages = CASES[loader](kind, tmp_path)
    refused(tmp_path, loader, path, named, *messages, extra=TARGET.get(loader, ""))


@pytest.mark.parametrize("loader", LOADERS)
def test_the_good_files_of_each_loader_train(tmp_path, loader):
    """The control: the same writers, undamaged, give a sweep that runs."""
    if loader in ("csv", "parquet"):
        path = write_table(tmp_path / f"t.{loader}", table_rows(40))
    elif loader in ("mnist", "fashion_mnist"):
        path = mnist_set(tmp_path / "idx")
    else:
        path = cifar_set(tmp_path / loader, loader)
    code, out, err = sweep(tmp_path, loader, path, TARGET.get(loader, ""))
    assert code == 0, out + err
    assert (tmp_path / "results" / "r" / "trials.csv").is_file()


@pytest.mark.parametrize("loader", ["mnist", "cifar10"])
def test_a_file_given_for_a_folder_is_refused(tmp_path, loader):
    file = write(tmp_path / "data.bin", b"\x00" * 64)
    refused(tmp_path, loader, file, file.resolve(), "is a file, not a folder: data.path of")


# --- values the schema accepts and no trainer can use ------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "value", "shown"),
    [
        ("csv", "inf", "inf"),
        ("csv", "-inf", "-inf"),
        ("csv", "1e39", "1e+39"),
        ("parquet", float("inf"), "inf"),
    ],
)
def test_infinite_inputs_are_refused_with_the_column_and_row(tmp_path, fmt, value, shown):
    rows = table_rows()
    rows[2][0] = value
    file = write_table(tmp_path / f"t.{fmt}", rows)
    refused(
        tmp_path,
        fmt,
        file,
        file,
        f"column 'a' holds {shown} in row 3: inputs must be finite",
        extra=TARGET[fmt],
    )


def test_an_infinite_regression_target_is_refused(tmp_path):
    rows = [[a, b, float(i)] for i, (a, b, _) in enumerate(table_rows())]
    rows[4][2] = "-inf"
    file = write_table(tmp_path / "t.csv", rows)
    refused(
        tmp_path,
        "csv",
        file,
        file,
        "target 'y' holds -inf in row 5: targets must be finite",
        extra="  target: y\n  task: regression\n",
    )


def test_a_constant_regression_target_is_refused(tmp_path):
    file = write_table(tmp_path / "t.csv", [[a, b, 3.0] for a, b, _ in table_rows()])
    refused(
        tmp_path,
        "csv",
        file,
        file,
        "target 'y' is 3.0 in all 30 rows: a regression needs it to vary",
        extra="  target: y\n  task: regression\n",
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_float_target_for_classification_points_to_regression(tmp_path, fmt):
    rows = [[a, b, [0.5, 1.7, 2.25][i % 3]] for i, (a, b, _) in enumerate(table_rows())]
    file = write_table(tmp_path / f"t.{fmt}", rows)
    refused(
        tmp_path,
        fmt,
        file,
        file,
        "target 'y' holds 0.5 in row 1, not a class label",
        "to predict a number, use task: regression",
        extra=TARGET[fmt],
    )


def test_whole_numbers_written_as_floats_are_class_labels(tmp_path):
    from sweepnn.options.datasets import DATASETS

    file = write_table(tmp_path / "t.csv", [[a, b, float(i % 2)] for i, (a, b, _) in enumerate(table_rows())])
    arrays = DATASETS["csv"].load(DATASETS.parse({"name": "csv", "path": str(file), "target": "y"}), tmp_path)
    assert sorted(set(arrays.y.tolist())) == [0, 1]


def test_a_header_that_spells_a_magic_number_is_still_a_csv(tmp_path):
    from sweepnn.options.datasets import DATASETS

    file = write_table(tmp_path / "t.csv", table_rows(), header=("PAR1", "%PDF", "y"))
    arrays = DATASETS["csv"].load(DATASETS.parse({"name": "csv", "path": str(file), "target": "y"}), tmp_path)
    assert arrays.x.shape == (30, 2)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (
            np.array([0, 1, 2**31 - 1] * 10, ">i4"),
            "holds the label 2147483647, which asks for 2,147,483,648"
            " classes: sweepnn allows at most 100,000",
        ),
        (np.array([0, 1, -1] * 10, "i1"), "holds the label -1: class labels are 0, 1, 2, ..."),
        (np.array([0.0, 1.5] * 15, ">f4"), "holds >f4 numbers: class labels are whole numbers"),
    ],
    ids=["2**31-1", "negative", "float"],
)
def test_idx_labels_out_of_range_are_refused(tmp_path, labels, message):
    folder = mnist_set(tmp_path / "idx", n=30, y=labels)
    refused(tmp_path, "mnist", folder, folder / IDX_FILES["y"], message)


# --- compressed and binary data ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def gzip_bomb(tmp_path_factory) -> Path:
    """train-images-idx3-ubyte.gz of 10 images as its header declares, then 4 GiB of zeros: one gzip
    member, its blocks byte-aligned by full flushes so one compressed 1 MiB block repeats, with its
    real CRC-32 and size. About 4 MB on disk."""
    folder = mnist_set(tmp_path_factory.mktemp("bomb"), n=10)
    head = idx_bytes(images(10))
    zeros = bytes(1 << 20)
    c = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    start = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH) == block  # no history across a full flush
    end = c.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    blocks = 4096 + 2  # 4 GiB and the two compressed above
    for _ in range(blocks):
        crc = zlib.crc32(zeros, crc)
    body = start + block * blocks
    trailer = end[:-8] + struct.pack("<II", crc, (len(head) + blocks * len(zeros)) & 0xFFFFFFFF)
    path = folder / f"{IDX_FILES['x']}.gz"
    path.write_bytes(body + trailer)
    return folder


def test_a_gzip_bomb_is_refused_after_the_bytes_its_header_declares(tmp_path, gzip_bomb):
    path = gzip_bomb / f"{IDX_FILES['x']}.gz"
    assert path.stat().st_size < 8 << 20
    with gzip.open(path) as f:  # the file is what it says: a 10-image header, then zeros
        assert f.read(16) == bytes([0, 0, 8, 3]) + struct.pack(">3I", 10, 28, 28)
    refused(
        tmp_path,
        "mnist",
        gzip_bomb,
        path,
        "is corrupt: it holds more than the 7856 bytes its header promises",
        timeout=60,
    )


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((6_000_000, 28, 28), "declares 6000000 x 28 x 28 values of u1: 4.4 GiB, past the 1.0 GiB"),
        ((2**32 - 1,) * 3, "declares 4294967295 x 4294967295 x 4294967295 values of u1"),
    ],
    ids=["4 GiB", "product overflows 64 bits"],
)
@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_headers_declaring_impossible_sizes_are_refused_before_reading(tmp_path, shape, message, gz):
    folder = mnist_set(tmp_path / "idx", n=10)
    for old in folder.glob(f"{IDX_FILES['x']}*"):
        old.unlink()
    path = write(folder / IDX_FILES["x"], idx_bytes(images(10), shape=shape), gz=gz)
    refused(tmp_path, "mnist", folder, path, message, timeout=60)


def _damage(kind: str, folder: Path) -> tuple[Path, str]:
    """Damage the training images of an MNIST set one way; (the file, what the error says)."""
    gz = folder / f"{IDX_FILES['x']}.gz"
    head = idx_bytes(images(50))
    raw = folder / IDX_FILES["x"]
    if kind == "wrong magic":
        gz.write_bytes(gzip.compress(b"\x00\x01" + head[2:]))
        return gz, "(its header is b'\\x00\\x01\\x08\\x03': an IDX file starts with two zero bytes"
    if kind == "unknown type code":
        gz.write_bytes(gzip.compress(head[:2] + b"\x07" + head[3:]))
        return gz, "its type code 0x07 is none of the IDX types"
    if kind == "no dimensions":
        gz.write_bytes(gzip.compress(b"\x00\x00\x08\x00"))
        return gz, "its header declares no dimensions"
    if kind == "more than declared (gz)":
        gz.write_bytes(gzip.compress(head + b"\x00" * 10))
        return gz, "is corrupt: it holds more than the 39216 bytes its header promises"
    gz.unlink()
    if kind == "more than declared (raw)":
        raw.write_bytes(head + b"\x00" * 10)
        return raw, "is corrupt: 39226 bytes, more than the 39216 its header promises"
    if kind == "not gzip":
        gz.write_bytes(head)
        return gz, "is not a gzip file (named .gz, but it starts with"
    if kind == "png named .gz":
        gz.write_bytes(png_bytes())
        return gz, "is not a gzip file (named .gz, but it starts with b'\\x89PNG\\r\\n\\x1a\\n': a PNG image)"
    if kind == "cut-short gzip":
        gz.write_bytes(gzip.compress(head)[:-200])
        return gz, "is a cut-short gzip file: it ends before its compressed data does"
    if kind == "wrong checksum":
        data = bytearray(gzip.compress(head))
        data[-8] ^= 0xFF  # the CRC-32 of the trailer
        gz.write_bytes(bytes(data))
        return gz, "is a corrupt gzip file (CRC check failed"
    if kind == "corrupt stream":
        data = bytearray(gzip.compress(head, compresslevel=0))  # stored blocks: flip a block's length
        data[11] ^= 0xFF
        gz.write_bytes(bytes(data))
        return gz, "is a corrupt gzip file ("
    raise AssertionError(kind)


DAMAGE = [
    "wrong magic",
    "unknown type code",
    "no dimensions",
    "more than declared (gz)",
    "more than declared (raw)",
    "not gzip",
    "png named .gz",
    "cut-short gzip",
    "wrong checksum",
    "corrupt stream",
]


@pytest.mark.parametrize("kind", DAMAGE)
def test_broken_idx_and_gzip_files_are_load_time_errors(tmp_path, kind):
    folder = mnist_set(tmp_path / "idx")
    path, message = _damage(kind, folder)
    refused(tmp_path, "mnist", folder, path, message)


def test_test_images_of_another_size_are_refused_before_the_sweep(tmp_path):
    """Today: a traceback after the whole sweep, when the test set is scored, and again on every rerun."""
    folder = mnist_set(tmp_path / "idx", x_test=images(25, (32, 32)))
    refused(
        tmp_path,
        "mnist",
        folder,
        folder / f"{IDX_FILES['x_test']}.gz",
        "holds images of 32x32 pixels but",
        "holds 28x28: the test images must have the training images' size",
    )


@pytest.mark.parametrize(
    ("arrays", "named", "message"),
    [
        (
            {"x": images(50).reshape(50, 784)},
            "x",
            "declares a shape of 50 x 784: an images file is images x rows",
        ),
        ({"y": np.zeros((50, 2), "uint8")}, "y", "declares a shape of 50 x 2: a labels file is 1-D"),
    ],
    ids=["images flat", "labels 2-D"],
)
def test_idx_files_that_do_not_fit_together_are_refused(tmp_path, arrays, named, message):
    folder = mnist_set(tmp_path / "idx", **arrays)
    file = folder / (f"{IDX_FILES[named]}.gz" if named.startswith("x") else IDX_FILES[named])
    refused(tmp_path, "mnist", folder, file, message)


# --- sizes ------------------------------------------------------------------------------------------


def test_a_csv_of_a_million_columns_is_refused_on_its_header(tmp_path):
    file = tmp_path / "wide.csv"
    names = ",".join(f"c{i}" for i in range(10**6))
    file.write_text(f"{names},y\n" + ",".join(["1"] * (10**6 + 1)) + "\n")
    refused(
        tmp_path,
        "csv",
        file,
        file,
        "has 1,000,001 columns, past the 100,000 sweepnn reads from a table",
        extra="  target: y\n",
        timeout=60,
    )


def test_a_csv_whose_first_line_never_ends_is_refused(tmp_path):
    file = tmp_path / "line.csv"
    with open(file, "w") as f:
        for _ in range(17):
            f.write("a" * (1 << 20))
    refused(
        tmp_path,
        "csv",
        file,
        file,
        "its first line is longer than 16.0 MiB: not a CSV header",
        extra="  target: y\n",
        timeout=60,
    )


def test_a_text_column_of_identifiers_is_not_one_hot_encoded_into_a_huge_table(tmp_path):
    n = 100_001
    file = tmp_path / "ids.csv"
    file.write_text("id,a,y\n" + "".join(f"row{i},{i % 7},{i % 2}\n" for i in range(n)))
    refused(
        tmp_path,
        "csv",
        file,
        file,
        "one-hot encoded, its text columns make 100,002 inputs, past the 100,000",
        "column 'id' alone has 100,001 distinct values",
        extra="  target: y\n",
        timeout=120,
    )


# --- validate reports what it can check without training, at the line of data.path -------------------


def _validate_cases(kind: str, tmp: Path) -> tuple[str, Path, str, str]:
    """(dataset, data.path, extra recipe lines, the message)."""
    if kind == "no target column":
        return (
            "csv",
            write_table(tmp / "t.csv", table_rows()),
            "  target: label\n",
            "has no target column 'label'",
        )
    if kind == "header only":
        return "csv", write_table(tmp / "t.csv", []), "  target: y\n", "has a header and no rows"
    if kind == "one row":
        return "csv", write_table(tmp / "t.csv", table_rows(1)), "  target: y\n", "has 1 row"
    if kind == "not parquet":
        file = tmp / "t.parquet"
        file.write_text("a,y\n1,2\n")
        return "parquet", file, "  target: y\n", "is not a Parquet file"
    if kind == "missing idx":
        return "mnist", tmp / "nowhere", "", "mnist files missing in"
    if kind == "idx magic":
        folder = mnist_set(tmp / "idx")
        (folder / IDX_FILES["y"]).write_bytes(b"\x01\x02\x03\x04")
        return "mnist", folder, "", "is not an IDX file"
    if kind == "idx shapes":
        return (
            "mnist",
            mnist_set(tmp / "idx", x_test=images(25, (32, 32))),
            "",
            "holds images of 32x32 pixels",
        )
    if kind == "idx counts":
        return "mnist", mnist_set(tmp / "idx", y=np.zeros(49, "uint8")), "", "has 50 images but"
    if kind == "cifar size":
        folder = cifar_set(tmp / "c", "cifar10")
        (folder / "test_batch.bin").write_bytes(b"\x00" * 100)
        return "cifar10", folder, "", "is not a CIFAR binary file: 100 bytes"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "no target column",
        "header only",
        "one row",
        "not parquet",
        "missing idx",
        "idx magic",
        "idx shapes",
        "idx counts",
        "cifar size",
    ],
)
def test_validate_reports_data_problems_at_the_line_of_data_path(tmp_path, kind):
    name, path, extra, message = _validate_cases(kind, tmp_path)
    code, out, err = sweep(tmp_path, name, path, extra, command="validate")
    assert code == 2, out + err
    assert "Traceback" not in out + err and ": ok" not in out
    assert f"{tmp_path / 'r.yaml'}:{PATH_LINE}:3: data.path: " in err, err
    assert message in err, err


@pytest.mark.parametrize("loader", LOADERS)
def test_validate_passes_good_data_files(tmp_path, loader):
    if loader in ("csv", "parquet"):
        path, extra = write_table(tmp_path / f"t.{loader}", table_rows()), "  target: y\n"
    elif loader in ("mnist", "fashion_mnist"):
        path, extra = mnist_set(tmp_path / "idx"), ""
    else:
        path, extra = cifar_set(tmp_path / loader, loader), ""
    code, out, err = sweep(tmp_path, loader, path, extra, command="validate")
    assert code == 0 and out.strip().endswith("r.yaml: ok"), out + err
