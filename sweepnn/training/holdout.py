"""The test split: scored once, after the sweep, for the best trials only.

Trials are chosen and ranked on validation data; the test split answers how the chosen ones do on
data that played no part in choosing, so it is never seen before the sweep ends and never becomes
an objective. The networks of the trials that lead while the sweep runs are kept in memory (a few
small state dicts); a best trial from another process or an earlier run is trained again from its
configuration and seed, which on the CPU reproduces it exactly.

A recipe with data.val_fraction 0 evaluates every epoch on the test split: its trials are chosen on
it, so there is no held-out score to make (the data holds no test split apart, `Data.val_is_test`)
and the sweep says so in place of one (sweepnn.sweep.study.score_test).
"""

from __future__ import annotations

import statistics
from typing import Any

import torch

from sweepnn.options.losses import DEFAULT_LOSS, LOSSES
from sweepnn.options.models import MODELS
from sweepnn.recipe.config import Recipe
from sweepnn.training.data import load_data
from sweepnn.training.trainer import evaluate, train


class Leaders:
    """The trained weights of the trials ranked in the top `k` so far, by trial number."""

    def __init__(self, k: int):
        self.k = k
        self.weights: dict[int, dict[str, torch.Tensor]] = {}

    def offer(self, number: int, model: torch.nn.Module | None, top: list[int]) -> None:
        """`top`: the study's best `k` trial numbers now, this one included if it made it."""
        if model is not None and number in top:
            self.weights[number] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        for n in [n for n in self.weights if n not in top]:
            del self.weights[n]


def score_on_test(
    cfg: Recipe, device: torch.device, weights: dict[str, torch.Tensor] | None
) -> dict[str, Any]:
    """{test_loss, test_accuracy (or test_r2)} of one configuration's trained network, or {} when its
    dataset has no test split. Without `weights` the configuration is trained again first. With seed
    repeats, the mean over the seeds (see `score_seeds_on_test`)."""
    seeds = score_seeds_on_test(cfg, device, weights)
    if not seeds:
        return {}
    return {k: statistics.fmean(s[k] for s in seeds) for k in seeds[0] if k != "seed"}


def score_seeds_on_test(
    cfg: Recipe, device: torch.device, weights: dict[str, torch.Tensor] | None
) -> list[dict[str, Any]]:
    """[{seed, test_loss, test_accuracy (or test_r2)}] for each seed of a configuration (one without
    repeats), or [] when its dataset has no test split held out (none, or data.val_fraction 0 made it
    the one every epoch was evaluated on). `weights`: the trial's trained networks (with
    repeats, every seed's, as one ModuleList's state), or None to train them again."""
    data = load_data(cfg.data, device)
    if data.x_test is None or data.val_is_test:
        return []
    k = cfg.search.repeats
    out = []
    for r in range(k):
        seed = cfg.train.seed + r
        seeded = cfg.model_copy(update={"train": cfg.train.model_copy(update={"seed": seed})})
        own = weights
        if weights is not None and k > 1:
            own = {
                name.partition(".")[2]: v for name, v in weights.items() if name.split(".", 1)[0] == str(r)
            }
        out.append({"seed": seed, **_score(seeded, device, data, own)})
    return out


def _score(
    cfg: Recipe, device: torch.device, data, weights: dict[str, torch.Tensor] | None
) -> dict[str, float]:
    if weights is None:
        model = train(cfg, device, data=data).model
    else:
        model = MODELS[cfg.model.name].build(cfg.model, data.input_shape, data.n_outputs).to(device)
        model.load_state_dict(weights)
    loss = cfg.train.loss if cfg.train.loss is not None else LOSSES.parse(DEFAULT_LOSS[data.task])
    y_var = float(data.y_test.float().var()) if data.task == "regression" else 1.0
    test_loss, score = evaluate(model, data.x_test, data.y_test, data.task, loss, y_var)
    key = "accuracy" if data.task == "classification" else "r2"
    return {"test_loss": test_loss, f"test_{key}": score}
