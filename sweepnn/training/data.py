"""A dataset as tensors resident on the training device, split into train, validation and test.

The whole set is put on the device once per process and reused by every trial that asks for the same
data configuration: batches are cut from it by index, never copied through a DataLoader.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sweepnn.data.arrays import check, split_sizes
from sweepnn.errors import InputError
from sweepnn.options.datasets import DATASETS, cache_dir, no_test_split, task_of
from sweepnn.options.scalers import SCALERS, reduce_dims

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Data:
    """A dataset on the training device: train, validation and test tensors (test None when it has none), with
    the task, the output count and the score of a trivial predictor (`chance`)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor | None
    y_test: torch.Tensor | None
    task: str  # classification | regression
    n_outputs: int  # classes, or regression targets
    # the score (accuracy, or R^2) of the trivial predictor: always the most common class, or the mean
    chance: float
    y_var: tuple[float, float] = (1.0, 1.0)  # regression: variance of the train and validation targets
    # data.val_fraction 0: x_val is the test split (the epochs are evaluated on it), x_test is None
    val_is_test: bool = False

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


_CACHE: OrderedDict[tuple[str, str], Data] = OrderedDict()
_CACHE_SIZE = 4  # trials that search data options each keep a copy; bound what stays resident


_READ: dict[str, Any] = {}  # the arrays read_checked read last, until load_data takes them


def _key(params) -> str:
    # augmentation works on batches as they are drawn: the same tensors serve every setting of it
    return json.dumps(params.model_dump(mode="json", exclude={"augment"}), sort_keys=True)


def read_checked(params) -> Any:
    """The dataset's arrays, read and checked (a degenerate dataset is an InputError), without torch:
    `sweepnn run` calls it before torch is imported, so bad data fails in a moment, and load_data
    then takes these arrays rather than reading the files again."""
    key = _key(params)
    if key not in _READ:
        arrays = DATASETS[params.name].load(params, cache_dir())
        check(arrays, task_of(params), params)
        if params.val_fraction == 0 and params.test_fraction == 0 and arrays.x_test is None:
            where = arrays.files.get("x") or f"dataset {params.name}"
            raise InputError(no_test_split(f"{where} has no test split"))
        _READ.clear()  # one at most: a large dataset is not kept twice
        _READ[key] = arrays
    return _READ[key]


def outputs_of(arrays, task: str) -> int:
    """The network's outputs: one per class (the largest label of any split, plus one), or per target."""
    if task == "classification":
        splits = [y for y in (arrays.y, arrays.y_val, arrays.y_test) if y is not None]
        return int(max(y.max() for y in splits)) + 1
    return 1 if arrays.y.ndim == 1 else arrays.y.shape[1]


def train_size(params) -> int:
    """How many examples the training split of these data options holds, as load_data splits them,
    without torch (the data already loaded, or its arrays read and checked)."""
    for (key, _device), data in _CACHE.items():
        if key == _key(params):
            return len(data.x_train)
    arrays = read_checked(params)
    pool, own_val = len(arrays.y), arrays.x_val is not None
    if own_val and params.val_fraction == 0:
        pool, own_val = pool + len(arrays.y_val), False
    _n_test, n_val, n_train = split_sizes(pool, params.val_fraction, params.test_fraction, params.limit)
    return n_train + n_val if own_val else n_train


def load_data(params, device: torch.device) -> Data:
    """The configured dataset on `device`, split by `params.seed`; built once per process. With
    data.val_fraction 0 the whole pool trains (a dataset's own validation split too) and the
    validation tensors are the test split's."""
    import torch

    key = (_key(params), str(device))
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    arrays = read_checked(params)
    _READ.clear()  # its arrays become this Data's tensors (and load_data changes them)
    task = task_of(params)
    whole = params.val_fraction == 0
    if whole and arrays.x_val is not None:  # nothing is held out for validation: it trains too
        arrays.x, arrays.y = (
            np.concatenate([arrays.x, arrays.x_val]),
            np.concatenate([arrays.y, arrays.y_val]),
        )
        arrays.x_val = arrays.y_val = None
    order = np.random.default_rng(params.seed).permutation(len(arrays.y))
    n_test, n_val, _ = split_sizes(len(order), params.val_fraction, params.test_fraction, params.limit)
    if n_test:  # held out first, so the test set never depends on `limit`
        arrays.x_test, arrays.y_test = arrays.x[order[:n_test]], arrays.y[order[:n_test]]
        order = order[n_test:]
    if params.limit is not None:
        order = order[: params.limit]
    if arrays.x_val is not None:  # the dataset's own validation split: the whole pool trains
        arrays.x, arrays.y = (
            np.concatenate([arrays.x, arrays.x_val]),
            np.concatenate([arrays.y, arrays.y_val]),
        )
        val, train = np.arange(len(arrays.y) - len(arrays.y_val), len(arrays.y)), order
    else:
        val, train = order[:n_val], order[n_val:]

    def put(a):
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a)).to(device)

    n_out = outputs_of(arrays, task)
    if whole:  # the epochs are scored on the test split: chance and y_var are the test split's
        x_val_a, y_val, x_test_a, y_test_a = arrays.x_test, arrays.y_test, None, None
    else:
        x_val_a, y_val, x_test_a, y_test_a = arrays.x[val], arrays.y[val], arrays.x_test, arrays.y_test
    if task == "classification":
        chance, y_var = float(np.bincount(y_val).max() / len(y_val)), (1.0, 1.0)
    else:
        chance, y_var = 0.0, (float(arrays.y[train].var()), float(y_val.var()))
    x_train, x_val, x_test = put(arrays.x[train]), put(x_val_a), put(x_test_a)
    fit = SCALERS[params.normalize.name].fit
    if fit is not None:  # fitted on the training split only, applied to every split
        shift, scale = fit(params.normalize, x_train, reduce_dims(tuple(x_train.shape)))
        x_train, x_val = (x_train - shift) / scale, (x_val - shift) / scale
        x_test = None if x_test is None else (x_test - shift) / scale
    data = Data(
        x_train,
        put(arrays.y[train]),
        x_val,
        put(y_val),
        x_test,
        put(y_test_a),
        task,
        n_out,
        chance,
        y_var,
        whole,
    )
    _CACHE[key] = data
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return data
