"""A user's own dataset as a dataset option: a factory named by import path (`data: {name:
"mydata:load", n: 1000}`) or registered by an installed package (entry-point group `sweepnn.datasets`).

The factory returns the data in any of the shapes people keep it in, materialized once into arrays (and
then device tensors, as the built-ins are):
- `(x, y)`, or `(x, y, x_test, y_test)`: numpy arrays, torch tensors or lists;
- a mapping of splits, `{"train": ..., "val": ..., "test": ...}` (`val`, `test` optional), each an
  `(x, y)` pair or a `torch.utils.data.Dataset`;
- a `torch.utils.data.Dataset` of `(input, target)` items.
A validation split it gives is used as it is (`val_fraction` is then unused); otherwise one is carved
from the training pool as for the built-ins. Its task and input kind are the factory's attributes
`task` ("classification", the default, or "regression") and `kind` ("table", "image" or "signal":
which augmentations apply). A factory parameter `seed` receives `data.seed`, every dataset's own field;
its other parameters are the option's fields.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from sweepnn.data.arrays import Arrays, memory_limit
from sweepnn.errors import InputError
from sweepnn.options.datasets import DATASETS, DatasetSpec
from sweepnn.options.own import declared_check, description_of, open_family, signature_fields
from sweepnn.options.users_code import call
from sweepnn.registry import Registry


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**28 else f"{n / 2**20:.1f} MiB"


def _array(a: Any, what: str, label: str):
    import numpy as np

    if hasattr(a, "detach"):  # a torch tensor, wherever it lives
        a = a.detach().cpu().numpy()
    try:
        a = np.asarray(a)
    except Exception as e:
        raise InputError(f"{label}: its {what} cannot be read as an array: {e}") from None
    if a.dtype.kind not in "biuf":
        raise InputError(f"{label}: its {what} holds {a.dtype} values, not numbers")
    return a


def _materialize(ds: Any, what: str, label: str) -> tuple[Any, Any]:
    """A Dataset's (input, target) items stacked into two arrays, after checking they fit in memory."""
    import numpy as np

    n = call(f"len() of {label}'s {what} dataset", len, ds)
    if n == 0:
        raise InputError(f"{label}: its {what} dataset is empty")
    first = call(f"reading item 0 of {label}'s {what} dataset", ds.__getitem__, 0)
    if not isinstance(first, (tuple, list)) or len(first) != 2:
        raise InputError(
            f"{label}: an item of its {what} dataset must be (input, target), got {type(first).__name__}"
        )
    x0, y0 = (_array(v, what, label) for v in first)
    need = n * (x0.nbytes + y0.nbytes)
    if need > memory_limit():
        raise InputError(
            f"{label}: its {what} dataset would take {_gib(need)} in memory ({n:,} items of"
            f" {x0.nbytes:,} bytes), more than the limit of {_gib(memory_limit())} (a third of this machine's"
            " memory); give a smaller subset (e.g. with a factory parameter)"
        )
    x = np.empty((n, *x0.shape), dtype=x0.dtype)
    y = np.empty((n, *y0.shape), dtype=y0.dtype)
    x[0], y[0] = x0, y0
    for i in range(1, n):
        xi, yi = call(f"reading item {i} of {label}'s {what} dataset", ds.__getitem__, i)
        try:
            x[i], y[i] = _array(xi, what, label), _array(yi, what, label)
        except ValueError as e:
            raise InputError(
                f"{label}: item {i} of its {what} dataset has another shape than item 0: {e}"
            ) from None
    return x, y


def _is_dataset(value: Any) -> bool:
    """A map-style torch Dataset (or anything with len and items), not an array or a pair."""
    indexable = hasattr(value, "__getitem__") and hasattr(value, "__len__")
    return indexable and not isinstance(value, (tuple, list, dict)) and not hasattr(value, "shape")


