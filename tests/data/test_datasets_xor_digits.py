"""The XOR/parity problem (generated) and scikit-learn's bundled digits (an optional extra)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from sweepnn.errors import InputError
from sweepnn.options.datasets import DATASETS


def load(name: str, **kw):
    return DATASETS[name].load(DATASETS.parse({"name": name, **kw}), None)


def linear_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    """Training accuracy of a least-squares linear classifier: what no hidden layer can do."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.linalg.lstsq(xb, np.eye(2)[y], rcond=None)[0]
    return float(((xb @ w).argmax(1) == y).mean())


def neighbour_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of the nearest training neighbour on the second half: the classes are learnable."""
    half = len(x) // 2
    d = ((x[half:, None, :] - x[None, :half, :]) ** 2).sum(-1)
    return float((y[:half][d.argmin(1)] == y[half:]).mean())


@pytest.mark.parametrize("dims", [2, 3, 4])
def test_xor_class_is_the_parity_of_the_signs(dims):
    a = load("xor", n_samples=2000, dims=dims, noise=0.0)
    assert a.x.shape == (2000, dims) and a.x.dtype == np.float32 and a.y.dtype == np.int64
    assert np.array_equal(a.y, (a.x < 0).sum(1) % 2)
    assert abs(a.y.mean() - 0.5) < 0.05  # balanced
    assert linear_accuracy(a.x, a.y) < 0.6  # not linearly separable: a linear model is near chance
    assert neighbour_accuracy(a.x, a.y) > 0.9 - 0.05 * dims


def test_xor_noise_is_added_after_labelling():
    clean, noisy = load("xor", noise=0.0), load("xor", noise=0.3)
    assert np.array_equal(clean.y, noisy.y)
    assert (noisy.x - clean.x).std() == pytest.approx(0.3, rel=0.05)


def test_xor_needs_two_dimensions():
    with pytest.raises(ValueError, match="greater than or equal to 2"):
        DATASETS.parse({"name": "xor", "dims": 1})


def test_digits_are_8x8_images_scaled_to_unit_range():
    a = load("digits")
    assert a.x.shape == (1797, 1, 8, 8) and a.x.dtype == np.float32
    assert a.x.min() == 0.0 and a.x.max() == 1.0  # raw values are 0..16
    assert a.y.dtype == np.int64 and set(a.y.tolist()) == set(range(10))
    assert a.x_test is None  # no split of its own: data.test_fraction carves one
    assert DATASETS["digits"].kind == "image" and not DATASETS["digits"].has_test


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    # None in sys.modules makes the import fail as if scikit-learn were not installed
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(
        InputError, match=r"scikit-learn, which is not installed: pip install 'sweepnn\[digits\]'"
    ):
        load("digits")
