"""A dataset as numpy arrays: the training pool, and the dataset's own test set when it has one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Arrays:
    """A dataset as arrays: training pool, and the dataset's own held-out test set when it has one."""

    x: Any
    y: Any
    x_test: Any = None
    y_test: Any = None
