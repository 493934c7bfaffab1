"""The `cnn` model's per-block knobs (kernel, stride, padding, pool) and its flatten head: Greydanus'
MNIST-1D CNN built from a recipe, layer for layer; today's default networks unchanged; and the recipe
errors of a per-block list of the wrong length."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sweepnn.errors import RecipeError
from sweepnn.options.models import MODELS, build_cnn
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.loading import load_text
from sweepnn.record import TRAINED
from sweepnn.training.trainer import train

torch.set_num_threads(1)

# Greydanus (2020), "Scaling down deep learning", the MNIST-1D CNN (ConvBase in the mnist1d
# repository): three Conv1d layers of 25 channels, kernels 5, 3, 3, stride 2, padding 1, ReLU after
# each, no pooling, the 25 x 5 feature map flattened into a linear layer over the 10 classes.
MNIST1D_CNN = """\
data: {name: mnist1d}
model:
  name: cnn
  channels: [25, 25, 25]
  kernel: [5, 3, 3]
  stride: 2
  padding: 1
  pool: none
  norm: none
  head: flatten
"""


class PublishedConvBase(nn.Module):
    """The architecture as the paper's code defines it, written out with plain torch layers."""

    def __init__(self, n_out: int = 10):
        super().__init__()
        self.conv1 = nn.Conv1d(1, 25, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
        self.linear = nn.Linear(125, n_out)

    def forward(self, x):
        x = x.view(-1, 1, x.shape[-1])
        h = self.conv3(self.conv2(self.conv1(x).relu()).relu()).relu()
        return self.linear(h.view(h.shape[0], -1))


def mnist1d_cnn() -> nn.Module:
    return build_cnn(load_text(MNIST1D_CNN, "r.yaml", "r").model, (40,), 10)


def kinds(model: nn.Module) -> list[str]:
    return [type(m).__name__ for m in model.modules() if not isinstance(m, nn.Sequential)]


def test_the_mnist1d_cnn_has_the_published_parameter_count():
    # conv1: 1*25*5 + 25 = 150; conv2 and conv3: 25*25*3 + 25 = 1,900 each; lengths 40 -> 19 -> 10
    # -> 5, so the linear layer takes 25*5 = 125 inputs: 125*10 + 10 = 1,260. 150 + 3,800 + 1,260.
    model = mnist1d_cnn()
    assert sum(p.numel() for p in model.parameters()) == 150 + 2 * 1_900 + 1_260 == 5_210
    assert sum(p.numel() for p in PublishedConvBase().parameters()) == 5_210


def test_the_mnist1d_cnn_is_the_published_network_layer_for_layer():
    model = mnist1d_cnn()
    assert kinds(model) == ["Unflatten", *["Conv1d", "ReLU"] * 3, "Flatten", "Linear"]
    lengths = []
    for m in model:
        if isinstance(m, nn.Conv1d):
            m.register_forward_hook(lambda m, i, o: lengths.append(o.shape[-1]))
    # with the published network's weights, ours computes the published network's outputs
    published = PublishedConvBase()
    ours = [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    theirs = [published.conv1, published.conv2, published.conv3, published.linear]
    with torch.no_grad():
        for a, b in zip(ours, theirs, strict=True):
            assert a.weight.shape == b.weight.shape
            if isinstance(a, nn.Conv1d):
                assert (a.stride, a.padding) == (b.stride, b.padding)
            a.weight.copy_(b.weight)
            a.bias.copy_(b.bias)
        x = torch.randn(16, 40)
        assert torch.allclose(model(x), published(x), atol=1e-6, rtol=0)
    assert lengths == [19, 10, 5]


def test_the_mnist1d_cnn_trains_on_mnist1d():
    r = load_text(MNIST1D_CNN, "r.yaml", "r").model
    cfg = Recipe(
        name="t",
        data={"name": "mnist1d", "n_samples": 2000},
        model=r.model_dump(),
        train={"epochs": 8, "optimizer": {"name": "adam", "lr": 1e-2}},
    )
    result = train(cfg, torch.device("cpu"))
    assert result.outcome in TRAINED
    assert result.metrics["train_loss"] < 1.0 < 2.3  # from ln 10 = 2.30 at chance
    assert result.metrics["val_accuracy"] > 0.4  # chance is 0.1


# ---- today's defaults build what they built before --------------------------------------------------

SIGNAL_BLOCK = ["Conv1d", "BatchNorm1d", "ReLU", "MaxPool1d"]


@pytest.mark.parametrize(
    ("shape", "layers", "shapes"),
    [
        (
            (1, 8, 8),  # the digits images of recipes/augmentation.yaml
            ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"] * 2 + ["AdaptiveAvgPool2d", "Flatten", "Linear"],
            [(32, 1, 3, 3), (32,), (32,), (32,), (64, 32, 3, 3), (64,), (64,), (64,), (10, 64), (10,)],
        ),
        (
            (40,),  # an MNIST-1D signal
            ["Unflatten", *SIGNAL_BLOCK, *SIGNAL_BLOCK, "AdaptiveAvgPool1d", "Flatten", "Linear"],
            [(32, 1, 3), (32,), (32,), (32,), (64, 32, 3), (64,), (64,), (64,), (10, 64), (10,)],
        ),
    ],
)
def test_the_default_cnn_is_unchanged(shape, layers, shapes):
    model = build_cnn(MODELS.parse({"name": "cnn"}), shape, 10)
    assert kinds(model) == layers
    assert [tuple(p.shape) for p in model.parameters()] == shapes
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]
    assert all(c.stride == (1,) * len(c.stride) and c.padding == (1,) * len(c.padding) for c in convs)


# ---- per-block knobs and the heads ----------------------------------------------------------------


def test_kernel_stride_padding_and_pool_are_set_per_block():
    p = MODELS.parse(
        {
            "name": "cnn",
            "channels": [4, 8, 8],
            "kernel": [7, 5, 3],
            "stride": [1, 2, 1],
            "padding": [3, 0, 1],
            "pool": ["max", "none", "avg"],
        }
    )
    model = build_cnn(p, (3, 32, 32), 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size[0], c.stride[0], c.padding[0]) for c in convs] == [(7, 1, 3), (5, 2, 0), (3, 1, 1)]
    assert kinds(model) == [
        *["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"],
        *["Conv2d", "BatchNorm2d", "ReLU"],
        *["Conv2d", "BatchNorm2d", "ReLU", "AvgPool2d"],
        *["AdaptiveAvgPool2d", "Flatten", "Linear"],
    ]
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_one_value_applies_to_every_block():
    p = MODELS.parse({"name": "cnn", "channels": [4, 4], "kernel": 5, "stride": 2, "pool": "avg"})
    convs = [m for m in build_cnn(p, (1, 32), 3).modules() if isinstance(m, nn.Conv1d)]
    assert [(c.kernel_size, c.stride, c.padding) for c in convs] == [((5,), (2,), (2,))] * 2


