"""A dataset as numpy arrays: the training pool, and the dataset's own test set when it has one.

`check` refuses arrays no training can use (no examples, too few for the splits, one class, inputs that
never vary, values that are not finite, labels past any sane number of classes, a test set of another
shape), naming the file each array came from. Every loader's arrays pass through it before a study
is made, so a degenerate file is an error at load time, never a sweep of trials that all fail.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from sweepnn.errors import InputError

# The most classes a classification may have. The output layer is width x classes weights, so a
# label of 2**31 would ask for 137 GB at width 16; the largest real label sets a network is trained
# on with one output per class (ImageNet-21k: 21,841 classes) stay well under this. A label past it
# is a corrupt file, or a number that is a regression target.
MAX_CLASSES = 100_000


def memory_limit() -> int:
    """The most bytes a dataset sweepnn materializes itself (decoded images, a torch Dataset read into
    arrays) may take as float32: a third of this machine's memory. On its way to the device the data
    is held three times at the peak (the arrays, the split's indexed copy, the tensors), and trials need
    room besides; checked before anything is read, so a set too large fails in a moment."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 3
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): as if 16 GiB
        return (16 << 30) // 3


@dataclass
class Arrays:
    """A dataset as arrays: training pool, and the dataset's own held-out test set when it has one."""

    x: Any
    y: Any
    x_test: Any = None
    y_test: Any = None
    # the dataset's own validation split, when it comes with one (else one is carved from the pool)
    x_val: Any = None
    y_val: Any = None
    # the file each array was read from ("x", "y", "x_test", ...), named by the load-time checks
    files: dict[str, str] = field(default_factory=dict)


def split_sizes(n: int, val_fraction: float, test_fraction: float, limit: int | None) -> tuple[int, int, int]:
    """(test, validation, training) examples a pool of `n` is split into, as
    `sweepnn.training.data` splits it; with val_fraction 0 none is held out for validation (the
    epochs are evaluated on the test split)."""
    n_test = max(1, round(test_fraction * n)) if test_fraction > 0 else 0
    pool = n - n_test
    if limit is not None:
        pool = min(pool, limit)
    n_val = max(1, round(val_fraction * pool)) if val_fraction > 0 else 0
    return n_test, n_val, pool - n_val


def min_examples(params) -> int | None:
    """The fewest examples that leave at least one for each split the data options ask for; None
    when no number does (a validation share that takes all of `limit`)."""
    for n in range(2, 10_000):
        n_test, n_val, n_train = split_sizes(n, params.val_fraction, params.test_fraction, params.limit)
        if (
            n_train >= 1
            and (n_val >= 1 or params.val_fraction == 0)
            and (params.test_fraction == 0 or n_test >= 1)
        ):
            return n
    return None


def splits_text(params) -> str:
    """What the split options ask for, in the recipe's words."""
    if params.val_fraction == 0:
        what = "a test and a training split" if params.test_fraction else "a training split"
    elif params.test_fraction:
        what = "a test, a training and a validation split"
    else:
        what = "a training and a validation split"
    opts = [f"data.val_fraction {params.val_fraction}"]
    if params.test_fraction:
        opts.insert(0, f"data.test_fraction {params.test_fraction}")
    if params.limit is not None:
        opts.append(f"data.limit {params.limit}")
    return f"{what} ({', '.join(opts)})"


def check_rows(n: int, where: str, params, unit: str = "example") -> None:
    """Enough examples for the splits the data options ask for, else an InputError saying how many."""
    need = min_examples(params)
    if need is None:
        raise InputError(f"{where}: {splits_text(params)} leave no training example; lower data.val_fraction")
    if n < need:
        raise InputError(
            f"{where} has {n} {unit}{'s' if n != 1 else ''}: {splits_text(params)} need at least {need}"
        )


def check(arrays: Arrays, task: str, params) -> None:
    """Refuse arrays no trial can train on; each message names the file the array came from."""
    import numpy as np

    def where(key: str) -> str:
        return arrays.files.get(key) or arrays.files.get("x") or params.name

    held = [s for s in ("test", "val") if getattr(arrays, f"x_{s}") is not None]
    split_name = {"test": "test", "val": "validation"}
    for xk, yk in [("x", "y"), *((f"x_{s}", f"y_{s}") for s in held)]:
        x, y = getattr(arrays, xk), getattr(arrays, yk)
        if len(x) == 0 or len(y) == 0:
            what = f" for the {split_name[xk[2:]]} set" if xk != "x" else ""
            raise InputError(f"{where(xk)} holds no examples{what}")
        if len(x) != len(y):
            raise InputError(f"{where(xk)} has {len(x)} inputs but {where(yk)} has {len(y)} targets")
    if arrays.x_val is None:
        check_rows(len(arrays.y), where("y"), params)
    x = arrays.x
    for s in held:
        other = getattr(arrays, f"x_{s}")
        if tuple(other.shape[1:]) != tuple(x.shape[1:]):
            shape, theirs = "x".join(map(str, x.shape[1:])), "x".join(map(str, other.shape[1:]))
            raise InputError(
                f"{where('x_' + s)} holds {split_name[s]} inputs of shape {theirs} but {where('x')} holds"
                f" {shape}: the {split_name[s]} set must have the training set's shape"
            )
    extremes = {}
    for key in ("x", "x_test", "x_val"):
        a = getattr(arrays, key)
        if a is None:
            continue
        extremes[key] = low, high = a.min(), a.max()  # NaN and ±inf show here: no mask of the whole array
        if not (np.isfinite(low) and np.isfinite(high)):
            raise InputError(f"{where(key)} holds values that are not finite numbers (inf or NaN)")
    if extremes["x"][0] == extremes["x"][1]:
        raise InputError(
            f"{where('x')}: every input is {x.flat[0]:g} in all {len(x)} examples: nothing tells"
            " the examples apart"
        )
    if task == "classification":
        for key in ("y", "y_test", "y_val"):
            y = getattr(arrays, key)
            if y is None:
                continue
            if y.dtype.kind not in "iu":
                raise InputError(f"{where(key)} holds labels that are not whole numbers ({y.dtype})")
            low, high = int(y.min()), int(y.max())
            if low < 0:
                raise InputError(f"{where(key)} holds the label {low}: class labels are 0, 1, 2, ...")
            if high >= MAX_CLASSES:
                raise InputError(
                    f"{where(key)} holds the label {high}, which asks for {high + 1:,} classes:"
                    f" sweepnn allows at most {MAX_CLASSES:,} (one output each; the label is a corrupt"
                    " value or a number to predict with a regression)"
                )
        if int(arrays.y.min()) == int(arrays.y.max()):
            raise InputError(
                f"{where('y')}: all {len(arrays.y)} examples are of one class ({int(arrays.y.min())}):"
                " a classification needs at least 2"
            )
    else:
        y = arrays.y
        if not (np.isfinite(y.min()) and np.isfinite(y.max())):
            raise InputError(f"{where('y')} holds targets that are not finite numbers (inf or NaN)")
        if np.all(y == y.flat[0]):
            raise InputError(
                f"{where('y')}: the target is {y.flat[0]:g} in all {len(y)} examples: a regression needs"
                " it to vary (R^2 is undefined)"
            )
