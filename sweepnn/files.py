"""Datasets read from files in their published formats: IDX (MNIST, Fashion-MNIST), raw or gzipped;
the CIFAR binary version; tables (CSV, Parquet).

Readers return numpy arrays and never execute anything from a file (CIFAR's Python version is a
pickle, so only its binary version is read). A missing file is an error that names every file
expected, where it was looked for, and where to get it.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweepnn.errors import InputError

IDX_FILES = {
    "x": "train-images-idx3-ubyte",
    "y": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IDX_SOURCES = {
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}
_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> Any:
    """One IDX file as a numpy array (the format of LeCun's MNIST distribution)."""
    import numpy as np

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise InputError(f"{path} is not an IDX file (its header is {data[:4]!r})")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    offset = 4 + 4 * ndim
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise InputError(f"{path} is truncated or corrupt: {len(data)} bytes, its header promises {expected}")
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)


def find(folder: Path, stem: str) -> Path | None:
    for name in (stem, f"{stem}.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def load_idx_set(folder: str, source: str) -> dict[str, Any]:
    """The four IDX files of an MNIST-style set from `folder` (raw or .gz); images as (N, 1, H, W)."""
    root = Path(folder).expanduser()
    paths = {key: find(root, stem) for key, stem in IDX_FILES.items()}
    missing = [IDX_FILES[k] for k, p in paths.items() if p is None]
    if missing:
        raise InputError(
            f"{source} files missing in {root.resolve()}: {', '.join(missing)} (raw or .gz)."
            f" Expected {', '.join(IDX_FILES.values())}; get them from {IDX_SOURCES[source]}"
            f" or run `sweepnn download {source}`"
        )
    arrays = {key: read_idx(path) for key, path in paths.items()}
    for x, y in (("x", "y"), ("x_test", "y_test")):
        if len(arrays[x]) != len(arrays[y]):
            raise InputError(
                f"{paths[x]} has {len(arrays[x])} images but {paths[y]} has {len(arrays[y])} labels"
            )
        arrays[x] = (arrays[x].astype("float32") / 255.0)[:, None]  # (N, 1, H, W), pixels in [0, 1]
        arrays[y] = arrays[y].astype("int64")
    return arrays


@dataclass(frozen=True)
class CifarLayout:
    """Where the files of a CIFAR binary distribution are and how a record is laid out."""

    folder: str  # the directory the published archive extracts to
    pickled: str  # the directory of the Python version, a pickle: recognized to say so, never read
    train: tuple[str, ...]
    test: str
    labels: tuple[str, ...]  # the label bytes that lead each record, in order
    classes: dict[str, int]  # label -> number of classes, to recognize a file that is not this set
    url: str


CIFAR_PIXELS = 3 * 32 * 32  # a record's image: 1024 red, then 1024 green, then 1024 blue bytes, row-major
CIFAR_SETS = {
    "cifar10": CifarLayout(
        folder="cifar-10-batches-bin",
        pickled="cifar-10-batches-py",
        train=tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
        test="test_batch.bin",
        labels=("label",),
        classes={"label": 10},
        url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    ),
    "cifar100": CifarLayout(
        folder="cifar-100-binary",
        pickled="cifar-100-python",
        train=("train.bin",),
        test="test.bin",
        labels=("coarse", "fine"),
        classes={"coarse": 20, "fine": 100},
        url="https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
    ),
}


def read_cifar_bin(path: Path, layout: CifarLayout) -> tuple[Any, dict[str, Any]]:
    """One CIFAR binary file: images as uint8 (N, 3, 32, 32) and each label as uint8 (N,)."""
    import numpy as np

    data = np.fromfile(path, dtype="u1")
    record = len(layout.labels) + CIFAR_PIXELS
    if len(data) == 0 or len(data) % record:
        raise InputError(
            f"{path} is not a CIFAR binary file: {len(data)} bytes is not a whole number of"
            f" {record}-byte records ({len(layout.labels)} label byte(s) and {CIFAR_PIXELS} pixels)"
        )
    rows = data.reshape(-1, record)
    labels = {name: rows[:, i] for i, name in enumerate(layout.labels)}
    for name, column in labels.items():
        if column.max() >= layout.classes[name]:
            what = "label" if name == "label" else f"{name} label"
            raise InputError(
                f"{path} is not a CIFAR binary file of this set: a record's {what} byte is"
                f" {column.max()}, past its {layout.classes[name]} classes"
            )
    return rows[:, len(layout.labels) :].reshape(-1, 3, 32, 32), labels


def cifar_folder(folder: str, source: str) -> Path:
    """The folder holding the set's files: `folder` itself, or the archive's directory inside it."""
    layout = CIFAR_SETS[source]
    root = Path(folder).expanduser()
    names = [*layout.train, layout.test]
    candidates = [root, root / layout.folder]
    for candidate in candidates:
        if all((candidate / n).is_file() for n in names):
            return candidate
    looked = candidates[1] if candidates[1].is_dir() else root
    missing = [n for n in names if not (looked / n).is_file()]
    pickled = (root / layout.pickled).exists()
    hint = f" (the {layout.pickled}/ found there is the Python version, a pickle sweepnn does not read)"
    raise InputError(
        f"{source} files missing in {looked.resolve()}: {', '.join(missing)}."
        f" Expected {', '.join(names)} in {root.resolve()} or in its {layout.folder}/."
        f" Get the binary version{hint if pickled else ''} from {layout.url} and extract it into {root},"
        f" or run `sweepnn download {source}`"
    )


def load_cifar_set(folder: str, source: str, label: str | None = None) -> dict[str, Any]:
    """A CIFAR binary set: images float32 (N, 3, 32, 32) in [0, 1]; `label` picks which label byte
    (CIFAR-100's fine or coarse)."""
    import numpy as np

    layout = CIFAR_SETS[source]
    label = label or layout.labels[-1]
    found = cifar_folder(folder, source)

    def read(names: tuple[str, ...]) -> tuple[Any, Any]:
        parts = [read_cifar_bin(found / n, layout) for n in names]
        images = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1][label] for p in parts]).astype("int64")
        x = images.astype("float32")
        x /= 255.0  # in place: CIFAR-10's training images are 600 MB as float32
        return x, y

    x, y = read(layout.train)
    x_test, y_test = read((layout.test,))
    return {"x": x, "y": y, "x_test": x_test, "y_test": y_test}


