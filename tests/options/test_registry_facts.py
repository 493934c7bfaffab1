"""What the stacked path, the pruners and the trainer need to know of an option is said by its
registry entry, nowhere else: change the entry and the behaviour follows. Each test changes one
entry (a copy, put back afterwards) and watches the path that reads it."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from sweepnn.options.losses import LOSSES
from sweepnn.options.models import MODELS
from sweepnn.options.optimizers import OPTIMIZERS
from sweepnn.options.regularizers import PENALTIES, penalty_term
from sweepnn.options.schedules import SCHEDULES, lr_is_constant
from sweepnn.options.search import PRUNERS
from sweepnn.recipe.config import Recipe
from sweepnn.sweep.samplers import make_pruner
from sweepnn.training.stacked.loss import Regularizer
from sweepnn.training.stacked.optim import UPDATES, build_stacked_optimizer
from sweepnn.training.stacked.train import group_key, ungroupable

BLOBS = {"name": "blobs", "n_samples": 200}


def _recipe(**train) -> Recipe:
    return Recipe(name="t", data=BLOBS, model={"name": "mlp", "depth": 1, "width": 8}, train=train)


def _swap(monkeypatch, registry, name: str, **changes) -> None:
    old = registry[name]
    new = dataclasses.replace(old, **changes)
    new.__dict__["params"] = old.params  # the parameters' model, made once by the registry
    monkeypatch.setitem(registry._specs, name, new)


def test_a_loss_without_a_per_example_form_trains_alone_and_with_one_is_stacked(monkeypatch):
    model = {"name": "mlp", "depth": 1, "width": 8}
    cfg = Recipe(name="t", data={"name": "teacher", "n_samples": 200}, model=model, train={"loss": "huber"})
    assert ungroupable(cfg) is None
    _swap(monkeypatch, LOSSES, "huber", per_example=None)
    assert "loss 'huber' has no per-member form" in ungroupable(cfg) and group_key(cfg) is None


def test_a_model_is_stacked_when_its_entry_says_so(monkeypatch):
    cfg = _recipe()
    assert ungroupable(cfg) is None
    _swap(monkeypatch, MODELS, "mlp", stacked=False)
    assert "model 'mlp' has no stacked form" in ungroupable(cfg)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_runs_the_stacked_update_its_entry_names(name, monkeypatch):
    params = [_recipe(optimizer=name).train.optimizer] * 2
    flat = torch.zeros(2, 10)
    assert type(build_stacked_optimizer(params, [False, False], flat)) is UPDATES[OPTIMIZERS[name].stacked]
    _swap(monkeypatch, OPTIMIZERS, name, stacked="torch")  # no stacked form: one torch optimizer each
    assert type(build_stacked_optimizer(params, [False, False], flat)) is UPDATES["torch"]


def test_optimizers_group_by_the_update_their_entries_name(monkeypatch):
    assert group_key(_recipe(optimizer="sgd")) == group_key(_recipe(optimizer="momentum"))
    _swap(monkeypatch, OPTIMIZERS, "sgd", stacked="torch")
    assert group_key(_recipe(optimizer="sgd")) != group_key(_recipe(optimizer="momentum"))


@pytest.mark.parametrize("name", list(PENALTIES))
def test_every_penalty_is_its_coefficients_in_the_trainer_and_in_a_group(name):
    params = PENALTIES.parse(name)
    a, b = PENALTIES[name].coefficients(params)
    w = [torch.tensor([[1.0, -2.0], [0.5, 3.0]])]
    expected = a * 6.5 + b * 14.25  # sum|w| = 6.5, sum w^2 = 14.25
    got = penalty_term(params, w)
    assert (got is None and expected == 0) or got.item() == pytest.approx(expected)
    reg = Regularizer([_recipe(regularization={"penalty": params}).train.regularization], torch.zeros(1, 4))
    assert (reg.l1.item(), reg.l2.item()) == pytest.approx((a, b))


def test_a_penalty_with_other_coefficients_changes_both_paths(monkeypatch):
    _swap(monkeypatch, PENALTIES, "l1", coefficients=lambda p: (0.0, 2 * p.strength))
    params = PENALTIES.parse({"name": "l1", "strength": 0.5})
    assert penalty_term(params, [torch.tensor([3.0])]).item() == pytest.approx(9.0)
    reg = Regularizer([_recipe(regularization={"penalty": params}).train.regularization], torch.zeros(1, 4))
    assert (reg.l1.item(), reg.l2.item()) == (0.0, 1.0)


def test_a_pruner_is_told_the_longest_trial_when_its_entry_asks(monkeypatch):
    cfg = Recipe(name="t", data=BLOBS, train={"epochs": 7}, search={"pruner": "hyperband"})
    assert make_pruner(cfg)._max_resource == 7
    _swap(monkeypatch, PRUNERS, "hyperband", takes_max_resource=False)
    assert make_pruner(cfg)._max_resource == "auto"


def test_the_learning_rate_is_left_alone_only_when_the_schedule_entry_says_it_is_constant(monkeypatch):
    constant = _recipe(schedule="constant").train.schedule
    assert lr_is_constant(constant)
    assert not lr_is_constant(
        _recipe(schedule={"name": "constant", "warmup": {"name": "linear"}}).train.schedule
    )
    _swap(monkeypatch, SCHEDULES, "constant", constant=False)
    assert not lr_is_constant(constant)
