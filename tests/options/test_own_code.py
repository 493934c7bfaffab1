"""A user's own network and data, in process (issue 15): the recipe's techniques applied to a network
sweepnn did not build (init, activation and norm, by the factory or by module surgery), training-health
diagnostics on any network, a factory's parameters typed from its signature, and the shapes a dataset
factory returns. The real command on the same is tests/cli/test_own_code_cli.py."""

from __future__ import annotations

import math
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import sweepnn
from sweepnn.errors import InputError, RecipeError
from sweepnn.options.datasets import DATASETS
from sweepnn.options.models import MODELS
from sweepnn.options.norms import NORMS
from sweepnn.options.own_models import ActivationFactory, NormFactory
from sweepnn.training.data import load_data
from tests.conftest import adam_losses

ROOT = Path(__file__).resolve().parents[2]
MODULE = "own_code_cases"  # a name no other test's module has: sys.modules keeps what it imported

# The user's code: networks that build their weights and activations their own way, and datasets.
CODE = '''
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, field_validator
from torch import nn

if TYPE_CHECKING:
    from torch import Tensor


class Wide(nn.Module):
    """A Linear and a Conv2d whose weights the factory sets to a constant (so an init shows), tanh."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(32, 64, 3, padding=1)
        self.norm = nn.BatchNorm2d(64)
        self.act = nn.Tanh()
        self.fc = nn.Linear(256, 256)
        self.head = nn.Linear(256, 2)
        with torch.no_grad():
            for m in (self.conv, self.fc, self.head):
                m.weight.fill_(0.5)
                m.bias.fill_(0.5)

    def forward(self, x):
        x = self.act(self.norm(self.conv(x))).mean(dim=(2, 3))  # (N, 64)
        return self.head(self.act(self.fc(x.repeat(1, 4))))


def wide():
    return Wide()


class Relus(nn.Module):
    """ReLUs wherever a network keeps them: a Sequential, a ModuleList, a ModuleDict, an attribute,
    and one module used at two places."""

    def __init__(self, in_features, num_classes):
        super().__init__()
        shared = nn.ReLU()
        self.stem = nn.Sequential(nn.Linear(in_features, 32), nn.ReLU())
        self.blocks = nn.ModuleList([nn.Linear(32, 32), shared, nn.Linear(32, 32), shared])
        self.acts = nn.ModuleDict({"a": nn.ReLU()})
        self.last = nn.ReLU()
        self.head = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.stem(x)
        for m in self.blocks:
            x = m(x)
        return self.head(self.last(self.acts["a"](x)))


def relus(in_features: int = 2, num_classes: int = 2):
    return Relus(in_features, num_classes)


def mlp_bn(width: int = 32, in_features: int = 2, num_classes: int = 2):
    return nn.Sequential(
        nn.Linear(in_features, width), nn.BatchNorm1d(width), nn.ReLU(),
        nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(),
        nn.Linear(width, num_classes),
    )


def conv_bn(in_channels: int = 3, num_classes: int = 2):
    return nn.Sequential(
        nn.Conv2d(in_channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes),
    )


RECEIVED = {}


def takes(width: int = 32, activation=nn.Tanh, norm=nn.LayerNorm, in_features: int = 2, outputs: int = 2):
    """Takes the activation and the norm itself."""
    RECEIVED.update(activation=activation, norm=norm)
    return nn.Sequential(
        nn.Linear(in_features, width), norm(width), activation(), nn.Linear(width, outputs)
    )


class NoLinear(nn.Module):
    """Weights as bare parameters, the activation a function: nothing for diagnostics to find by type."""

    def __init__(self, in_features, num_classes):
        super().__init__()
        self.w = nn.Parameter(torch.randn(in_features, 32) * 0.5)
        self.v = nn.Parameter(torch.randn(32, num_classes) * 0.2)

    def forward(self, x):
        return F.relu(x @ self.w) @ self.v


def no_linear(in_features: int = 2, num_classes: int = 2):
    return NoLinear(in_features, num_classes)


class Functional(nn.Module):
    def __init__(self, in_features, num_classes):
        super().__init__()
        self.a, self.b = nn.Linear(in_features, 32), nn.Linear(32, num_classes)

    def forward(self, x):
        return self.b(F.relu(self.a(x)))


def functional(in_features: int = 2, num_classes: int = 2):
    """Linear layers, a functional activation."""
    return Functional(in_features, num_classes)


def lazy(num_classes: int = 2):
    return nn.Sequential(nn.LazyLinear(64), nn.ReLU(), nn.LazyLinear(num_classes))


def odd_parameters(depth: int = 1, block=nn.Linear, act: nn.Module = nn.ReLU(), scale: Tensor | None = None,
                   in_features: int = 2, num_classes: int = 2):
    return nn.Sequential(block(in_features, 8), act, nn.Linear(8, num_classes))


def needs_module(layer: nn.Module):
    return layer


class Even(BaseModel):
    depth: int = 2

    @field_validator("depth")
    @classmethod
    def even(cls, v):
        if v % 2:
            raise ValueError("depth must be even")
        return v


def declared(depth=2, in_features=2, num_classes=2):
    return nn.Sequential(nn.Linear(in_features, 8), nn.ReLU(), nn.Linear(8, num_classes))


declared.Params = Even


def _points(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.int64)


class Points(torch.utils.data.Dataset):
    def __init__(self, n):
        self.x, self.y = _points(n)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return torch.from_numpy(self.x[i]), int(self.y[i])


def points_dataset(n: int = 120):
    return Points(n)


def with_val(n: int = 200):
    return {"train": _points(n), "val": _points(37, seed=1)}


def with_test(n: int = 200):
    return (*_points(n), *_points(50, seed=2))


SEEDS = []


def seeded(n: int = 100, seed: int = 0):
    SEEDS.append(seed)
    return _points(n, seed)
'''


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """The user's module above, importable by name for this module's tests only."""
    folder = tmp_path_factory.mktemp("own_code")
    (folder / f"{MODULE}.py").write_text(CODE)
    sys.path.insert(0, str(folder))
    yield __import__(MODULE)
    sys.path.remove(str(folder))
    sys.modules.pop(MODULE, None)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example package's source (examples/own_model/own_nets), importable without installing it:
    a copy of the package alone, so no build's metadata (entry points) comes along to other tests."""
    folder = tmp_path_factory.mktemp("own_nets_source")
    shutil.copytree(ROOT / "examples" / "own_model" / "own_nets", folder / "own_nets")
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))
    for name in [m for m in sys.modules if m == "own_nets" or m.startswith("own_nets.")]:
        del sys.modules[name]


