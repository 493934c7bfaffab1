"""train.precision (bf16 autocast) and train.channels_last: what each changes, on the CPU and, where
one exists, on a CUDA device (those tests carry the cuda marker and skip without one)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sweepnn.recipe.config import Recipe
from sweepnn.recipe.loading import load_text
from sweepnn.training.stacked.train import ungroupable
from sweepnn.training.trainer import train

torch.set_num_threads(1)
CPU = torch.device("cpu")
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


def cnn_on_digits(device: torch.device, epochs: int = 2, **train_kw) -> Recipe:
    return Recipe(
        name="t",
        data={"name": "digits", "limit": 400},
        model={"name": "cnn", "channels": [8, 16]},
        train={"epochs": epochs, "batch_size": 64, "optimizer": {"name": "adam", "lr": 1e-2}, **train_kw},
    )


def outputs_dtype(model: nn.Module, x: torch.Tensor, precision: str, device: torch.device):
    """The dtype of the first conv's output when the model runs as the trainer runs it."""
    from sweepnn.training.trainer import _autocast

    seen = []
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    hook = conv.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    with torch.no_grad(), _autocast(precision, device):
        model(x)
    hook.remove()
    return seen[0]


def test_bf16_runs_forward_passes_in_bfloat16_and_keeps_weights_fp32():
    fp32 = train(cnn_on_digits(CPU), CPU)
    bf16 = train(cnn_on_digits(CPU, precision="bf16"), CPU)
    assert all(p.dtype == torch.float32 for p in bf16.model.parameters())
    x = torch.rand(4, 1, 8, 8)
    assert outputs_dtype(bf16.model, x, "bf16", CPU) == torch.bfloat16
    assert outputs_dtype(fp32.model, x, "fp32", CPU) == torch.float32
    # the same seed: bf16 rounding makes the curves differ, but only a little
    a, b = fp32.history[-1]["train_loss"], bf16.history[-1]["train_loss"]
    assert a != b and abs(a - b) < 0.25 * a


def test_bf16_still_learns():
    result = train(cnn_on_digits(CPU, epochs=12, precision="bf16"), CPU)
    assert result.metrics["val_accuracy"] > 0.8


def test_channels_last_lays_out_the_kernels_as_nhwc_and_trains_as_nchw_does():
    plain = train(cnn_on_digits(CPU), CPU)
    nhwc = train(cnn_on_digits(CPU, channels_last=True), CPU)
    convs = [m.weight for m in nhwc.model.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert not all(
        m.weight.is_contiguous(memory_format=torch.channels_last)
        for m in plain.model.modules()
        if isinstance(m, nn.Conv2d)
    )
    # a layout, not a different computation: the same numbers up to float reassociation
    for key in ("train_loss", "val_loss"):
        assert nhwc.history[-1][key] == pytest.approx(plain.history[-1][key], rel=1e-3)


def test_channels_last_outside_an_image_cnn_is_a_recipe_error():
    from sweepnn.errors import RecipeError

    with pytest.raises(RecipeError, match="channels_last lays out images for a 2-D cnn"):
        load_text("data: {name: mnist1d}\ntrain: {channels_last: true}\n", "r.yaml", "r")


def test_bf16_trials_train_alone_rather_than_stacked():
    cfg = load_text("data: {name: blobs}\ntrain: {precision: bf16}\n", "r.yaml", "r")
    assert ungroupable(cfg) == "bf16 autocast is not stacked (the stacked kernels are fp32)"


@pytest.mark.cuda
@CUDA
def test_the_cuda_path_trains_a_cnn_in_bf16_and_channels_last():
    device = torch.device("cuda")
    result = train(cnn_on_digits(device, epochs=12, precision="bf16", channels_last=True), device)
    assert next(result.model.parameters()).device.type == "cuda"
    assert result.metrics["val_accuracy"] > 0.8


@pytest.mark.cuda
@CUDA
def test_the_cuda_path_end_to_end_through_the_cli(cli, write_recipe):
    recipe = write_recipe(
        "data: {name: digits, limit: 400}\nmodel: {name: cnn, channels: [8, 16]}\n"
        "train: {epochs: 2, precision: bf16, channels_last: true}\n"
        "search: {sampler: random, n_trials: 2, space: {train.optimizer.lr: {low: 1e-3, high: 1e-2}}}\n"
    )
    code, out, err = cli("run", recipe, "--device", "cuda")
    assert code == 0, err
    assert "2 trial(s) run" in out
