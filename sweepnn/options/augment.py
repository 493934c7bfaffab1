"""Data augmentation (the seeds' first data technique), applied to training batches on the device.

Each entry transforms a whole batch at once with tensor operations and the trial's own random
generator, so augmentation costs a few kernels per step, never a DataLoader worker, and a trial is
reproducible from its seed. Evaluation data is never augmented: the trainer calls `augment_batch`
on training batches only.

In a recipe, `data.augment` switches entries on with their parameters:
`augment: {crop: {padding: 4}, flip: {p: 0.5}}` (or `flip: true` for the defaults). Searchable like
any field: `data.augment.rotate.degrees: {low: 0, high: 20}`, one entry on or off
(`data.augment.crop: [null, {padding: 4}]`), or whole settings as one choice (`data.augment: [none,
{crop: {padding: 4}}, {flip: true}, {crop: {padding: 4}, flip: true}]`, see sweepnn.recipe.space).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, create_model

from sweepnn.registry import Frozen, Registry, Spec

Kind = Literal["table", "signal", "image"]  # (N, F), (N, L) or (N, C, L), (N, C, H, W)


@dataclass(frozen=True, kw_only=True)
class AugmentSpec(Spec):
    """One augmentation: `apply` transforms a whole training batch on the device with the trial's generator;
    `kinds` are the inputs (table, signal, image) a recipe may use it on."""

    apply: Callable[[Any, Any, Any], Any]  # (params, batch, torch.Generator) -> augmented batch
    kinds: tuple[Kind, ...]  # the inputs it makes sense for


def _uniform(n: int, low: float, high: float, like, gen):
    import torch

    return low + (high - low) * torch.rand(n, generator=gen, device=like.device, dtype=like.dtype)


def _shifted(x, shifts: list[Any]):
    """Each example moved by its own whole number of positions along the last len(shifts) axes,
    with zeros where it moved away from: one gather from a zero-padded copy."""
    import torch

    pad = [int(s.abs().max().item()) if len(s) else 0 for s in shifts]
    if not any(pad):
        return x
    flat_pad = [p for p in reversed(pad) for _ in range(2)]  # F.pad wants the last axis first
    padded = torch.nn.functional.pad(x, flat_pad)
    n = x.shape[0]
    index = [torch.arange(n, device=x.device).view(n, *([1] * (x.dim() - 1)))]
    lead = x.dim() - len(shifts)
    for axis in range(1, lead):  # channels: every one
        shape = [1] * x.dim()
        shape[axis] = x.shape[axis]
        index.append(torch.arange(x.shape[axis], device=x.device).view(shape))
    for k, (s, p) in enumerate(zip(shifts, pad, strict=True)):
        axis = lead + k
        size = x.shape[axis]
        shape = [n] + [1] * (x.dim() - 1)
        shape[axis] = size
        # output position i reads padded position i + p - s: the content moves by +s
        index.append((torch.arange(size, device=x.device).view(1, size) + p - s.view(n, 1)).view(shape))
    return padded[tuple(index)]


def _crop(p, x, gen):
    """Random crop after zero padding: the image moves by up to `padding` pixels each way."""
    import torch

    n, pad = x.shape[0], p.padding
    dy = torch.randint(-pad, pad + 1, (n,), generator=gen, device=x.device)
    dx = torch.randint(-pad, pad + 1, (n,), generator=gen, device=x.device)
    return _shifted(x, [dy, dx])


def _flip(p, x, gen):
    """Mirror left-right with probability p."""
    import torch

    flip = torch.rand(x.shape[0], generator=gen, device=x.device) < p.p
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def _affine(x, theta):
    """Resample each image through its own 2x3 affine map (bilinear, zeros outside)."""
    import torch.nn.functional as F

    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _rotate(p, x, gen):
    """Rotate each image by an angle drawn uniformly in [-degrees, degrees] about its centre."""
    import torch

    angle = _uniform(x.shape[0], -p.degrees, p.degrees, x, gen) * (math.pi / 180)
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    return _affine(x, theta)


def _translate(p, x, gen):
    """Move each image by up to `fraction` of its width and height, by fractions of a pixel too."""
    import torch

    n = x.shape[0]
    # affine_grid's coordinates span [-1, 1]: a move of fraction f of the size is 2f there
    tx, ty = (_uniform(n, -2 * p.fraction, 2 * p.fraction, x, gen) for _ in range(2))
    one, zero = torch.ones_like(tx), torch.zeros_like(tx)
    theta = torch.stack([torch.stack([one, zero, -tx], 1), torch.stack([zero, one, -ty], 1)], 1)
    return _affine(x, theta)


def _shift(p, x, gen):
    """Move each 1-D signal by up to `samples` positions, zeros filling in."""
    import torch

    s = torch.randint(-p.samples, p.samples + 1, (x.shape[0],), generator=gen, device=x.device)
    return _shifted(x, [s])


def _noise(p, x, gen):
    """Add Gaussian noise of standard deviation `std` to every input value."""
    import torch

    return x + p.std * torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)


AUGMENTATIONS: Registry[AugmentSpec] = Registry(
    "augment",
    [  # applied in this order
        AugmentSpec(
            name="crop",
            description="random crop after zero padding (shifts the image by whole pixels)",
            apply=_crop,
            kinds=("image",),
            fields={"padding": (int, Field(4, ge=0, le=64, description="pixels of padding on each side"))},
        ),
        AugmentSpec(
            name="translate",
            description="random translation by up to a fraction of the size (bilinear)",
            apply=_translate,
            kinds=("image",),
            fields={"fraction": (float, Field(0.1, ge=0, le=0.5, description="largest move, per axis"))},
        ),
        AugmentSpec(
            name="rotate",
            description="random rotation about the centre by up to `degrees` either way (bilinear)",
            apply=_rotate,
            kinds=("image",),
            fields={"degrees": (float, Field(10.0, ge=0, le=180, description="largest angle"))},
        ),
        AugmentSpec(
            name="flip",
            description="horizontal mirror with probability p",
            apply=_flip,
            kinds=("image",),
            fields={"p": (float, Field(0.5, ge=0, le=1, description="probability of mirroring"))},
        ),
        AugmentSpec(
            name="shift",
            description="random shift of a 1-D signal by whole samples, zeros filling in",
            apply=_shift,
            kinds=("signal",),
            fields={"samples": (int, Field(4, ge=0, le=1024, description="largest shift either way"))},
        ),
        AugmentSpec(
            name="noise",
            description="additive Gaussian noise on every input value",
            apply=_noise,
            kinds=("table", "signal", "image"),
            fields={"std": (float, Field(0.1, ge=0, description="standard deviation of the noise"))},
        ),
    ],
)


def _switch(value: Any) -> Any:
    """`flip: true` switches an augmentation on with its defaults; `false` (or null) leaves it off."""
    if value is True:
        return {}
    if value is False:
        return None
    return value


# The recipe's `data.augment` section: one optional field per entry, None meaning off.
Augment = create_model(
    "Augment",
    __base__=Frozen,
    __doc__="Augmentations of the training batches; each off unless given.",
    **{
        name: (
            Annotated[spec.params | None, BeforeValidator(_switch)],
            Field(None, description=spec.description),
        )
        for name, spec in AUGMENTATIONS.items()
    },
)


def active(augment) -> list[tuple[AugmentSpec, Any]]:
    """The augmentations switched on, in the order they are applied."""
    return [(spec, getattr(augment, name)) for name, spec in AUGMENTATIONS.items() if getattr(augment, name)]


def augment_batch(steps: list[tuple[AugmentSpec, Any]], x, gen):
    """A training batch through every active augmentation (see `active`)."""
    for spec, params in steps:
        x = spec.apply(params, x, gen)
    return x
