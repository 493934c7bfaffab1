"""How each file or bundled dataset is made into arrays: the glue between a dataset's validated
parameters and its reader in sweepnn.data.files (imported when first used, so the registry loads
without numpy's readers), with the checks `sweepnn validate` makes without loading; and the two sets
sweepnn builds itself, scikit-learn's digits and MNIST-1D (generated once, cached).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from sweepnn.data.arrays import Arrays


def readable(fn: Callable) -> Callable:
    """An OSError while reading a dataset's files (no permission, a vanished file) as an InputError
    naming the file."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from sweepnn.errors import InputError

        try:
            return fn(*args, **kwargs)
        except OSError as e:
            raise InputError(f"cannot read {e.filename or 'the data files'}: {e.strerror or e}") from None

    return wrapper


def idx_files(source: str):
    """MNIST-style IDX files in `path`: the load and the file check of `source`'s four files."""

    def load(p, cache: Path) -> Arrays:
        from sweepnn.data.files import load_idx_set

        return Arrays(**load_idx_set(p.path, source))

    def check(p) -> None:
        from sweepnn.data.files import check_idx_set

        check_idx_set(p.path, source)

    return {"load": readable(load), "check_files": readable(check)}


def table_file(fmt: str):
    """One table file (`fmt`: csv or parquet) at `path`: its load and its header check."""

    def load(p, cache: Path) -> Arrays:
        from sweepnn.data.files import TABLE_READERS, load_table

        return Arrays(**load_table(p.path, p.target, p.features, p.task, TABLE_READERS[fmt], p))

    def check(p) -> None:
        from sweepnn.data.files import TABLE_READERS, check_table

        check_table(p.path, p.target, p.features, TABLE_READERS[fmt], p)

    return {"load": readable(load), "check_files": readable(check)}


def table_fields(what: str) -> dict[str, Any]:
    """The parameters of a dataset read from one table file (CSV, Parquet)."""
    return {
        "path": (str, Field(..., description=what)),
        "target": (str, Field(..., description="the column to predict")),
        "features": (list[str] | None, Field(None, description="feature columns (default: all others)")),
        "task": (
            Literal["classification", "regression"],
            Field("classification", description="what the target is"),
        ),
    }


def digits(p, cache: Path) -> Arrays:
    """scikit-learn's bundled 8x8 digits (UCI optical recognition set, 1797 images): no download."""
    import numpy as np

    from sweepnn.errors import InputError

    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise InputError(
            "the digits dataset comes with scikit-learn, which is not installed:"
            " pip install 'sweepnn[digits]'"
        ) from None
    d = load_digits()
    x = (d.images / 16.0).astype("float32")[:, None]  # raw pixels are 0..16; (N, 1, 8, 8) in [0, 1]
    return Arrays(np.ascontiguousarray(x), d.target.astype("int64"))


def cifar_files(source: str):
    """CIFAR binary batches in `path`: the load (fine or coarse labels) and the file check."""

    def load(p, cache: Path) -> Arrays:
        from sweepnn.data.files import load_cifar_set

        return Arrays(**load_cifar_set(p.path, source, getattr(p, "labels", None)))

    def check(p) -> None:
        from sweepnn.data.files import check_cifar_set

        check_cifar_set(p.path, source)

    return {"load": readable(load), "check_files": readable(check)}


def image_folder_files():
    """An image folder at `path`: the load (decoded once, then cached) and the folder check."""

    def load(p, cache: Path) -> Arrays:
        from sweepnn.data.files import load_image_folder

        return Arrays(**load_image_folder(p.path, p.size, p.channels, cache, p.test_fraction))

    def check(p) -> None:
        from sweepnn.data.files import check_image_folder

        check_image_folder(p.path, p.size, p.channels, p.test_fraction)

    return {"load": readable(load), "check_files": readable(check)}


def mnist1d(p, cache: Path) -> Arrays:
    """MNIST-1D (Greydanus 2020), regenerated locally and cached as .npz keyed by its arguments."""
    import numpy as np

    # Generation keeps the package's own seed, so numbers compare with the published baselines;
    # data.seed still picks the train/validation split.
    key = hashlib.sha1(json.dumps({"n": p.n_samples, "v": 1}).encode()).hexdigest()[:12]
    path = cache / f"mnist1d-{key}.npz"
    if not path.exists():
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        args.num_samples = p.n_samples
        d = make_dataset(args)
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, x=d["x"], y=d["y"], x_test=d["x_test"], y_test=d["y_test"])
        os.replace(tmp, path)  # atomic: parallel workers never read a half-written cache
    d = np.load(path)
    f32, i64 = (lambda a: a.astype("float32")), (lambda a: a.astype("int64"))
    return Arrays(f32(d["x"]), i64(d["y"]), f32(d["x_test"]), i64(d["y_test"]))