def build(input_shape=(2,), n_out=2, **model) -> nn.Module:
    name = model["name"] if ":" in model["name"] else f"{MODULE}:{model['name']}"
    params = MODELS.parse({**model, "name": name})
    torch.manual_seed(0)
    return MODELS[name].build(params, input_shape, n_out)


def trains(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 30) -> tuple[float, float]:
    """(loss before, loss after) a few full-batch Adam steps."""
    losses = adam_losses(model, x, y, steps)
    return losses[0], losses[-1]


def points(n: int = 128, shape=(2,)):
    """Inputs of `shape`, and the sign of their mean as the class: a task any of these networks learns."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, *shape, generator=g)
    return x, (x.flatten(1).mean(1) > 0).long()


def of_type(model: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in model.modules() if type(m) is kind]


# ---- init: every weight layer, by the scheme, with the gain of the activation used ----------------


def test_xavier_normal_reinitializes_every_weight_layer_of_a_users_model(own):
    model = build(name="wide", init="xavier_normal")
    for layer in (model.conv, model.fc):  # fan_in + fan_out: 32*9 + 64*9, 256 + 256
        w = layer.weight
        fans = w.shape[1] * w[0, 0].numel() + w.shape[0] * w[0, 0].numel()
        assert w.var().item() == pytest.approx(2 / fans, rel=0.1)
        assert abs(w.mean().item()) < 0.01 and torch.count_nonzero(layer.bias) == 0
    assert torch.all(model.norm.weight == 1) and torch.all(model.norm.bias == 0)
    assert model.sweepnn_changes == ["3 weight layers -> xavier_normal"]


def test_he_normal_takes_the_gain_of_the_activation_the_network_uses(own):
    model = build(name="wide", init="he_normal")  # the network's own activation: tanh, gain 5/3
    assert model.fc.weight.var().item() == pytest.approx((5 / 3) ** 2 / 256, rel=0.1)
    swapped = build(name="wide", init="he_normal", activation="relu")  # the recipe's: relu, gain sqrt(2)
    assert swapped.fc.weight.var().item() == pytest.approx(2 / 256, rel=0.1)


def test_torch_default_is_what_an_untouched_layer_gets(own):
    model = build(name="wide", init="torch_default")
    for layer in (model.conv, model.fc):  # kaiming_uniform(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        fan_in = layer.weight[0].numel()
        bound = 1 / math.sqrt(fan_in)
        assert layer.weight.abs().max().item() <= bound
        assert layer.weight.var().item() == pytest.approx(bound**2 / 3, rel=0.1)
        assert 0 < layer.bias.abs().max().item() <= bound  # biases reset as torch does, not zeroed
    # the same figures as a fresh torch layer of the shape
    fresh = nn.Linear(256, 256)
    assert model.fc.weight.var().item() == pytest.approx(fresh.weight.var().item(), rel=0.1)


def test_without_init_the_factorys_weights_are_kept(own):
    model = build(name="wide")
    assert torch.all(model.fc.weight == 0.5) and model.sweepnn_changes == []


def test_init_reaches_lazy_layers(own):
    model = build(name="lazy", init="xavier_normal", input_shape=(128,))
    first = model[0]
    assert type(first) is nn.Linear and first.weight.shape == (64, 128)
    assert first.weight.var().item() == pytest.approx(2 / (64 + 128), rel=0.15)
    assert trains(model, *points(shape=(128,)))[1] < 0.5


# ---- activation: by surgery, or given to the factory ----------------------------------------------


def test_every_relu_becomes_the_recipes_activation(own):
    before = build(name="relus")
    assert len(of_type(before, nn.ReLU)) == 4  # the shared one is one module in two places
    model = build(name="relus", activation="tanh")
    assert of_type(model, nn.ReLU) == []
    assert len(of_type(model, nn.Tanh)) == 5  # each place its own: the shared one became two
    assert model.blocks[1] is not model.blocks[3]
    assert model.sweepnn_changes == ["5 activation modules -> tanh"]
    first, last = trains(model, *points())
    assert last < 0.8 * first


def test_an_activation_with_parameters_is_swapped_in_with_them(own):
    model = build(name="relus", activation={"name": "leaky_relu", "slope": 0.2})
    slopes = {m.negative_slope for m in of_type(model, nn.LeakyReLU)}
    assert slopes == {0.2} and of_type(model, nn.ReLU) == []


def test_a_factory_that_takes_the_activation_gets_a_module_factory(own):
    model = build(name="takes", activation="gelu")
    assert isinstance(own.RECEIVED["activation"], ActivationFactory)
    assert len(of_type(model, nn.GELU)) == 1 and of_type(model, nn.Tanh) == []
    assert model.sweepnn_changes == []  # nothing swapped: the factory built what the recipe asked
    first, last = trains(model, *points())
    assert last < 0.8 * first


def test_a_factorys_default_activation_and_norm_are_the_options_defaults(own):
    params = MODELS.parse({"name": f"{MODULE}:takes"})
    assert params.activation.name == "tanh" and params.norm.name == "layernorm"
    model = build(name="takes")
    assert len(of_type(model, nn.Tanh)) == 1 and len(of_type(model, nn.LayerNorm)) == 1


def test_an_activation_on_a_network_of_functional_activations_is_an_error(own):
    with pytest.raises(InputError, match=r"has no activation module to swap for tanh"):
        build(name="functional", activation="tanh")


# ---- norm: by surgery (each in its place's kind), or given to the factory ------------------------


def test_batchnorm_after_linear_layers_becomes_layernorm(own):
    model = build(name="mlp_bn", norm="layernorm")
    assert of_type(model, nn.BatchNorm1d) == [] and len(of_type(model, nn.LayerNorm)) == 2
    assert model.sweepnn_changes == ["2 norm layers -> layernorm"]
    first, last = trains(model, *points())
    assert last < 0.8 * first


def test_batchnorm_after_convolutions_becomes_a_group_norm_of_one_group(own):
    model = build(name="conv_bn", norm="layernorm", input_shape=(3, 8, 8))
    norms = of_type(model, nn.GroupNorm)
    assert of_type(model, nn.BatchNorm2d) == [] and len(norms) == 2
    assert {(m.num_groups, m.num_channels) for m in norms} == {(1, 8)}
    first, last = trains(model, *points(shape=(3, 8, 8)))
    assert last < 0.8 * first


@pytest.mark.parametrize("name, shape", [("mlp_bn", (2,)), ("conv_bn", (3, 8, 8))])
def test_norm_none_leaves_identities(own, name, shape):
    model = build(name=name, norm="none", input_shape=shape)
    assert len(of_type(model, nn.Identity)) == 2
    assert not any("Norm" in type(m).__name__ for m in model.modules())
    first, last = trains(model, *points(shape=shape))
    assert last < 0.8 * first


def test_batchnorm_swapped_in_with_its_parameters(own):
    model = build(name="mlp_bn", norm={"name": "batchnorm", "momentum": 0.5})
    assert {m.momentum for m in of_type(model, nn.BatchNorm1d)} == {0.5}


def test_a_factory_that_takes_the_norm_gets_one_of_the_right_kind(own):
    # its default is LayerNorm, after a Linear: a batchnorm for it is BatchNorm1d, not BatchNorm2d
    model = build(name="takes", norm="batchnorm")
    assert isinstance(own.RECEIVED["norm"], NormFactory)
    assert len(of_type(model, nn.BatchNorm1d)) == 1
    first, last = trains(model, *points())
    assert last < 0.8 * first
    assert len(of_type(build(name="takes", norm="none"), nn.Identity)) == 1


def test_the_installed_residual_mlp_takes_activation_and_norm(example):
    model = build(name="own_nets.models:resmlp", activation="silu", norm="layernorm", depth=2)
    assert len(of_type(model, nn.SiLU)) == 3 and of_type(model, nn.ReLU) == []
    assert of_type(model, nn.BatchNorm1d) == [] and len(list(model.modules())) > 8
    first, last = trains(model, *points())
    assert last < 0.8 * first


def test_a_searched_norm_on_a_network_without_one_is_found_by_the_preflight(own):
    from sweepnn.options.own_models import nothing_to_swap

    relus = MODELS.parse({"name": f"{MODULE}:relus"})
    assert nothing_to_swap(MODELS[relus.name], relus, (2,), 2, {"norm", "activation"}) == ["norm"]
    # the network as its factory builds it decides, not the base recipe's swap (norm: none)
    with_none = relus.model_copy(update={"norm": NORMS.parse("none")})
    assert nothing_to_swap(MODELS[relus.name], with_none, (2,), 2, {"norm"}) == ["norm"]
    takes = MODELS.parse({"name": f"{MODULE}:takes"})
    assert nothing_to_swap(MODELS[takes.name], takes, (2,), 2, {"norm"}) == []  # the factory takes it


# ---- diagnostics read any network as far as they can ---------------------------------------------


def recipe_for(model: str) -> sweepnn.Recipe:
    text = f"""\
    data: {{name: moons, n_samples: 200}}
    model: {{name: "{MODULE}:{model}"}}
    train: {{epochs: 2, batch_size: 32, optimizer: {{name: adam, lr: 0.01}}}}
    """
    return sweepnn.load_text(textwrap.dedent(text), "own.yaml", default_name="own")


def test_diagnostics_on_a_network_with_functional_activations(own):
    result = sweepnn.train(recipe_for("functional"), device="cpu")
    last = result.history[-1]
    assert "grad_norm_first" in last and "dead_fraction" not in last  # no ReLU module to watch
    assert result.outcome in ("ok", "stalled", "overfitting")


def test_diagnostics_on_a_network_without_a_weight_layer_never_crash(own):
    result = sweepnn.train(recipe_for("no_linear"), device="cpu")
    assert "grad_norm_first" not in result.history[-1] and result.outcome != "failed"


# ---- a factory's parameters as typed fields --------------------------------------------------------


def test_parameters_a_recipe_cannot_write_keep_their_defaults(own):
    spec = MODELS[f"{MODULE}:odd_parameters"]
    assert set(spec.fields) == {"depth", "activation", "norm", "init"}  # not block, act, scale
    model = build(name="odd_parameters", depth=1)
    assert isinstance(model[0], nn.Linear) and isinstance(model[1], nn.ReLU)


def test_a_required_parameter_a_recipe_cannot_write_is_an_error(own):
    with pytest.raises(InputError, match=r"its parameter 'layer' takes nn.Module, which a recipe cannot"):
        MODELS[f"{MODULE}:needs_module"]


def test_a_declared_params_models_validators_run_on_the_recipe(own):
    assert build(name="declared", depth=4) is not None
    with pytest.raises(RecipeError, match=r"depth must be even"):
        sweepnn.load_text(f'model: {{name: "{MODULE}:declared", depth: 3}}\n', "own.yaml", default_name="own")


def test_a_factorys_parameters_are_searchable_by_dotted_path(own):
    text = f"""\
    model: {{name: "{MODULE}:mlp_bn"}}
    search:
      space:
        model.width: [8, 16]
        model.norm: [batchnorm, layernorm]
    """
    cfg = sweepnn.load_text(textwrap.dedent(text), "own.yaml", default_name="own")
    assert set(cfg.search.space) == {"model.width", "model.norm"}
    bad = text.replace("[8, 16]", "[8, sixteen]")
    with pytest.raises(RecipeError, match=r"model.width"):
        sweepnn.load_text(textwrap.dedent(bad), "own.yaml", default_name="own")


# ---- data: the shapes a dataset factory returns ---------------------------------------------------


def data_params(**data):
    return DATASETS.parse({**data, "name": f"{MODULE}:{data['name']}"})


def test_a_torch_dataset_is_materialized(own, tmp_path):
    arrays = DATASETS[f"{MODULE}:points_dataset"].load(data_params(name="points_dataset"), tmp_path)
    x, y = own._points(120)
    assert arrays.x.shape == (120, 2) and arrays.x.dtype == "float32" and arrays.y.dtype == "int64"
    assert (arrays.x == x).all() and (arrays.y == y).all()


def test_a_factorys_own_validation_split_is_used_as_it_is(own):
    data = load_data(data_params(name="with_val", val_fraction=0.5), torch.device("cpu"))
    assert len(data.x_train) == 200 and len(data.x_val) == 37  # not half of the pool
    assert torch.equal(data.x_val, torch.from_numpy(own._points(37, seed=1)[0]))


def test_a_factorys_own_test_split_is_kept(own):
    data = load_data(data_params(name="with_test"), torch.device("cpu"))
    assert len(data.x_test) == 50 and len(data.x_train) + len(data.x_val) == 200
    with pytest.raises(InputError, match=r"returns a test split of its own; leave data.test_fraction out"):
        load_data(data_params(name="with_test", test_fraction=0.2), torch.device("cpu"))


def test_a_dataset_factory_that_takes_seed_gets_data_seed(own, tmp_path):
    assert "seed" not in DATASETS[f"{MODULE}:seeded"].fields  # every dataset's own field, not a clash
    DATASETS[f"{MODULE}:seeded"].load(data_params(name="seeded", seed=7), tmp_path)
    assert own.SEEDS[-1] == 7


def test_the_example_dataset_is_a_signal_classification(example, tmp_path):
    spec = DATASETS["own_nets.data:sines"]
    arrays = spec.load(DATASETS.parse({"name": "own_nets.data:sines", "n": 90, "classes": 3}), tmp_path)
    assert (spec.task, spec.kind) == ("classification", "signal")
    assert arrays.x.shape == (90, 64) and set(arrays.y.tolist()) == {0, 1, 2}


# ---- a failure is shown at the user's own line ----------------------------------------------------


def test_a_failure_inside_a_library_is_shown_at_the_users_line_that_called_it(tmp_path, monkeypatch):
    # an installed package of the user's and a library it calls, both in site-packages
    site = tmp_path / "lib" / "site-packages"
    (site / "own_code_userpkg").mkdir(parents=True)
    (site / "own_code_userpkg" / "__init__.py").write_text("")
    (site / "own_code_userpkg" / "models.py").write_text(
        "import own_code_lib\n\n\ndef net(depth: int = 1):\n    return own_code_lib.make(depth)\n"
    )
    (site / "own_code_lib.py").write_text("def make(depth):\n    raise KeyError(depth)\n")
    monkeypatch.syspath_prepend(str(site))
    try:
        with pytest.raises(InputError) as e:
            build(name="own_code_userpkg.models:net")
        assert "own_code_userpkg/models.py:5 in net: KeyError: 1" in str(e.value)
        assert "own_code_lib" not in str(e.value)
    finally:
        for name in ("own_code_userpkg", "own_code_userpkg.models", "own_code_lib"):
            sys.modules.pop(name, None)
