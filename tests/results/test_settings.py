"""The settings in which studies differ besides what they searched (sweepnn.results.settings), read
from real recipes, and the rule a searched float is read at (sweepnn.results.values)."""

from __future__ import annotations

import math

import pytest

from sweepnn.recipe.loading import load_text
from sweepnn.results.settings import Searched, differing, frame
from sweepnn.results.values import as_set
from sweepnn.sweep.reading import Stored

BASE = """\
data: {{name: blobs, n_samples: 240, classes: 3{data}}}
model: {{name: mlp, depth: 1, width: 16{model}}}
train: {{epochs: 2, batch_size: {batch}, optimizer: {optimizer}{train}}}
search:
  sampler: {sampler}
  space:
{space}
"""
INIT = "    model.init: [he_normal, xavier_uniform]"


def stored(name: str, *, data="", model="", batch=64, optimizer="{name: adam, lr: 0.01}", train="",
           sampler="random", space=INIT) -> Stored:  # fmt: skip
    text = BASE.format(
        data=data, model=model, batch=batch, optimizer=optimizer, train=train, sampler=sampler, space=space
    )
    return Stored(name, None, load_text(text, f"{name}.yaml", name))  # differing reads the recipe only


def rows(*studies: Stored) -> list[list]:
    return frame(list(studies), differing(list(studies))).values.tolist()


def test_studies_set_alike_have_no_setting_that_differs():
    assert differing([stored("a"), stored("b")]) == []


def test_one_fixed_value_apart_is_the_one_row():
    assert rows(stored("a"), stored("b", batch=32)) == [["train.batch_size", 64, 32]]


def test_an_option_apart_is_its_name_and_the_parameters_both_options_have():
    # adam has betas, momentum has a momentum: those follow from the choice; lr both have
    a = stored("a", optimizer="{name: adam, lr: 0.01, weight_decay: 0.0005}")
    b = stored("b", optimizer="{name: momentum, lr: 0.1, momentum: 0.8}")
    assert rows(a, b) == [
        ["train.optimizer", "adam", "momentum"],
        ["train.optimizer.lr", 0.01, 0.1],
        ["train.optimizer.weight_decay", 0.0005, 0.0],
    ]


def test_searched_in_one_and_fixed_in_the_other_shows_the_search():
    a = stored(
        "a",
        space=f"{INIT}\n    model.dropout: {{low: 0.1, high: 0.5, step: 0.1}}",
    )
    b = stored("b", model=", dropout: 0.2")
    assert rows(a, b) == [["model.dropout", "searched 0.1..0.5 step 0.1", 0.2]]
    (setting,) = differing([a, b])
    assert isinstance(setting.values[0], Searched)


def test_searched_over_other_ranges_differs_and_a_choice_by_either_spelling_is_one_path():
    a = stored(
        "a",
        space=INIT.replace("init", "init.name")
        + "\n    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}",
    )
    b = stored(
        "b",
        space=f"{INIT}\n    train.optimizer.lr: {{low: 1e-4, high: 1e-1, log: true}}",
    )
    assert rows(a, b) == [["train.optimizer.lr", "searched 0.001..0.1 log", "searched 1.00e-04..0.1 log"]]


def test_a_section_set_in_one_only_is_its_whole_setting():
    a = stored("a", data=", augment: {noise: {std: 0.1}}", train=", early_stopping: {patience: 2}")
    b = stored("b")
    assert rows(a, b) == [
        ["data.augment.noise", "noise(std=0.1)", "n/a"],
        ["train.early_stopping", "metric=val_loss, min_delta=0.0, patience=2, restore_best", "n/a"],
    ]


def test_search_settings_are_settings_too_and_several_studies_get_a_column_each():
    got = rows(stored("a"), stored("b", sampler="tpe"), stored("c"))
    assert got == [["search.sampler", "random", "tpe", "random"]]


def test_a_parameter_searched_under_an_option_the_base_does_not_choose_is_listed():
    space = "    train.optimizer.name: [adam, momentum]\n    train.optimizer.momentum: [0.8, 0.9]"
    a = stored("a", space=space)
    b = stored("b", space="    train.optimizer.name: [adam, momentum]")
    assert rows(a, b) == [["train.optimizer.momentum", "searched: 0.8, 0.9", "n/a"]]


@pytest.mark.parametrize(
    ("stored_value", "written"),
    [
        (0.1 + 0.2, 0.3),  # Optuna's low + k * step
        (0.1 + 5 * 0.1, 0.6),
        (3 * 1e-4, 3e-4),
        (0.0030215487654321234, 0.00302154876543),  # a log range: 12 digits kept
        (1e-20, 1e-20),
        (123456.0, 123456.0),
    ],
)
def test_a_searched_float_reads_as_set(stored_value, written):
    assert as_set(stored_value) == written
    assert repr(as_set(stored_value)) == repr(written)


def test_what_is_not_a_finite_float_is_left_alone():
    for v in (3, True, "adam", {"name": "sgd", "lr": 0.1 + 0.2}, None, math.inf):
        assert as_set(v) is v
    assert math.isnan(as_set(math.nan))


def test_a_setting_left_to_its_default_is_the_one_in_force():
    # no pruner named is the median pruner for one objective: alike; `none` is another pruner
    unset = stored("a")
    median = stored("b", sampler="random\n  pruner: median")
    off = stored("c", sampler="random\n  pruner: none")
    assert differing([unset, median]) == []
    assert rows(unset, off) == [["search.pruner", "median", "none"]]


def test_one_objective_and_two_are_written_alike():
    one = stored("a", sampler="random\n  pruner: none")
    two = stored("b", sampler="random\n  pruner: none\n  objective: [val_accuracy, val_loss]")
    assert rows(one, two) == [
        ["search.objective", "val_accuracy (maximize)", "val_accuracy (maximize), val_loss (minimize)"]
    ]
