"""Network architectures from the model registry: shapes, layers by option, training end to end."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sweepnn.options.models import MODELS, build_cnn, build_mlp
from sweepnn.options.norms import NORMS
from sweepnn.recipe.config import Recipe
from sweepnn.record import TRAINED
from sweepnn.training.trainer import train

torch.set_num_threads(1)

# input shape -> spatial dimensions the cnn convolves over
SHAPES = {(40,): 1, (2, 40): 1, (3, 16, 16): 2}


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("norm", list(NORMS))
def test_cnn_builds_for_signals_and_images(shape, norm):
    p = MODELS.parse({"name": "cnn", "channels": [8, 16], "norm": norm})
    model = build_cnn(p, shape, 5)
    assert model(torch.randn(4, *shape)).shape == (4, 5)
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]
    assert [c.out_channels for c in convs] == [8, 16]
    assert all(isinstance(c, nn.Conv1d if SHAPES[shape] == 1 else nn.Conv2d) for c in convs)
    norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm))]
    assert len(norms) == (0 if norm == "none" else 2)


def test_cnn_pools_while_it_can_and_keeps_length_with_odd_kernels():
    p = MODELS.parse({"name": "cnn", "channels": [4, 4, 4, 4], "kernel": 5, "pool": "max"})
    model = build_cnn(p, (1, 4), 2)  # length 4: pooled twice, then no more
    assert sum(isinstance(m, nn.MaxPool1d) for m in model) == 2
    assert model(torch.randn(3, 1, 4)).shape == (3, 2)


def test_cnn_refuses_inputs_it_cannot_convolve():
    p = MODELS.parse({"name": "cnn"})
    with pytest.raises(ValueError, match="not inputs of shape"):
        build_cnn(p, (2, 3, 4, 5), 2)


def test_empty_channels_is_a_recipe_error():
    with pytest.raises(ValueError, match="channels is empty"):
        MODELS.parse({"name": "cnn", "channels": []})


def test_cnn_learns_mnist1d_better_than_an_mlp():
    """Greydanus (2020): on MNIST-1D a small CNN beats an MLP by a wide margin (94% vs 68%)."""

    def accuracy(model):
        cfg = Recipe(
            name="t",
            data={"name": "mnist1d", "n_samples": 2000},
            model=model,
            train={"epochs": 10, "optimizer": {"name": "adam", "lr": 3e-3}},
        )
        result = train(cfg, torch.device("cpu"))
        assert result.outcome in TRAINED
        return result.metrics["val_accuracy"]

    cnn = accuracy({"name": "cnn", "channels": [32, 32]})
    mlp = accuracy({"name": "mlp", "depth": 2, "width": 128})
    assert cnn > mlp + 0.1


# ---- layer order and per-block options ------------------------------------------------------------


def kinds(model: nn.Module) -> list[str]:
    """The network's layers by class name, in order (containers left out)."""
    return [type(m).__name__ for m in model.modules() if not isinstance(m, nn.Sequential)]


def test_mlp_widths_set_each_hidden_layer():
    p = MODELS.parse({"name": "mlp", "widths": [32, 8, 4]})
    model = build_mlp(p, (5,), 3)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(5, 32), (32, 8), (8, 4), (4, 3)]


@pytest.mark.parametrize(
    ("position", "block"), [("before", ["BatchNorm1d", "Tanh"]), ("after", ["Tanh", "BatchNorm1d"])]
)
def test_norm_position_orders_each_block(position, block):
    p = MODELS.parse(
        {
            "name": "mlp",
            "depth": 2,
            "width": 8,
            "activation": "tanh",
            "norm": "batchnorm",
            "norm_position": position,
        }
    )
    assert kinds(build_mlp(p, (4,), 2)) == ["Flatten", *(["Linear", *block] * 2), "Linear"]


def test_mlp_dropout_one_rate_per_layer():
    p = MODELS.parse({"name": "mlp", "widths": [16, 16, 16], "dropout": [0.0, 0.5, 0.25]})
    model = build_mlp(p, (4,), 2)
    assert kinds(model) == [
        "Flatten",
        "Linear",
        "ReLU",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
    ]
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.5, 0.25]


def test_cnn_dropout_one_rate_per_block():
    p = MODELS.parse({"name": "cnn", "channels": [4, 4, 4], "dropout": [0.1, 0.0, 0.3], "pool": "none"})
    model = build_cnn(p, (1, 16), 2)
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.1, 0.3]
    assert model(torch.randn(3, 1, 16)).shape == (3, 2)


@pytest.mark.parametrize(("name", "n"), [("mlp", 2), ("cnn", 2)])
def test_a_dropout_list_of_the_wrong_length_is_a_recipe_error(name, n):
    size = {"widths": [8] * n} if name == "mlp" else {"channels": [8] * n}
    with pytest.raises(ValueError, match=f"dropout lists 3 rates for {n}"):
        MODELS.parse({"name": name, **size, "dropout": [0.1, 0.1, 0.1]})