def test_pooling_stops_where_strides_have_shrunk_the_map():
    # 8x8 -> stride 2 -> 4 -> pool 2 -> stride 2 -> 1: no pool; -> 1 -> no pool
    p = MODELS.parse({"name": "cnn", "channels": [4, 4, 4], "stride": 2, "norm": "none"})
    model = build_cnn(p, (1, 8, 8), 3)
    assert sum(isinstance(m, nn.MaxPool2d) for m in model) == 1
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 3)


@pytest.mark.parametrize(
    ("shape", "fields"),
    [
        ((3, 32, 32), {"channels": [8, 16], "stride": [2, 1], "pool": ["none", "max"]}),
        (
            (1, 28, 28),
            {"channels": [4, 4, 4], "kernel": [5, 4, 3], "padding": 0, "stride": [1, 2, 2], "pool": "none"},
        ),
        ((2, 50), {"channels": [6], "kernel": 4, "pool": "avg"}),
        ((3, 5, 7), {"channels": [4, 4], "stride": 2, "pool": "none"}),
    ],
)
def test_the_flatten_head_takes_the_whole_last_feature_map(shape, fields):
    model = build_cnn(MODELS.parse({"name": "cnn", "head": "flatten", **fields}), shape, 10)
    assert not any(isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)) for m in model.modules())
    flatten = next(i for i, m in enumerate(model) if isinstance(m, nn.Flatten))
    model.eval()
    with torch.no_grad():
        features = model[:flatten](torch.randn(2, *shape))  # the map a dry forward pass gives
    assert model[-1].in_features == features[0].numel()
    assert model(torch.randn(2, *shape)).shape == (2, 10)


