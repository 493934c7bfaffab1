"""The CIFAR residual network of He et al. (2016, section 4.2), the `resnet` entry of the model registry,
and what it shares with the small convnet (`cnn`): how an input shape reads as a signal or an image.

Three stages of n basic blocks each (two 3x3 convolutions; widths w, 2w, 4w; stride 2 at the start of
stages 2 and 3), after one 3x3 convolution and before global average pooling and a linear head:
6n + 2 weight layers. torch is imported inside the functions: the registries load without it, so the
network's own modules are defined on first use (`_modules`) and reached as attributes of this module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from sweepnn.options.activations import ACTIVATIONS, activation_gain, build_activation
from sweepnn.options.inits import INITS
from sweepnn.options.layers import initialize
from sweepnn.options.norms import NORMS, build_norm

if TYPE_CHECKING:
    from torch import nn

STAGES = 3
# The depths He et al. trained on CIFAR-10 (their Table 6), named in errors; 1202 the deepest.
PAPER_DEPTHS = (20, 32, 44, 56, 110, 1202)
DEPTH_MAX = PAPER_DEPTHS[-1]


def conv_input(input_shape: tuple[int, ...], model: str) -> tuple[tuple[int, ...], int]:
    """(channels, *spatial sizes) and the number of spatial dimensions of what a conv net reads: (L,) is
    a signal with one channel, (C, L) a signal with C channels, (C, H, W) an image."""
    shape = (1, *input_shape) if len(input_shape) == 1 else tuple(input_shape)
    dims = len(shape) - 1
    if dims not in (1, 2):
        raise ValueError(
            f"{model} takes signals (L or C x L) or images (C x H x W), not inputs of shape {input_shape}"
        )
    return shape, dims


def torch_layer(kind: str, dims: int) -> type:
    """The torch.nn class of a layer over `dims` spatial dimensions: ("Conv", 2) is nn.Conv2d."""
    from torch import nn

    return getattr(nn, f"{kind}{dims}d")


def blocks_per_stage(depth: int) -> int:
    """n of a depth 6n+2."""
    return (depth - 2) // (2 * STAGES)


def check_resnet(p) -> None:
    """A depth the three stages can share out: 6n+2."""
    if (p.depth - 2) % (2 * STAGES):
        below = p.depth - (p.depth - 2) % (2 * STAGES)
        nearest = " or ".join(str(d) for d in (below, below + 2 * STAGES) if 8 <= d <= DEPTH_MAX)
        raise ValueError(
            f"depth {p.depth} is not 6n+2 (3 stages of n blocks of two convolutions, the first"
            f" convolution and the linear head); valid depths: 8, 14, 20, 26, 32, ..."
            f" (He et al. used {', '.join(map(str, PAPER_DEPTHS))}); nearest: {nearest}"
        )


# ---- the torch modules, defined on first use ----------------------------------------------------


@functools.cache
def _modules() -> dict[str, type]:
    import torch.nn.functional as F
    from torch import nn

    class PadShortcut(nn.Module):
        """He et al.'s option A: the input subsampled by the stride, its new channels zero; no parameters."""

        def __init__(self, c_in: int, c_out: int, stride: int, dims: int):
            super().__init__()
            self.extra, self.stride, self.dims = c_out - c_in, stride, dims

        def forward(self, x):
            x = x[(..., *[slice(None, None, self.stride)] * self.dims)]
            # F.pad reads (low, high) pairs from the last dimension back: the spatial ones, then channels
            return F.pad(x, [0, 0] * self.dims + [0, self.extra])

    class BasicBlock(nn.Module):
        """conv, norm, activation, conv, norm; the input added back (through `shortcut` where the block
        changes width or size); then the activation."""

        def __init__(self, c_in: int, c_out: int, stride: int, dims: int, p):
            super().__init__()
            conv = torch_layer("Conv", dims)
            self.norm1, self.norm2 = (build_norm(p.norm, c_out, dims) or nn.Identity() for _ in "12")
            bias = isinstance(self.norm1, nn.Identity)  # a norm's shift makes a conv bias redundant
            self.conv1 = conv(c_in, c_out, 3, stride=stride, padding=1, bias=bias)
            self.act1 = build_activation(p.activation)
            self.conv2 = conv(c_out, c_out, 3, padding=1, bias=bias)
            same = stride == 1 and c_in == c_out
            self.shortcut = nn.Identity() if same else SHORTCUTS[p.shortcut](c_in, c_out, stride, dims, p)
            self.act2 = build_activation(p.activation)

        def forward(self, x):
            branch = self.norm2(self.conv2(self.act1(self.norm1(self.conv1(x)))))
            return self.act2(branch + self.shortcut(x))

        def zero_branch(self) -> None:
            """Start the block as the identity (Goyal et al. 2017): the last norm's scale 0, or where
            there is no scale (no norm, or one without affine parameters), the last convolution's."""
            last = self.norm2 if getattr(self.norm2, "weight", None) is not None else self.conv2
            last.weight.zero_()
            if last.bias is not None:  # torch_default gives a bias that a zero weight would leave
                last.bias.zero_()

    for cls in (PadShortcut, BasicBlock):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__  # pickled and printed as resnet.X
    return {"PadShortcut": PadShortcut, "BasicBlock": BasicBlock}


