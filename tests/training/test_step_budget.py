"""`train.steps`: a run's length in optimizer steps. Whole epochs while they fit, then a last partial
epoch that is evaluated and recorded like the others; the schedule's length, warmup, the stacked path
and the pruner's top rung follow the steps, and a recipe without them trains as it always did.

Every run here is the real trainer on small generated data: spirals of 400 examples leave 319 for
training (a fifth validates), 5 steps of 64 a epoch (the last batch 63).
"""

from __future__ import annotations

import csv
import math

import pytest
import torch

from sweepnn.options.losses import LOSSES
from sweepnn.options.schedules import lr_factor
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.loading import load_text
from sweepnn.recipe.variants import smoke, to_yaml
from sweepnn.sweep.samplers import longest_epochs
from sweepnn.training import steps
from sweepnn.training.data import load_data, train_size
from sweepnn.training.stacked.train import group_key, train_group
from sweepnn.training.trainer import evaluate, train

torch.set_num_threads(1)

CPU = torch.device("cpu")
SPIRALS = {"name": "spirals", "n_samples": 400}
PER_EPOCH = 5  # 319 training examples in batches of 64
MLP = {"name": "mlp", "depth": 1, "width": 16}


def recipe(**train) -> Recipe:
    return Recipe(name="s", data=SPIRALS, model=MLP, train={"batch_size": 64, **train})


def without_time(history: list[dict]) -> list[dict]:
    """An epoch's record but its wall-clock time: two runs of one configuration differ only there."""
    return [{k: v for k, v in h.items() if k != "train_time"} for h in history]


@pytest.fixture(scope="module")
def data():
    d = load_data(recipe().data, CPU)
    assert len(d.x_train) == 319 and steps.cut(recipe().train, 319)[1] == PER_EPOCH
    return d


def test_steps_that_fill_whole_epochs_train_exactly_as_those_epochs(data):
    """The pin that a budget in steps changes nothing when it is a whole number of epochs: the same
    curve, diagnostics, final metrics and weights, bit for bit, under a schedule with warmup."""
    schedule = {"name": "cosine", "warmup": {"name": "linear", "epochs": 1}}
    by_epochs = train(recipe(epochs=3, schedule=schedule), CPU, data=data)
    by_steps = train(recipe(steps=3 * PER_EPOCH, schedule=schedule), CPU, data=data)
    assert len(by_epochs.history) == 3
    assert without_time(by_steps.history) == without_time(by_epochs.history)
    assert {k: v for k, v in by_steps.metrics.items() if k != "train_time"} == {
        k: v for k, v in by_epochs.metrics.items() if k != "train_time"
    }
    weights = by_steps.model.state_dict()
    for name, a in by_epochs.model.state_dict().items():
        assert torch.equal(a, weights[name]), name


def test_a_budget_that_ends_inside_an_epoch_records_that_partial_epoch(data):
    whole = train(recipe(epochs=3), CPU, data=data)
    partial = train(recipe(steps=12), CPU, data=data)  # 5 + 5 + 2
    assert [h["epoch"] for h in partial.history] == [1, 2, 3]
    # a constant rate: the first two epochs are the epochs run's own, the third stops after 2 batches
    assert without_time(partial.history[:2]) == without_time(whole.history[:2])
    last, full = partial.history[2], whole.history[2]
    assert last["train_loss"] != full["train_loss"] and last["val_loss"] != full["val_loss"]
    assert math.isfinite(last["val_accuracy"]) and 0 <= last["train_accuracy"] <= 1
    assert partial.metrics["epoch"] == 3


def test_a_partial_epochs_training_figures_are_over_the_examples_it_drew(data):
    """With batches in order and a rate too small to move the weights, the last epoch's 2 batches are
    the first 128 examples: its training loss and accuracy are theirs, not diluted over all 319."""
    cfg = recipe(steps=12, shuffle=False, optimizer={"name": "sgd", "lr": 1e-12}, diagnostics=False)
    result = train(cfg, CPU, data=data)
    loss = LOSSES.parse("cross_entropy")
    drawn = evaluate(result.model, data.x_train[:128], data.y_train[:128], "classification", loss)
    assert result.history[-1]["train_loss"] == pytest.approx(drawn[0], rel=1e-6)
    assert result.history[-1]["train_accuracy"] == pytest.approx(drawn[1], abs=1e-12)