def _read_csv(file: Path) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(file)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise InputError(f"cannot read {file} as CSV: {e}") from None


def _read_parquet(file: Path) -> Any:
    import pandas as pd

    try:
        import pyarrow  # noqa: F401  (pandas' Parquet engine; an optional extra)
    except ImportError:
        raise InputError(f"reading {file} (Parquet) needs pyarrow: pip install 'sweepnn[parquet]'") from None
    try:
        return pd.read_parquet(file, engine="pyarrow")
    except (ValueError, OSError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"cannot read {file} as Parquet: {e}") from None


@dataclass(frozen=True)
class TableReader:
    """A file format tables come in: what data.path must be, and how to read one into a DataFrame."""

    what: str
    read: Callable[[Path], Any]  # file -> pandas.DataFrame; an unreadable file raises InputError


TABLE_READERS = {
    "csv": TableReader("a CSV file with a header row", _read_csv),
    "parquet": TableReader("a Parquet file", _read_parquet),
}


def load_table(
    path: str, target: str, features: list[str] | None, task: str, reader: TableReader = TABLE_READERS["csv"]
) -> dict[str, Any]:
    """A table file as features and a target: categorical (text or boolean) features one-hot encoded,
    class labels numbered in sorted order."""
    import numpy as np
    import pandas as pd

    file = Path(path).expanduser()
    if not file.is_file():
        raise InputError(f"no table at {file.resolve()}: give data.path, {reader.what}")
    table = reader.read(file)
    columns = list(table.columns)
    if target not in table:
        raise InputError(
            f"{file} has no target column '{target}'; its columns: {', '.join(map(str, columns))}"
        )
    chosen = features if features is not None else [c for c in columns if c != target]
    unknown = [c for c in chosen if c not in table]
    if unknown or not chosen:
        raise InputError(
            f"{file}: feature columns {unknown or '[]'} not found; its columns: {', '.join(columns)}"
        )
    gaps = [c for c in [*chosen, target] if table[c].isna().any()]
    if gaps:
        raise InputError(f"{file} has empty cells in {', '.join(gaps)}; fill or drop them first")
    x = table[chosen]
    categorical = [c for c in chosen if not pd.api.types.is_numeric_dtype(x[c]) or x[c].dtype == bool]
    x = pd.get_dummies(x, columns=categorical, dtype="float32") if categorical else x
    y = table[target]
    if task == "classification":
        labels = sorted(y.unique().tolist(), key=str)
        y = y.map({v: i for i, v in enumerate(labels)}).to_numpy("int64")
    else:
        if not pd.api.types.is_numeric_dtype(y):
            raise InputError(f"{file}: target '{target}' is not numeric; use task: classification")
        y = y.to_numpy("float32")
    return {"x": np.ascontiguousarray(x.to_numpy("float32")), "y": y}
