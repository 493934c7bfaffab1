"""Which torch modules hold a network's weights and normalizations, and how an init scheme is applied
to all of them: the same for the built-in networks and for a user's own (found by type, not by name).

torch is imported inside the functions: this module loads with the registries, without torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sweepnn.options.inits import INITS

if TYPE_CHECKING:
    from torch import nn

# Modules with a weight matrix or kernel that an init scheme fills: dense, every convolution and
# transposed convolution, bilinear maps and embeddings (torch.nn class names, looked up lazily).
WEIGHT_LAYERS = (
    "Linear",
    "Bilinear",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "Embedding",
    "EmbeddingBag",
)
# Normalization layers: a per-feature scale and shift that start at 1 and 0, whatever the scheme.
NORM_LAYERS = (
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LocalResponseNorm",
    "RMSNorm",
)


def classes(names: tuple[str, ...]) -> tuple[type, ...]:
    """The torch.nn classes of `names` this torch has (RMSNorm is recent)."""
    from torch import nn

    return tuple(getattr(nn, n) for n in names if hasattr(nn, n))


def weight_modules(model: nn.Module) -> list[nn.Module]:
    """The model's weight layers, input to output in definition order, that hold a weight tensor now
    (a lazy module not yet run holds none)."""
    import torch

    kinds = classes(WEIGHT_LAYERS)
    out = []
    for m in model.modules():
        w = getattr(m, "weight", None)
        if isinstance(m, kinds) and isinstance(w, torch.nn.Parameter) and not _lazy(w):
            out.append(m)
    return out


def _lazy(w) -> bool:
    from torch.nn.parameter import UninitializedParameter

    return isinstance(w, UninitializedParameter)


def materialize(model: nn.Module, input_shape: tuple[int, ...]) -> bool:
    """Give a model's lazy modules (LazyLinear, LazyConv2d) their weights, by a forward pass of two
    zero examples in eval mode (no running statistics change), so that an init scheme, an optimizer and
    the diagnostics find them; whether there were any."""
    import torch
    from torch.nn.modules.lazy import LazyModuleMixin

    if not any(isinstance(m, LazyModuleMixin) and m.has_uninitialized_params() for m in model.modules()):
        return False
    training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(2, *input_shape))
    model.train(training)
    return True


def initialize(model: nn.Module, init, gain: tuple[str, float]) -> None:
    """Weights by the scheme; biases zero; normalization scale 1 and shift 0, whatever the scheme.

    A scheme that resets whole modules (`torch_default`: what an untouched layer gets) sets the
    weight layers' biases too, as torch does."""
    import torch

    spec = INITS[init.name]
    norms = classes(NORM_LAYERS)
    with torch.no_grad():
        for m in weight_modules(model):
            if spec.reset is not None:
                spec.reset(m)
                continue
            spec.apply(m.weight, init, gain)
            if getattr(m, "bias", None) is not None:
                m.bias.zero_()
        for m in model.modules():
            if isinstance(m, norms) and getattr(m, "weight", None) is not None:
                m.weight.fill_(1.0)
                if getattr(m, "bias", None) is not None:
                    m.bias.zero_()


# ---- module surgery: the recipe's activation and normalization in a network built without them ----


def activation_modules(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, option name) of every module of a known activation class (ACTIVATIONS' torch classes)."""
    from torch import nn

    from sweepnn.options.activations import ACTIVATIONS

    by_class = {getattr(nn, s.torch_class): n for n, s in ACTIVATIONS.builtins.items()}
    return [(m, by_class[type(m)]) for m in model.modules() if type(m) in by_class]


def norm_modules(model: nn.Module) -> list[nn.Module]:
    """Every normalization layer (NORM_LAYERS) of the model."""
    kinds = classes(NORM_LAYERS)
    return [m for m in model.modules() if isinstance(m, kinds)]


def _replace(model: nn.Module, make: Callable[[nn.Module], nn.Module | None], targets: list) -> int:
    """Put make(old) in place of each module in `targets`, wherever it is held (a module held at two
    places gets a new one at each); the count replaced."""
    wanted = {id(m) for m in targets}
    count = 0
    for parent in list(model.modules()):
        # _modules, not named_children(): that yields a child held under two keys only once
        for key, child in list(parent._modules.items()):
            if child is not None and id(child) in wanted:
                setattr(parent, key, make(child))  # Sequential and ModuleList take their index as key
                count += 1
    return count


def swap_activations(model: nn.Module, params) -> int:
    """Every module of a known activation class replaced by the configured activation; the count."""
    from sweepnn.options.activations import build_activation

    return _replace(model, lambda old: build_activation(params), [m for m, _ in activation_modules(model)])


# A norm layer's features and the spatial dimensions of the input it normalizes, read from the layer
# it replaces: BatchNorm{1,2,3}d after a layer of that kind; LayerNorm over its last dimension. Where
# the input a layer sees is known (`ndim`), its dimensions decide: a BatchNorm1d after a Linear (N, C)
# normalizes features (0), after a Conv1d (N, C, L) channels over positions (1).
def _features_and_dims(old: nn.Module, ndim: int | None = None) -> tuple[int, int]:
    name = type(old).__name__
    if name == "LayerNorm" or name == "RMSNorm":
        return int(old.normalized_shape[-1]), 0  # channels last, whatever the input's rank
    if name == "LocalResponseNorm":
        raise ValueError("a LocalResponseNorm has no feature count to build another norm from")
    features = int(old.num_channels) if name == "GroupNorm" else int(old.num_features)
    if ndim is not None and ndim >= 2:
        return features, ndim - 2
    if name == "GroupNorm":
        return features, 2
    return features, int(name[-2]) if name[-1] == "d" and name[-2].isdigit() else 1


def input_ranks(model: nn.Module, modules: list[nn.Module], input_shape: tuple[int, ...]) -> dict[int, int]:
    """id(module) -> the rank of the input each of `modules` gets in a forward pass of two zero examples
    (eval mode: no running statistics change); empty when the model cannot run on such a batch (the
    preflight check then says why)."""
    import torch

    ranks: dict[int, int] = {}

    def seen(module, inputs):
        if inputs and isinstance(inputs[0], torch.Tensor):
            ranks.setdefault(id(module), inputs[0].dim())

    hooks = [m.register_forward_pre_hook(seen) for m in modules]
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(2, *input_shape))
    except Exception:
        ranks = {}
    finally:
        for h in hooks:
            h.remove()
        model.train(training)
    return ranks


def swap_norms(model: nn.Module, params, input_shape: tuple[int, ...] | None = None) -> int:
    """Every normalization layer replaced by the configured norm (`none`: an Identity); the count.

    With the input's shape, the layers' inputs are looked at first, so each new layer is of the kind its
    place needs (LayerNorm after a Linear, GroupNorm with one group after a convolution)."""
    from torch import nn

    from sweepnn.options.norms import build_norm

    targets = norm_modules(model)
    ranks = input_ranks(model, targets, input_shape) if targets and input_shape is not None else {}

    def make(old: nn.Module) -> nn.Module:
        features, dims = _features_and_dims(old, ranks.get(id(old)))
        new = build_norm(params, features, dims)
        return new if new is not None else nn.Identity()

    return _replace(model, make, targets)


def used_activation(model: nn.Module):
    """The activation option of the model's most common known activation module, or None."""
    from collections import Counter

    from sweepnn.options.activations import ACTIVATIONS

    found = Counter(name for _, name in activation_modules(model))
    return ACTIVATIONS.parse(found.most_common(1)[0][0]) if found else None
