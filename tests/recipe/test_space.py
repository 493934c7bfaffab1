"""The search space: dotted paths, conditional sampling, and how a trial replaces the base recipe."""

from __future__ import annotations

import random

import pytest

from sweepnn.options.optimizers import OPTIMIZERS
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.loading import load_text
from sweepnn.recipe.paths import all_paths, resolve, set_path
from sweepnn.recipe.space import apply, plan, sample, short_names


class RandomSuggest:
    """A seeded implementation of the Suggest protocol (what Optuna's trial provides in a sweep)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.asked: list[str] = []

    def float(self, path, low, high, *, log, step):
        self.asked.append(path)
        return self.rng.uniform(low, high)

    def int(self, path, low, high, *, log, step):
        self.asked.append(path)
        return self.rng.randrange(low, high + 1, step)

    def categorical(self, path, choices):
        self.asked.append(path)
        return self.rng.choice(choices)


CONDITIONAL = """\
train:
  optimizer: {name: adam, lr: 0.01, beta1: 0.8}
  schedule: {name: cosine}
search:
  space:
    train.optimizer.momentum: {low: 0.5, high: 0.99}
    train.optimizer.beta2: {low: 0.9, high: 0.999}
    train.optimizer.name: [sgd, momentum, nesterov, adam, rmsprop]
    train.schedule.warmup.epochs: {low: 0.5, high: 2}
    train.schedule.warmup: [none, linear]
    model.depth: {low: 1, high: 4}
"""


def test_conditional_parameters_are_sampled_only_where_they_apply():
    recipe = load_text(CONDITIONAL, "r.yaml", "r")
    seen = set()
    for seed in range(60):
        s = RandomSuggest(seed)
        cfg, chosen = sample(recipe, s)
        opt = cfg.train.optimizer
        seen.add(opt.name)
        takes_momentum = "momentum" in OPTIMIZERS[opt.name].params.model_fields
        assert ("train.optimizer.momentum" in chosen) == takes_momentum
        assert ("train.optimizer.beta2" in chosen) == (opt.name == "adam")
        assert ("train.schedule.warmup.epochs" in chosen) == (cfg.train.schedule.warmup.name == "linear")
        if takes_momentum:
            assert opt.momentum == chosen["train.optimizer.momentum"]
        # a choice is always asked before the parameters under it
        assert s.asked.index("train.optimizer.name") < min(
            (s.asked.index(p) for p in ("train.optimizer.momentum", "train.optimizer.beta2") if p in s.asked),
            default=99,
        )
        assert 1 <= cfg.model.depth <= 4 and isinstance(cfg.model.depth, int)
    assert seen == {"sgd", "momentum", "nesterov", "adam", "rmsprop"}


def test_switching_an_option_keeps_only_the_parameters_it_takes():
    raw = Recipe(name="x", train={"optimizer": {"name": "adam", "lr": 0.05, "beta1": 0.8}}).model_dump()
    set_path(raw, "train.optimizer.name", "momentum")
    assert raw["train"]["optimizer"] == {"name": "momentum", "lr": 0.05, "weight_decay": 0.0}
    set_path(raw, "train.optimizer", "adam")  # the node path is the same choice
    assert raw["train"]["optimizer"]["name"] == "adam" and "beta1" not in raw["train"]["optimizer"]
    set_path(raw, "model.activation", {"name": "leaky_relu", "slope": 0.3})
    assert Recipe.model_validate(raw).model.activation.slope == 0.3


def test_a_trial_is_the_base_recipe_with_its_paths_replaced():
    recipe = load_text(CONDITIONAL, "r.yaml", "r")
    cfg, chosen = sample(recipe, RandomSuggest(3))
    assert cfg.train.schedule.name == "cosine"  # not searched: as in the base
    assert apply(recipe, chosen) == cfg  # replaying the values gives the same configuration


def test_plan_orders_choices_before_their_parameters():
    recipe = load_text(CONDITIONAL, "r.yaml", "r")
    order = [p.path for p in plan(recipe.search.space)]
    assert order.index("train.optimizer.name") < order.index("train.optimizer.momentum")
    assert order.index("train.schedule.warmup") < order.index("train.schedule.warmup.epochs")
    kinds = {p.path: p.kind for p in plan(recipe.search.space)}
    assert kinds["model.depth"] == "int" and kinds["train.optimizer.beta2"] == "float"


@pytest.mark.parametrize(
    ("path", "exists"),
    [
        ("train.optimizer.lr", True),
        ("train.optimizer.centered", True),
        ("train.optimizer.name", True),
        ("model.activation.slope", True),
        ("model.activation", True),
        ("train.optimizer.lrr", False),
        ("model.depth.x", False),
        ("train.regularization.clip_norm", True),
    ],
)
def test_resolve(path, exists):
    assert bool(resolve(path)) == exists
    assert (path in all_paths()) == exists


def test_short_names_disambiguate():
    names = short_names(
        ["train.optimizer.name", "train.optimizer.momentum", "model.norm.momentum", "model.depth"]
    )
    assert names == {
        "train.optimizer.name": "optimizer",
        "train.optimizer.momentum": "optimizer.momentum",
        "model.norm.momentum": "norm.momentum",
        "model.depth": "depth",
    }


def test_a_switched_option_gets_its_own_defaults_not_the_old_ones():
    base = load_text(
        "train:\n  optimizer: {name: adamw, lr: 0.005}\nsearch:\n  space:\n    train.optimizer.name: [sgd]\n"
        "model:\n  name: mlp\n  norm: none\n",
        "r.yaml",
        "r",
    )
    cfg, _ = sample(base, RandomSuggest(0))
    opt = cfg.train.optimizer
    # lr was written by the author and sgd takes it; weight_decay was only adamw's default (0.01)
    assert (opt.name, opt.lr, opt.weight_decay) == ("sgd", 0.005, 0.0)
    switched = load_text("search:\n  space:\n    model.name: [cnn]\n", "r.yaml", "r")
    cfg, _ = sample(switched, RandomSuggest(0))
    assert cfg.model.name == "cnn" and cfg.model.norm.name == "batchnorm"  # cnn's default, not mlp's none


def test_a_parameter_of_a_default_option_applies_only_when_that_option_is_in_force():
    # optimizer left to its default (adam); the search switches it on some trials only
    base = load_text(
        "search:\n  space:\n    train.optimizer.name: [adam, momentum]\n"
        "    train.optimizer.momentum: [0.5]\n",
        "r.yaml",
        "r",
    )
    for seed in range(12):
        cfg, chosen = sample(base, RandomSuggest(seed))
        assert ("train.optimizer.momentum" in chosen) == (cfg.train.optimizer.name == "momentum")