def __getattr__(name: str) -> type:
    """`resnet.BasicBlock` and `resnet.PadShortcut`, defined when first asked for."""
    if name in ("BasicBlock", "PadShortcut"):
        return _modules()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _pad(c_in: int, c_out: int, stride: int, dims: int, p) -> nn.Module:
    return _modules()["PadShortcut"](c_in, c_out, stride, dims)


def _projection(c_in: int, c_out: int, stride: int, dims: int, p) -> nn.Module:
    from torch import nn

    norm = build_norm(p.norm, c_out, dims)
    conv = torch_layer("Conv", dims)(c_in, c_out, 1, stride=stride, bias=norm is None)
    return nn.Sequential(conv, *([norm] if norm is not None else []))


# How a block that changes width or size carries its input to the sum (an identity where neither does).
SHORTCUTS: dict[str, Callable[[int, int, int, int, Any], Any]] = {"pad": _pad, "projection": _projection}


def build_resnet(p, input_shape: tuple[int, ...], n_out: int) -> nn.Module:
    """conv, norm, activation; 3 stages of basic blocks; global average pool; linear. An 8x8 image
    shrinks 8 -> 4 -> 2 over the stages (a size of 1 stays 1)."""
    from torch import nn

    shape, dims = conv_input(input_shape, "resnet")
    norm = build_norm(p.norm, p.width, dims)
    layers: list[nn.Module] = [nn.Unflatten(1, shape)] if len(input_shape) == 1 else []
    layers.append(torch_layer("Conv", dims)(shape[0], p.width, 3, padding=1, bias=norm is None))
    layers += [m for m in (norm, build_activation(p.activation)) if m is not None]
    block = _modules()["BasicBlock"]
    c_in = p.width
    for stage in range(STAGES):
        c_out = p.width * 2**stage
        blocks = []
        for i in range(blocks_per_stage(p.depth)):
            blocks.append(block(c_in, c_out, 2 if stage > 0 and i == 0 else 1, dims, p))
            c_in = c_out
        layers.append(nn.Sequential(*blocks))
    layers += [torch_layer("AdaptiveAvgPool", dims)(1), nn.Flatten(), nn.Linear(c_in, n_out)]
    model = nn.Sequential(*layers)
    initialize(model, p.init, activation_gain(p.activation))
    if p.zero_init_residual:
        import torch

        with torch.no_grad():  # after initialize, which sets every norm's scale to 1
            for m in model.modules():
                if isinstance(m, block):
                    m.zero_branch()
    return model


RESNET_FIELDS = {
    "depth": (
        int,
        Field(20, ge=8, le=DEPTH_MAX, description="weight layers, 6n+2: n basic blocks in each of 3 stages"),
    ),
    "width": (int, Field(16, ge=1, le=4096, description="channels of the first stage (then 2x, 4x)")),
    "shortcut": (
        Literal[tuple(SHORTCUTS)],
        Field(
            "pad",
            description="where a block halves the size and doubles the width: pad (He et al.'s option A"
            " on CIFAR, subsample and zero channels, no parameters) or projection (1x1 conv and norm)",
        ),
    ),
    "activation": (ACTIVATIONS.type_for("relu"), ACTIVATIONS.default("relu")),
    "norm": (NORMS.type_for("batchnorm"), NORMS.default("batchnorm")),
    "init": (INITS.type_for("he_normal"), INITS.default("he_normal")),
    "zero_init_residual": (
        bool,
        Field(
            False,
            description="start each block as the identity: the last norm's scale gamma in each residual"
            " branch 0 (Goyal et al. 2017); with norm none (or no scale), the branch's last conv 0",
        ),
    ),
}
