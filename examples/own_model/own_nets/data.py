"""Noisy sine waves: each class a frequency, each example a random phase and amplitude."""

from __future__ import annotations

import numpy as np


def sines(n: int = 1000, length: int = 64, classes: int = 3, noise: float = 0.5, seed: int = 0):
    """Noisy sine waves whose frequency is the class (a 1-D signal per example)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    t = np.linspace(0, 1, length, dtype=np.float32)
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    amplitude = rng.uniform(0.5, 1.5, (n, 1))
    x = amplitude * np.sin(2 * np.pi * (1 + y[:, None]) * t + phase)
    x = x + noise * rng.standard_normal((n, length))
    return x.astype(np.float32), y


# What sweepnn reads off the factory: a classification of signals (so signal augmentations apply).
sines.task = "classification"
sines.kind = "signal"
