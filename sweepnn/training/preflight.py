"""Build the network once before a sweep starts, so a model that cannot be built or run (a user's factory
that raises, returns no module, or cannot take the data's shape; a searched technique with nothing to
swap) or a loss or metric of the user's that fails is bad input, exit 2 with nothing written, not a
sweep of failed trials."""

from __future__ import annotations

import torch

from sweepnn.errors import InputError
from sweepnn.options.losses import LOSSES
from sweepnn.options.metrics import METRICS, own_metrics
from sweepnn.options.models import MODELS
from sweepnn.options.own_models import nothing_to_swap
from sweepnn.options.users_code import call, users_line
from sweepnn.training import steps
from sweepnn.training.data import Data

_KINDS = {"activation": "activation module", "norm": "normalization layer"}


def check_model(cfg, data: Data, device: torch.device) -> None:
    """Build the recipe's model for the data, run two examples through it and score them with the loss
    and the recipe's own metrics."""
    spec = MODELS[cfg.model.name]
    n_out = data.n_outputs
    shape = data.input_shape
    try:
        model = spec.build(cfg.model, shape, n_out)
    except InputError:  # a user's factory, said in its own words and at its own line
        raise
    except Exception as e:  # a built-in that cannot take this shape
        raise InputError(
            f"model {cfg.model.name!r} cannot be built for inputs of shape {shape}: {type(e).__name__}: {e}"
        ) from e
    searched = {path.split(".")[1] for path in cfg.search.space if path.startswith("model.")}
    missing = nothing_to_swap(spec, cfg.model, shape, n_out, searched)
    if missing:
        raise InputError(
            f"search.space searches model.{missing[0]}, but model {cfg.model.name!r} has no"
            f" {_KINDS[missing[0]]} to swap and its factory takes no `{missing[0]}` parameter"
        )
    x, y = data.x_train[:2], data.y_train[:2]
    model = model.to(device).eval()  # two examples: batchnorm in training mode needs more than one
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as e:
        where = users_line(e)
        raise InputError(
            f"model {cfg.model.name!r} cannot take the data: a batch of shape {tuple(x.shape)} failed"
            f"{' at ' + where if where else ''}: {type(e).__name__}: {e}"
        ) from e
    if not isinstance(out, torch.Tensor) or out.shape[0] != len(x) or out[0].numel() != n_out:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        what = "classes" if data.task == "classification" else "targets"
        raise InputError(
            f"model {cfg.model.name!r} must map a batch of {len(x)} to {len(x)} x {n_out} outputs ({what}),"
            f" but returned {got}"
        )
    loss = steps.loss_of(cfg.train, data.task)
    out = out.float() if y.dtype == torch.long else out.float().reshape(y.shape)
    with torch.no_grad():
        value = call(f"loss {loss.name!r}", LOSSES[loss.name].fn, loss, out, y, 0.0)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise InputError(f"loss {loss.name!r} must return one number (a tensor), got {value!r:.80}")
        for name in own_metrics(cfg):
            call(f"metric {name!r}", lambda f=METRICS[name].compute: float(f(out, y)))
