"""Generated datasets: made from a seed, no download, any size. Each returns `Arrays`.

Synthetic classification problems (spirals, moons, blobs, xor) whose difficulty is set in the recipe,
and a regression problem whose targets come from a random network (a teacher).
"""

from __future__ import annotations

from pathlib import Path

from sweepnn.data.arrays import Arrays


def _rng(p):
    import numpy as np

    return np.random.default_rng(p.seed)


def spirals(p, cache: Path) -> Arrays:
    """`p.classes` spiral arms of `p.n_samples // p.classes` points each (the remainder is dropped), turning
    `p.turns` times, with angular noise `p.noise`; the class is the arm."""
    import numpy as np

    rng = _rng(p)
    per = p.n_samples // p.classes
    xs, ys = [], []
    for k in range(p.classes):
        r = np.linspace(0.05, 1.0, per)
        theta = p.turns * 2 * np.pi * r + 2 * np.pi * k / p.classes
        theta = theta + rng.normal(0, p.noise, per)
        xs.append(np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1))
        ys.append(np.full(per, k))
    return Arrays(np.concatenate(xs).astype("float32"), np.concatenate(ys).astype("int64"))


def moons(p, cache: Path) -> Arrays:
    """Two interleaving half circles, class 0 the upper and class 1 the lower (which gets the odd point), with
    Gaussian noise `p.noise` on both coordinates."""
    import numpy as np

    rng = _rng(p)
    n0 = p.n_samples // 2
    t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, p.n_samples - n0)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    x = np.concatenate([upper, lower]) + rng.normal(0, p.noise, (p.n_samples, 2))
    y = np.concatenate([np.zeros(n0), np.ones(p.n_samples - n0)])
    return Arrays(x.astype("float32"), y.astype("int64"))


def blobs(p, cache: Path) -> Arrays:
    """`p.n_samples` points in `p.dims` dimensions, Gaussian (standard deviation `p.spread`) around the centre
    of a uniformly drawn class, centres uniform in [-p.box, p.box]; class sizes vary."""

    rng = _rng(p)
    centers = rng.uniform(-p.box, p.box, (p.classes, p.dims))
    y = rng.integers(0, p.classes, p.n_samples)
    x = centers[y] + rng.normal(0, p.spread, (p.n_samples, p.dims))
    return Arrays(x.astype("float32"), y.astype("int64"))


def teacher(p, cache: Path) -> Arrays:
    """Regression targets from a random tanh network: learnable, nonlinear, with known noise."""
    import numpy as np

    rng = _rng(p)
    x = rng.normal(0, 1, (p.n_samples, p.dims))
    h = x
    for _ in range(p.depth):
        w = rng.normal(0, 1 / np.sqrt(h.shape[1]), (h.shape[1], p.hidden))
        h = np.tanh(h @ w * 2.0)
    y = h @ rng.normal(0, 1 / np.sqrt(p.hidden), (p.hidden, p.outputs))
    y = (y - y.mean(0)) / y.std(0)  # unit variance: an R^2 of 0 is a loss of about 1
    y = y + rng.normal(0, p.noise, y.shape)
    return Arrays(x.astype("float32"), y.astype("float32"))


def xor(p, cache: Path) -> Arrays:
    """The parity problem: the class is whether an odd number of the `dims` coordinates is negative."""
    rng = _rng(p)
    x = rng.uniform(-1, 1, (p.n_samples, p.dims))
    y = (x < 0).sum(1) % 2  # labelled before the noise, so noise blurs the quadrant borders
    x = x + rng.normal(0, p.noise, x.shape)
    return Arrays(x.astype("float32"), y.astype("int64"))
