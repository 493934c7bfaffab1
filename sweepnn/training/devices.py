"""Choosing the training device and the CPU thread count.

Small models on a shared CPU are the common case here, and there more threads make things slower:
on a 2-core machine with anything else running, two torch threads were up to 20x slower than one
for an MLP like the quickstart's. So `auto` uses one thread per worker unless the machine has cores
to spare; `--threads` overrides it.
"""

from __future__ import annotations

import os

from sweepnn.errors import InputError


def resolve_device(name: str):
    """'auto' -> cuda if available else cpu; 'cpu', 'cuda', 'cuda:N' as asked, if they exist."""
    import torch

    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {name!r} asked for, but CUDA is not available here; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(
                f"device {name!r} does not exist: {torch.cuda.device_count()} CUDA device(s) here"
            )
    elif device.type != "cpu":
        raise InputError(f"unsupported device {name!r}; use auto, cpu, cuda or cuda:N")
    return device


def auto_threads(workers: int = 1) -> int:
    """Torch threads per worker: 1 unless there are at least 4 cores per worker to share."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    per_worker = cores // max(1, workers)
    return 1 if per_worker < 4 else min(8, per_worker // 2)


def set_threads(n: int) -> int:
    """Set torch's CPU thread count for the whole process (at least 1); returns what torch then reports."""
    import torch

    torch.set_num_threads(max(1, n))
    return torch.get_num_threads()
