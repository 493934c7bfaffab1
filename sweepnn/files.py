"""Datasets read from files in their published formats: IDX (MNIST, Fashion-MNIST), raw or gzipped.

Readers return numpy arrays and never execute anything from a file. A missing file is an error that
names every file expected, where it was looked for, and where to get it.
"""

from __future__ import annotations

import gzip
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


def load_table(path: str, target: str, features: list[str] | None, task: str) -> dict[str, Any]:
    """A CSV file as features and a target: categorical (text or boolean) features one-hot encoded,
    class labels numbered in sorted order."""
    import numpy as np
    import pandas as pd

    file = Path(path).expanduser()
    if not file.is_file():
        raise InputError(f"no table at {file.resolve()}: give data.path, a CSV file with a header row")
    try:
        table = pd.read_csv(file)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise InputError(f"cannot read {file} as CSV: {e}") from None
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
