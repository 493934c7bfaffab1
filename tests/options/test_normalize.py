"""Input normalization: statistics from the training split only, per feature or per channel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sweepnn.options.datasets import DATASETS, cache_dir
from sweepnn.options.scalers import SCALERS, reduce_dims
from sweepnn.recipe.config import Recipe
from sweepnn.training.data import load_data
from sweepnn.training.trainer import train

torch.set_num_threads(1)
CPU = torch.device("cpu")


def blobs(normalize: str, **kw):
    return DATASETS.parse(
        {
            "name": "blobs",
            "n_samples": 600,
            "box": 50.0,
            "spread": 5.0,
            "dims": 3,
            "normalize": normalize,
            **kw,
        }
    )


def raw_split(p):
    """The training and validation arrays as load_data splits them, before normalization."""
    arrays = DATASETS[p.name].load(p, cache_dir())
    order = np.random.default_rng(p.seed).permutation(len(arrays.y))
    n_val = round(p.val_fraction * len(order))
    return arrays.x[order[n_val:]], arrays.x[order[:n_val]]


def test_standardized_training_features_have_mean_0_std_1_from_training_statistics_only():
    p = blobs("standardize")
    d = load_data(p, CPU)
    assert torch.allclose(d.x_train.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(d.x_train.std(0), torch.ones(3), atol=1e-5)
    x_train, x_val = raw_split(p)
    expected_val = (x_val - x_train.mean(0)) / x_train.std(0, ddof=1)  # the training split's statistics
    assert np.allclose(d.x_val.numpy(), expected_val, atol=1e-4)
    assert not torch.allclose(d.x_val.mean(0), torch.zeros(3), atol=1e-3)  # its own mean was not used


def test_minmax_maps_the_training_range_to_0_1():
    p = blobs("minmax")
    d = load_data(p, CPU)
    assert torch.allclose(d.x_train.amin(0), torch.zeros(3)) and torch.allclose(
        d.x_train.amax(0), torch.ones(3)
    )
    x_train, x_val = raw_split(p)
    lo, hi = x_train.min(0), x_train.max(0)
    assert np.allclose(d.x_val.numpy(), (x_val - lo) / (hi - lo), atol=1e-5)


def test_none_leaves_inputs_as_they_are():
    p = blobs("none")
    x_train, _ = raw_split(p)
    assert np.array_equal(load_data(p, CPU).x_train.numpy(), x_train)


@pytest.mark.parametrize(
    ("shape", "dims"), [((10, 4), (0,)), ((10, 3, 8), (0, 2)), ((10, 3, 5, 5), (0, 2, 3))]
)
def test_statistics_are_per_feature_or_per_channel(shape, dims):
    assert reduce_dims(shape) == dims
    x = torch.randn(shape) * torch.arange(1, shape[1] + 1).view(1, -1, *([1] * (len(shape) - 2))) + 7
    shift, scale = SCALERS["standardize"].fit(SCALERS.parse("standardize"), x, dims)
    z = (x - shift) / scale
    assert shift.shape[1] == shape[1] and shift.numel() == shape[1]  # one statistic per feature/channel
    assert torch.allclose(z.mean(dim=dims), torch.zeros(shape[1]), atol=1e-5)
    assert torch.allclose(z.std(dim=dims), torch.ones(shape[1]), atol=1e-4)


def test_standardizing_badly_scaled_inputs_lets_sgd_train():
    """The seeds' claim: standardized inputs make optimization easier. Features on a scale of ~50
    make plain SGD at a usual rate blow up; standardized, the same run learns."""

    def run(normalize: str):
        cfg = Recipe(
            name="t",
            data={"name": "blobs", "n_samples": 600, "box": 50.0, "spread": 5.0, "normalize": normalize},
            model={"depth": 2, "width": 32},
            train={"epochs": 5, "optimizer": {"name": "sgd", "lr": 0.1}},
        )
        return train(cfg, CPU)

    raw, scaled = run("none"), run("standardize")
    assert scaled.outcome == "ok" and scaled.metrics["val_accuracy"] > 0.9
    assert raw.outcome == "diverged" and "exploded" in raw.reason


def _batches_seen(shuffle: bool, seed: int = 0) -> list[list[torch.Tensor]]:
    """The training batches each epoch fed to the network, captured at its first layer."""
    seen: list[torch.Tensor] = []

    def capture(module, args):
        if module.training and isinstance(module, torch.nn.Flatten):
            seen.append(args[0].detach().clone())

    cfg = Recipe(
        name="t",
        data={"name": "blobs", "n_samples": 200},
        model={"depth": 1, "width": 8},
        train={"epochs": 3, "batch_size": 40, "shuffle": shuffle, "seed": seed, "diagnostics": False},
    )
    handle = torch.nn.modules.module.register_module_forward_pre_hook(capture)
    try:
        train(cfg, CPU)
    finally:
        handle.remove()
    per_epoch = len(seen) // 3
    return [seen[i * per_epoch : (i + 1) * per_epoch] for i in range(3)]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_shuffle_off_feeds_the_same_batches_every_epoch_and_on_reorders_them_by_seed():
    fixed = _batches_seen(shuffle=False)
    assert _same(fixed[0], fixed[1]) and _same(fixed[1], fixed[2])
    shuffled = _batches_seen(shuffle=True)
    assert not _same(shuffled[0], shuffled[1])
    assert _same(torch.cat(shuffled[0]).sort(0).values.unbind(), torch.cat(fixed[0]).sort(0).values.unbind())
    again, other = _batches_seen(shuffle=True), _batches_seen(shuffle=True, seed=1)
    assert all(_same(a, b) for a, b in zip(shuffled, again, strict=True))  # deterministic given the seed
    assert not _same(shuffled[0], other[0])