def test_the_schedule_ends_at_the_last_of_the_steps(data):
    """A linear decay to 0 over N steps sets lr * 1/N at the run's last step (N - 1): the recorded
    rate proves both that the schedule's length is N and that exactly N steps ran."""
    lr, n = 0.01, 13
    result = train(
        recipe(steps=n, optimizer={"name": "sgd", "lr": lr}, schedule={"name": "linear"}), CPU, data=data
    )
    assert len(result.history) == math.ceil(n / PER_EPOCH)
    assert result.history[-1]["lr"] == pytest.approx(lr / n, rel=1e-12)
    assert result.history[0]["lr"] == pytest.approx(lr * (1 - (PER_EPOCH - 1) / n), rel=1e-12)


def test_a_warmup_in_epochs_is_counted_in_the_data_steps_per_epoch(data):
    """warmup.epochs 2 is 10 steps here: the rate recorded after epoch 1 (step 4) is half way up."""
    cfg = recipe(
        steps=17,
        optimizer={"name": "sgd", "lr": 0.1},
        schedule={"name": "constant", "warmup": {"name": "linear", "epochs": 2}},
    )
    result = train(cfg, CPU, data=data)
    assert [round(h["lr"], 12) for h in result.history] == [0.05, 0.1, 0.1, 0.1]
    assert lr_factor(cfg.train.schedule, 4, 17, PER_EPOCH) == pytest.approx(0.5)


def test_a_stacked_group_trains_a_step_budget_as_each_member_alone(data):
    cfgs = [
        recipe(steps=12, seed=0, optimizer={"name": "sgd", "lr": 0.1}, schedule="cosine"),
        recipe(steps=12, seed=1, optimizer={"name": "momentum", "lr": 0.05}, schedule={"name": "linear"}),
    ]
    assert group_key(cfgs[0]) == group_key(cfgs[1]) is not None
    assert group_key(recipe(steps=12)) != group_key(recipe(steps=13)) != group_key(recipe(epochs=3))
    for grouped, cfg in zip(train_group(cfgs, CPU, data=data), cfgs, strict=True):
        alone = train(cfg, CPU, data=data)
        assert [h["epoch"] for h in grouped.history] == [1, 2, 3]
        for g, a in zip(grouped.history, alone.history, strict=True):
            for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr"):
                assert g[key] == pytest.approx(a[key], rel=1e-5, abs=1e-6), key


def test_the_pruners_top_rung_is_the_longest_trials_epochs(data):
    base = {"name": "s", "data": SPIRALS, "model": MLP}
    searched = Recipe(
        **base,
        train={"steps": 7, "batch_size": 64},
        search={"space": {"train.steps": [7, 23], "train.batch_size": [32, 64]}},
    )
    # 23 steps of the largest batch: 5 an epoch, so 5 epochs (the smaller batch takes 10 an epoch)
    assert longest_epochs(searched) == 5
    longest = train(recipe(steps=23), CPU, data=data)
    assert len(longest.history) == longest_epochs(searched)
    assert longest_epochs(Recipe(**base, train={"epochs": 4})) == 4  # in epochs, as before
    assert train_size(searched.data) == len(data.x_train)


def test_without_steps_a_recipe_dumps_as_before_and_with_them_reads_back():
    """The dump is what a study's fingerprint digests: a recipe without steps must not change it."""
    assert "steps" not in recipe(epochs=3).model_dump(mode="json")["train"]
    cfg = load_text("data: {name: spirals}\ntrain: {steps: 500}\n", "r.yaml", "r")
    text = to_yaml(cfg)
    assert "steps: 500" in text and "epochs" not in text  # epochs beside steps is refused on reading
    assert load_text(text, "again.yaml", "r") == cfg
    shrunk = smoke(load_text("train: {steps: 500}\nsearch: {space: {train.steps: [5, 9]}}\n", "r.yaml", "r"))
    assert shrunk.train.steps is None and shrunk.train.epochs == 1 and not shrunk.search.space


def test_a_searched_step_budget_runs_from_the_command_line(cli, tmp_path):
    (tmp_path / "r.yaml").write_text(
        "data: {name: spirals, n_samples: 400}\n"
        "model: {name: mlp, depth: 1, width: 8}\n"
        "train: {batch_size: 64}\n"
        "search:\n  sampler: grid\n  pruner: none\n  space:\n    train.steps: [3, 12]\n"
    )
    code, _out, err = cli("run", "r.yaml", "--device", "cpu", "--quiet")
    assert code == 0, err
    with open(tmp_path / "results" / "r" / "trials.csv", newline="") as f:
        rows = {int(float(r["train.steps"])): r for r in csv.DictReader(f)}
    assert set(rows) == {3, 12}
    assert int(float(rows[3]["epochs"])) == 1 and int(float(rows[12]["epochs"])) == 3
