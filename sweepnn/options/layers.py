"""Which torch modules hold a network's weights and normalizations, and how an init scheme is applied
to all of them: the same for the built-in networks and for a user's own (found by type, not by name).

torch is imported inside the functions: this module loads with the registries, without torch.
"""

from __future__ import annotations

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
