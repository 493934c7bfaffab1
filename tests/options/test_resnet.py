"""The `resnet` model: the CIFAR residual network of He et al. (2016, section 4.2) layer by layer,
its parameter counts against their Table 6, the shortcuts' shapes, zero_init_residual starting every
block as the identity, every init, norm and activation option, and the recipe errors of a bad depth."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sweepnn.errors import RecipeError
from sweepnn.options.activations import ACTIVATIONS
from sweepnn.options.inits import INITS
from sweepnn.options.models import MODELS
from sweepnn.options.norms import NORMS
from sweepnn.options.resnet import BasicBlock, PadShortcut, build_resnet
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.loading import load_text
from sweepnn.record import TRAINED
from sweepnn.training.trainer import train
from tests.conftest import adam_losses

torch.set_num_threads(1)


def resnet(**fields) -> nn.Module:
    shape = fields.pop("shape", (3, 32, 32))
    return build_resnet(MODELS.parse({"name": "resnet", **fields}), shape, 10)


def blocks(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, BasicBlock)]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---- the architecture -----------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [8, 14, 20, 32, 44, 56, 110])
def test_depth_counts_the_weight_layers(depth):
    """6n+2 = the first 3x3 conv, two 3x3 convs in each of the 3n blocks, the linear head."""
    model = resnet(depth=depth, width=4)
    n = (depth - 2) // 6
    convs3 = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs3) + sum(isinstance(m, nn.Linear) for m in model.modules()) == depth
    assert len(blocks(model)) == 3 * n
    stages = [m for m in model if isinstance(m, nn.Sequential)]
    assert [len(s) for s in stages] == [n, n, n]
    # a norm after every 3x3 conv, an activation after the first conv and after every block's two
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == len(convs3)
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 1 + 2 * 3 * n


@pytest.mark.parametrize(("depth", "millions"), [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)])
def test_parameter_counts_are_he_et_als_table_6(depth, millions):
    assert round(n_params(resnet(depth=depth)) / 1e6, 2 if depth < 110 else 1) == millions


def test_resnet20_parameter_count_by_hand():
    # Option A (pad) shortcuts have no parameters; convs before a norm have no bias.
    # first conv 3*16*9 = 432, its norm 2*16 = 32                                       ->     464
    # stage 1: 6 convs 16*16*9 = 2304 each, 6 norms of 32                               ->  14,016
    # stage 2: 16*32*9 = 4608 + 5 * 32*32*9 = 46,080, 6 norms of 64                     ->  51,072
    # stage 3: 32*64*9 = 18,432 + 5 * 64*64*9 = 184,320, 6 norms of 128                 -> 203,520
    # linear 64*10 + 10                                                                 ->     650
    assert n_params(resnet(depth=20)) == 464 + 14_016 + 51_072 + 203_520 + 650 == 269_722
    # projection shortcuts add a 1x1 conv and a norm at stages 2 and 3: 16*32 + 64, 32*64 + 128
    assert n_params(resnet(depth=20, shortcut="projection")) == 269_722 + 576 + 2_176


@pytest.mark.parametrize(
    ("shape", "sizes"),
    [
        ((3, 32, 32), [(32, 32), (16, 16), (8, 8)]),
        ((1, 8, 8), [(8, 8), (4, 4), (2, 2)]),
        ((1, 5, 7), [(5, 7), (3, 4), (2, 2)]),
    ],
)
def test_each_stage_doubles_the_width_and_halves_the_size(shape, sizes):
    model = resnet(depth=8, width=4, shape=shape)
    outs = []
    hooks = [
        s.register_forward_hook(lambda m, i, o: outs.append(tuple(o.shape[1:])))
        for s in model
        if isinstance(s, nn.Sequential)
    ]
    assert model(torch.randn(2, *shape)).shape == (2, 10)
    for h in hooks:
        h.remove()
    assert outs == [(4, *sizes[0]), (8, *sizes[1]), (16, *sizes[2])]


def test_the_pad_shortcut_is_the_subsampled_input_with_zero_channels():
    first_of_stage_2 = blocks(resnet(depth=8, width=4))[1]
    shortcut = first_of_stage_2.shortcut
    assert isinstance(shortcut, PadShortcut) and n_params(shortcut) == 0
    x = torch.randn(2, 4, 32, 32)
    y = shortcut(x)
    assert y.shape == (2, 8, 16, 16)
    assert torch.equal(y[:, :4], x[:, :, ::2, ::2]) and not y[:, 4:].any()


def test_the_projection_shortcut_is_a_strided_1x1_conv_and_a_norm():
    model = resnet(depth=14, width=4, shortcut="projection")
    kinds = [type(b.shortcut) for b in blocks(model)]
    assert kinds == [nn.Identity] * 2 + [nn.Sequential, nn.Identity] * 2  # only where the shape changes
    conv, norm = blocks(model)[2].shortcut
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride) == (4, 8, (1, 1), (2, 2))
    assert conv.bias is None and isinstance(norm, nn.BatchNorm2d)
    assert blocks(model)[2].shortcut(torch.randn(2, 4, 32, 32)).shape == (2, 8, 16, 16)


@pytest.mark.parametrize(
    ("shape", "conv"), [((40,), nn.Conv1d), ((2, 40), nn.Conv1d), ((1, 28, 28), nn.Conv2d)]
)
def test_signals_are_convolved_in_one_dimension_and_images_in_two(shape, conv):
    model = resnet(depth=8, width=4, shape=shape, shortcut="projection", norm="layernorm")
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]
    assert convs and all(type(m) is conv for m in convs)
    assert convs[0].in_channels == (1 if len(shape) == 1 else shape[0])
    assert model(torch.randn(3, *shape)).shape == (3, 10)


def test_inputs_it_cannot_convolve_are_refused():
    with pytest.raises(ValueError, match=r"resnet takes signals .* not inputs of shape \(2, 3, 4, 5\)"):
        resnet(shape=(2, 3, 4, 5))


def test_a_norm_of_none_gives_the_convs_their_bias_and_layernorm_is_the_conv_form():
    plain = resnet(depth=8, width=4, norm="none")
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in plain.modules())
    assert all(m.bias is not None for m in plain.modules() if isinstance(m, nn.Conv2d))
    ln = resnet(depth=8, width=4, norm="layernorm")
    groups = [m for m in ln.modules() if isinstance(m, nn.GroupNorm)]
    assert len(groups) == 7 and all(g.num_groups == 1 for g in groups)  # over channels and positions


# ---- zero_init_residual -----------------------------------------------------------------------------


def block_io(model: nn.Module, x: torch.Tensor) -> list[tuple[BasicBlock, torch.Tensor, torch.Tensor]]:
    """(block, its input, its output) for every block on one forward pass."""
    seen = []
    hooks = [b.register_forward_hook(lambda m, i, o: seen.append((m, i[0], o))) for b in blocks(model)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return seen


NORM_VARIANTS = ["none", "batchnorm", "layernorm", {"name": "batchnorm", "affine": False}]


@pytest.mark.parametrize("norm", NORM_VARIANTS, ids=["none", "batchnorm", "layernorm", "bn-no-affine"])
@pytest.mark.parametrize("shortcut", ["pad", "projection"])
@pytest.mark.parametrize("init", ["he_normal", "torch_default"])
@pytest.mark.parametrize("training", [True, False])
def test_zero_init_residual_makes_every_block_the_identity(norm, shortcut, init, training):
    model = resnet(depth=14, width=4, norm=norm, shortcut=shortcut, init=init, zero_init_residual=True)
    model.train(training)
    io = block_io(model, torch.randn(8, 3, 32, 32))
    assert len(io) == 6
    for block, x, y in io:
        expected = torch.relu(x) if isinstance(block.shortcut, nn.Identity) else torch.relu(block.shortcut(x))
        assert torch.equal(y, expected)
    # and without it no block is the identity, so the assertion above can fail
    model = resnet(depth=14, width=4, norm=norm, shortcut=shortcut, init=init)
    for block, x, y in block_io(model.train(training), torch.randn(8, 3, 32, 32)):
        assert not torch.equal(y, torch.relu(block.shortcut(x)))


def test_zero_init_residual_zeroes_the_last_norm_scale_or_without_one_the_last_conv():
    with_norm = blocks(resnet(depth=8, width=4, zero_init_residual=True))
    assert all(not b.norm2.weight.any() and b.norm1.weight.eq(1).all() for b in with_norm)
    assert all(b.conv2.weight.any() for b in with_norm)  # the conv keeps its init
    plain = blocks(resnet(depth=8, width=4, norm="none", zero_init_residual=True, init="torch_default"))
    assert all(not b.conv2.weight.any() and not b.conv2.bias.any() for b in plain)
    assert all(b.conv1.weight.any() for b in plain)


def test_zero_init_residual_still_trains():
    """A zero last norm scale gets a gradient, so the branches grow out of the identity."""
    torch.manual_seed(0)
    model = resnet(depth=8, width=4, shape=(1, 8, 8), zero_init_residual=True)
    losses = fit(model, torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,)))
    assert losses[-1] < losses[0]
    assert all(b.norm2.weight.abs().sum() > 0 for b in blocks(model))


# ---- every option, and training -------------------------------------------------------------------


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 15) -> list[float]:
    """The losses of `steps` Adam steps on one batch."""
    return adam_losses(model, x, y, steps)


OPTIONS = (
    [("init", n) for n in INITS] + [("norm", n) for n in NORMS] + [("activation", n) for n in ACTIVATIONS]
)


@pytest.mark.parametrize(("field", "name"), OPTIONS, ids=[f"{f}={n}" for f, n in OPTIONS])
def test_every_init_norm_and_activation_builds_and_runs(field, name):
    model = resnet(depth=8, width=4, shape=(1, 8, 8), **{field: name})
    out = model(torch.randn(4, 1, 8, 8))
    assert out.shape == (4, 10) and torch.isfinite(out).all()
    if field == "activation":
        kind = getattr(nn, ACTIVATIONS[name].torch_class)
        assert sum(type(m) is kind for m in model.modules()) == 1 + 2 * 3  # the first conv's and 2 per block
    if field == "init" and name == "zeros":
        assert not any(m.weight.any() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


@pytest.mark.parametrize("norm", list(NORMS))
def test_each_norm_trains_a_few_steps_with_the_loss_going_down(norm):
    torch.manual_seed(0)
    x, y = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))
    losses = fit(resnet(depth=8, width=8, shape=(1, 8, 8), norm=norm), x, y)
    assert losses[-1] < 0.7 * losses[0]


def test_a_resnet_recipe_trains_on_digits_through_the_trainer():
    cfg = Recipe(
        name="t",
        data={"name": "digits", "limit": 400},
        model={"name": "resnet", "depth": 8, "width": 8},
        train={"epochs": 4, "batch_size": 32, "optimizer": {"name": "adam", "lr": 3e-3}},
    )
    result = train(cfg, torch.device("cpu"))
    assert result.outcome in TRAINED
    assert result.metrics["val_accuracy"] > 0.5  # chance is 0.1


# ---- recipe errors --------------------------------------------------------------------------------


def problems(text: str) -> list[str]:
    with pytest.raises(RecipeError) as e:
        load_text(text, "r.yaml", default_name="r")
    return [str(p) for p in e.value.problems]


def test_a_depth_that_is_not_6n_plus_2_is_a_located_recipe_error():
    assert problems("data: {name: digits}\nmodel:\n  name: resnet\n  depth: 21\n") == [
        "r.yaml:2:1: model: depth 21 is not 6n+2 (3 stages of n blocks of two convolutions, the first"
        " convolution and the linear head); valid depths: 8, 14, 20, 26, 32, ... (He et al. used 20, 32,"
        " 44, 56, 110, 1202); nearest: 20 or 26"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model: {name: resnet, depth: 2}\n", "r.yaml:1:23: model.depth: must be at least 8 (got 2)"),
        (
            "model: {name: resnet, shortcut: option_a}\n",
            "r.yaml:1:23: model.shortcut: must be 'pad' or 'projection' (got 'option_a')",
        ),
        (
            "model: {name: resnet, zero_init_residual: maybe}\n",
            "r.yaml:1:23: model.zero_init_residual: expected true or false, got the text 'maybe'",
        ),
    ],
)
def test_other_bad_fields_are_located_recipe_errors(text, expected):
    assert problems(text) == [expected]


def test_a_searched_depth_is_checked_at_load_time():
    (found,) = problems("model: {name: resnet}\nsearch:\n  space:\n    model.depth: [20, 21]\n")
    assert found.startswith("r.yaml:4:5: search.space['model.depth'].choices[1]: model.depth = 21 breaks")
    assert found.endswith("nearest: 20 or 26")