def test_the_gap_head_averages_each_channel():
    model = build_cnn(MODELS.parse({"name": "cnn", "channels": [4, 6], "head": "gap"}), (1, 12, 12), 3)
    assert kinds(model)[-3:] == ["AdaptiveAvgPool2d", "Flatten", "Linear"] and model[-1].in_features == 6


def test_a_kernel_larger_than_its_padded_input_is_refused_when_built():
    p = MODELS.parse(
        {"name": "cnn", "channels": [4, 4], "kernel": 5, "padding": 0, "stride": 2, "pool": "none"}
    )
    with pytest.raises(
        ValueError, match="cnn block 2: kernel 5 with padding 0 does not fit its input of size 2"
    ):
        build_cnn(p, (1, 8), 3)  # 8 -> (8 - 5) // 2 + 1 = 2


def test_each_block_trains_a_few_steps_with_the_loss_going_down():
    torch.manual_seed(0)
    model = mnist1d_cnn()
    x, y = torch.randn(64, 40), torch.randint(0, 10, (64,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# ---- recipe errors --------------------------------------------------------------------------------


def problems(text: str) -> list[str]:
    with pytest.raises(RecipeError) as e:
        load_text(text, "r.yaml", default_name="r")
    return [str(p) for p in e.value.problems]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("stride", "[2, 2, 2]", "stride lists 3 strides for 2 conv blocks"),
        ("kernel", "[5]", "kernel lists 1 sizes for 2 conv blocks"),
        ("padding", "[1, 1, 1]", "padding lists 3 paddings for 2 conv blocks"),
        ("pool", "[max, none, avg, max]", "pool lists 4 poolings for 2 conv blocks"),
        ("dropout", "[0.1, 0.1, 0.1]", "dropout lists 3 rates for 2 conv blocks"),
    ],
)
def test_a_per_block_list_of_the_wrong_length_is_a_located_recipe_error(field, value, message):
    text = f"data: {{name: digits}}\nmodel:\n  name: cnn\n  channels: [8, 8]\n  {field}: {value}\n"
    assert problems(text) == [f"r.yaml:2:1: model: {message}"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model: {name: cnn, stride: 0}\n", "r.yaml:1:20: model.stride: must be at least 1 (got 0)"),
        (
            "model: {name: cnn, kernel: [3, 16]}\n",
            "r.yaml:1:32: model.kernel[1]: must be at most 15 (got 16)",
        ),
        (
            "model: {name: cnn, head: flat}\n",
            "r.yaml:1:20: model.head: must be 'gap' or 'flatten' (got 'flat')",
        ),
        (
            "model: {name: cnn, pool: [max, mx]}\n",
            "r.yaml:1:32: model.pool[1]: must be 'max', 'avg' or 'none' (got 'mx')",
        ),
    ],
)
def test_bad_values_are_located_recipe_errors(text, expected):
    assert problems(text) == [expected]


def test_the_new_fields_can_be_searched():
    r = load_text(
        "model: {name: cnn}\nsearch:\n  space:\n    model.stride: [1, 2]\n    model.head: [gap, flatten]\n"
        "    model.pool: [max, none]\n    model.kernel: {low: 3, high: 7, step: 2}\n",
        "r.yaml",
        "r",
    )
    assert set(r.search.space) == {"model.stride", "model.head", "model.pool", "model.kernel"}
