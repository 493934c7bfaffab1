"""Augmentations, each shown to do what its name says on batches whose content is known, and only
ever applied to training batches."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sweepnn.errors import RecipeError
from sweepnn.options.augment import AUGMENTATIONS, Augment, active, augment_batch
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.loading import load_text
from sweepnn.recipe.space import sample
from sweepnn.training.trainer import train

torch.set_num_threads(1)
CPU = torch.device("cpu")


def run(name: str, x: torch.Tensor, seed: int = 0, **params) -> torch.Tensor:
    spec = AUGMENTATIONS[name]
    gen = torch.Generator().manual_seed(seed)
    return spec.apply(AUGMENTATIONS.parse({"name": name, **params}), x, gen)


def images(n: int = 64, size: int = 16) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(1))


def dot(n: int, size: int, row: int, col: int) -> torch.Tensor:
    """n single-channel images, each black with one bright 2x2 square at (row, col)."""
    x = torch.zeros(n, 1, size, size)
    x[:, :, row : row + 2, col : col + 2] = 1.0
    return x


def centre_of_mass(x: torch.Tensor) -> torch.Tensor:
    """(N, 2): the (row, col) centre of mass of each image, in pixels."""
    size = x.shape[-1]
    grid = torch.arange(size, dtype=x.dtype)
    mass = x.sum(dim=(1, 2, 3))
    rows = (x.sum(dim=(1, 3)) * grid).sum(1) / mass
    cols = (x.sum(dim=(1, 2)) * grid).sum(1) / mass
    return torch.stack([rows, cols], 1)


# ---- each augmentation ---------------------------------------------------------------------------


def test_flip_is_an_exact_mirror_with_its_probability():
    x = images(400)
    assert torch.equal(run("flip", x, p=1.0), x.flip(-1))
    assert torch.equal(run("flip", x, p=0.0), x)
    out = run("flip", x, p=0.5)
    mirrored = (out == x.flip(-1)).flatten(1).all(1)
    kept = (out == x).flatten(1).all(1)
    assert torch.all(mirrored ^ kept)  # each image is either mirrored exactly or untouched
    assert 0.4 < mirrored.float().mean() < 0.6


def test_crop_moves_each_image_by_whole_pixels_within_the_padding():
    x = images(100)
    assert torch.equal(run("crop", x, padding=0), x)
    out = run("crop", x, padding=2)
    moves = set()
    for a, b in zip(x, out, strict=True):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(b, _moved(a, dy, dx))]
        assert len(found) == 1, "every output is its input moved, zeros filling in"
        moves.add(found[0])
    assert len(moves) > 10  # the moves vary from image to image


def _moved(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """image moved down dy and right dx pixels, zeros where it moved away from."""
    out = torch.zeros_like(image)
    h, w = image.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def test_rotate_turns_about_the_centre_by_at_most_its_angle():
    x = images(8)
    assert torch.allclose(run("rotate", x, degrees=0.0), x, atol=1e-6)
    size = 32
    x = dot(200, size, 6, 15)  # a bright square above the centre
    centre = (size - 1) / 2
    out = run("rotate", x, degrees=30.0)
    before = centre_of_mass(x) - centre
    after = centre_of_mass(out) - centre
    assert torch.allclose(after.norm(dim=1), before.norm(dim=1), rtol=0.05)  # same distance from centre
    turned = torch.atan2(after[:, 1], -after[:, 0]) - torch.atan2(before[:, 1], -before[:, 0])
    degrees = turned.abs() * 180 / math.pi
    assert degrees.max() <= 31 and degrees.max() > 20  # up to 30 degrees, and it does turn
    assert turned.std() > 0.1  # by a different angle per image


def test_translate_moves_each_image_by_up_to_its_fraction():
    size = 32
    x = dot(200, size, 15, 15)
    out = run("translate", x, fraction=0.125)  # up to 4 pixels each way
    moved = centre_of_mass(out) - centre_of_mass(x)
    assert moved.abs().max() <= 4.05
    assert moved.abs().max() > 3 and moved.std(0).min() > 1  # it moves, differently per image


def test_shift_moves_each_signal_by_whole_samples_zeros_filling_in():
    x = torch.arange(1, 21, dtype=torch.float32).repeat(50, 1)  # (N, L) signals 1..20
    out = run("shift", x, samples=3)
    shifts = []
    for a, b in zip(x, out, strict=True):
        found = [s for s in range(-3, 4) if torch.equal(b, _moved(a[None, None], 0, s)[0, 0])]
        assert len(found) == 1
        shifts += found
    assert set(shifts) == set(range(-3, 4))
    channels = torch.stack([x, -x], 1)  # (N, C, L): every channel moves together
    both = run("shift", channels, samples=3)
    assert torch.equal(both[:, 0], -both[:, 1])


def test_noise_adds_gaussian_noise_of_its_std():
    x = torch.zeros(200, 50)
    noise = run("noise", x, std=0.3) - x
    assert abs(noise.mean().item()) < 0.01
    assert noise.std().item() == pytest.approx(0.3, rel=0.03)


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_every_augmentation_keeps_shape_and_follows_the_seed(name):
    kind = AUGMENTATIONS[name].kinds[-1]
    x = {"table": torch.rand(16, 5), "signal": torch.rand(16, 2, 30), "image": images(16)}[kind]
    a, b, c = run(name, x, seed=3), run(name, x, seed=3), run(name, x, seed=4)
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)


# ---- in recipes and in the trainer ----------------------------------------------------------------


def test_augment_section_switches_entries_on_in_order():
    aug = Augment.model_validate(
        {"flip": True, "noise": {"std": 0.2}, "crop": {"padding": 1}, "rotate": False}
    )
    assert [spec.name for spec, _ in active(aug)] == ["crop", "flip", "noise"]  # the registry's order
    assert aug.flip.p == 0.5 and aug.rotate is None
    x = images(4)
    assert augment_batch([], x, torch.Generator()) is x


def test_an_augmentation_that_does_not_fit_the_data_is_a_recipe_error():
    with pytest.raises(RecipeError) as e:
        load_text("data: {name: mnist1d, augment: {rotate: true}}\n", "r.yaml", "r")
    assert str(e.value.problems[0]) == (
        "r.yaml:1:33: data.augment.rotate: rotate augments image inputs, but mnist1d is signal data;"
        " for it use: noise, shift"
    )


def test_augmentation_parameters_are_searchable_by_path():
    recipe = load_text(
        "data: {name: mnist1d, augment: {shift: {samples: 2}}}\n"
        "search:\n  space:\n    data.augment.shift.samples: {low: 0, high: 8}\n",
        "r.yaml",
        "r",
    )

    class Fixed:
        def int(self, path, low, high, *, log, step):
            assert (path, low, high) == ("data.augment.shift.samples", 0, 8)
            return 6

    cfg, chosen = sample(recipe, Fixed())
    assert cfg.data.augment.shift.samples == 6 and chosen == {"data.augment.shift.samples": 6}


def test_only_training_batches_are_augmented():
    cfg = Recipe(
        name="t",
        data={"name": "blobs", "n_samples": 200, "augment": {"noise": {"std": 5.0}}},
        model={"depth": 1, "width": 8},
        train={"epochs": 2, "batch_size": 32},
    )
    from sweepnn.training.data import load_data

    data = load_data(cfg.data, CPU)
    seen: list[tuple[bool, torch.Tensor]] = []

    def hook(module, args):
        if isinstance(module, nn.Sequential):  # the whole network
            seen.append((module.training, args[0].detach().clone()))

    handle = nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        train(cfg, CPU, data=data)
    finally:
        handle.remove()
    clean = torch.cat([data.x_train, data.x_val])
    training = [x for mode, x in seen if mode]
    evaluation = [x for mode, x in seen if not mode]
    assert training and evaluation
    # each epoch's validation, then the final network's training score (dropout off): data as loaded
    assert len(evaluation) == 3 and all(torch.equal(x, data.x_val) for x in evaluation[:2])
    assert torch.equal(evaluation[2], data.x_train)
    for x in training:  # no training input is an unaugmented example
        assert not (x[:, None, :] == clean[None]).all(-1).any()