def _pair(value: Any, what: str, label: str) -> tuple[Any, Any]:
    if _is_dataset(value):
        return _materialize(value, what, label)
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise InputError(
            f"{label}: its {what} split must be (inputs, targets) or a Dataset, got {type(value).__name__}"
        )
    x, y = _array(value[0], f"{what} inputs", label), _array(value[1], f"{what} targets", label)
    if x.ndim == 0 or y.ndim == 0:
        raise InputError(f"{label}: its {what} inputs and targets must be arrays of examples, not one number")
    if len(x) != len(y):
        raise InputError(f"{label}: its {what} split has {len(x)} inputs but {len(y)} targets")
    return x, y


_SPLITS = {"train": "train", "val": "val", "validation": "val", "test": "test"}


def to_arrays(out: Any, label: str, task: str) -> Arrays:
    """What a dataset factory returned, as Arrays (inputs float32; labels int64, targets float32)."""
    if isinstance(out, dict):
        unknown = [k for k in out if k not in _SPLITS]
        if unknown or "train" not in out:
            raise InputError(
                f"{label} returned splits {sorted(out)}: give 'train' and optionally 'val' and 'test'"
            )
        splits = {_SPLITS[k]: _pair(v, k, label) for k, v in out.items()}
    elif isinstance(out, (tuple, list)) and len(out) in (2, 4):
        splits = {"train": _pair(out[:2], "train", label)}
        if len(out) == 4:
            splits["test"] = _pair(out[2:], "test", label)
    elif _is_dataset(out):
        splits = {"train": _materialize(out, "train", label)}
    else:
        raise InputError(
            f"{label} returned {type(out).__name__}: return (x, y), (x, y, x_test, y_test),"
            " {'train': ..., 'val': ..., 'test': ...} or a torch Dataset"
        )
    arrays: dict[str, Any] = {}
    for split, (x, y) in splits.items():
        if task == "classification" and y.dtype.kind == "f" and (y == y.round()).all():
            y = y.astype("int64")  # labels stored as floats (0.0, 1.0) are still labels
        keys = ("x", "y") if split == "train" else (f"x_{split}", f"y_{split}")
        arrays[keys[0]] = x.astype("float32", copy=False)
        arrays[keys[1]] = y.astype("int64" if task == "classification" else "float32", copy=False)
    return Arrays(**arrays, files={k: label for k in arrays})


# Every dataset's own fields that a factory may take by name, and gets as the recipe sets them.
SHARED = ("seed",)


def _parameters(factory: Any) -> set[str]:
    try:
        return set(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return set()


def _dataset_spec(registry: Registry, name: str, factory: Any) -> DatasetSpec:
    label = f"dataset {name!r}"
    if not callable(factory):
        raise InputError(f"{label} names {type(factory).__name__} {factory!r}, not a class or function")
    task = getattr(factory, "task", "classification")
    kind = getattr(factory, "kind", "table")
    if task not in ("classification", "regression") or kind not in ("table", "image", "signal"):
        raise InputError(
            f"{label}: its attributes say task {task!r} and kind {kind!r}; task is classification or"
            " regression, kind is table, image or signal"
        )
    base_fields = set(registry.base.model_fields)
    # A factory that takes `seed` gets data.seed, as the built-ins generate with it (and split by it).
    passed = {k for k in SHARED if k in _parameters(factory)}
    fields = signature_fields(factory, label, skip=passed)
    clash = sorted(base_fields & set(fields))
    if clash:
        raise InputError(
            f"{label}: its parameters {clash} clash with every dataset's own fields; rename them"
        )

    def load(p, cache: Path) -> Arrays:
        kwargs = {k: getattr(p, k) for k in [*fields, *passed]}
        arrays = to_arrays(call(f"loading {label}", factory, **kwargs), label, task)
        if arrays.x_test is not None and p.test_fraction > 0:  # carving one would replace the factory's
            raise InputError(
                f"{label} returns a test split of its own; leave data.test_fraction out (it is used as is)"
            )
        return arrays

    return DatasetSpec(
        name=name,
        description=description_of(factory, f"your dataset {name}"),
        load=load,
        task=task,
        kind=kind,
        fields=fields,
        check=declared_check(factory),
    )


open_family(DATASETS, "sweepnn.datasets", _dataset_spec)
