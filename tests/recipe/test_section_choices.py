"""A section searched as whole settings: `data.augment: [none, {crop: {padding: 4}}, {flip: true}]`.

Each choice is checked as the section is in a recipe (located inside the choice), replaces the base
recipe's section whole, reaches Optuna as its JSON text and comes back as written; grids, seed repeats,
stacked groups, the best trial's recipe and the tables all take it. The sweeps here are real, on 8x8
digits and generated blobs, a few seconds each.
"""

from __future__ import annotations

import json

import pytest
import torch

from sweepnn import record
from sweepnn.errors import RecipeError
from sweepnn.recipe.budget import encode_choice, grid_points
from sweepnn.recipe.loading import load_text
from sweepnn.recipe.space import apply, plan, sample
from sweepnn.results.analysis import label
from sweepnn.results.tables import trial_recipe, trials_frame
from sweepnn.sweep.opening import open_study
from sweepnn.sweep.storage import open_storage
from sweepnn.sweep.study import run_sweep

CPU = torch.device("cpu")
CHOICES = "[none, {crop: {padding: 1}}, {flip: true}, {crop: {padding: 1}, flip: true}]"

DIGITS = f"""\
data: {{name: digits, limit: 160, augment: {{rotate: {{degrees: 5}}}}}}
model: {{name: cnn, channels: [4]}}
train: {{epochs: 2, batch_size: 32, seed: 3}}
search:
  sampler: grid
  pruner: none
  test_top: 0
  save_top: 0
  space:
    data.augment: {CHOICES}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(RecipeError) as e:
        load_text(text, "r.yaml", "r")
    return [str(p) for p in e.value.problems]


def space(entries: str, data: str = "{name: digits}", model: str = "{name: cnn}") -> str:
    return f"data: {data}\nmodel: {model}\nsearch:\n  space:\n" + "".join(
        f"    {line}\n" for line in entries.splitlines()
    )


class Last:
    """Suggest that always takes the last choice (and a range's low end)."""

    def categorical(self, path, choices):
        return choices[-1]

    def float(self, path, low, high, *, log, step):
        return low

    def int(self, path, low, high, *, log, step):
        return low


class First(Last):
    def categorical(self, path, choices):
        return choices[0]


class Silent:
    def __getattr__(self, name):
        return lambda *a, **k: None


def sweep(text: str, folder):
    recipe = load_text(text, "r.yaml", "r")
    study, _ = open_study(recipe, open_storage(None, folder))
    run_sweep(recipe, study, CPU, Silent())
    return recipe, study


# ---- the space as written ---------------------------------------------------------------------------


def test_a_section_is_one_choice_among_whole_settings():
    recipe = load_text(DIGITS, "r.yaml", "r")
    (p,) = plan(recipe.search.space)
    assert (p.kind, p.section, p.selector, p.node) == ("categorical", True, True, "data.augment")
    cfg, chosen = sample(recipe, Last())
    assert chosen == {"data.augment": {"crop": {"padding": 1}, "flip": True}}
    a = cfg.data.augment
    assert (a.crop.padding, a.flip.p) == (1, 0.5)
    assert a.rotate is None  # the base recipe's rotation is replaced, not merged into
    cfg, chosen = sample(recipe, First())
    assert chosen == {"data.augment": "none"} and not any(cfg.data.augment.model_dump().values())
    assert apply(recipe, chosen) == cfg


def test_none_is_the_defaults_or_off_and_an_empty_mapping_the_defaults():
    base = (
        "data: {name: blobs}\n"
        "train:\n  early_stopping: {patience: 2}\n  regularization: {clip_norm: 1.0, label_smoothing: 0.1}\n"
    )
    recipe = load_text(
        base + "search:\n  space:\n    train.early_stopping: [none, {}, {patience: 7}]\n"
        "    train.regularization: [none, {clip_value: 0.5}]\n",
        "r.yaml",
        "r",
    )
    off = apply(recipe, {"train.early_stopping": "none", "train.regularization": "none"})
    assert off.train.early_stopping is None  # off: a section that is off unless given
    assert off.train.regularization == type(off.train.regularization)()  # its defaults
    on = apply(recipe, {"train.early_stopping": {}, "train.regularization": {"clip_value": 0.5}})
    assert on.train.early_stopping.patience == 5  # {}: on, with every default (not the base's 2)
    assert (on.train.regularization.clip_value, on.train.regularization.clip_norm) == (0.5, None)
    assert apply(recipe, {"train.early_stopping": {"patience": 7}}).train.early_stopping.patience == 7


def test_each_choice_is_checked_as_the_section_is_in_a_recipe():
    text = space(
        "data.augment: [none, {crop: {padding: 400}}, {flp: true}, {noise: {st: 1}}, crop, {rotate: 3}]"
    )
    where = "r.yaml:5:5: search.space['data.augment']"
    assert problems(text) == [
        f"{where}.choices[1].crop.padding: must be at most 64 (got 400)",
        f"{where}.choices[2].flp: unknown key 'flp'; did you mean 'flip'? valid keys: crop, flip, noise,"
        " rotate, shift, translate",
        f"{where}.choices[3].noise.st: unknown key 'st'; did you mean 'std'? valid keys: std",
        f"{where}.choices[4]: a choice of data.augment is a whole setting: a mapping of its fields (crop,"
        " flip, noise, rotate, shift, translate), or none for its defaults (got the text 'crop')",
        f"{where}.choices[5].rotate: expected a mapping (key: value, ...), got 3",
    ]
    (msg,) = problems(space("train.regularization: [none, {penalty: l3}]", data="{name: blobs}", model="{}"))
    assert msg.endswith(".choices[1].penalty: unknown penalty 'l3'; valid: elastic_net, l1, l2, none")
    (msg,) = problems(space("train.early_stopping: [{metric: val_los}]", data="{name: blobs}", model="{}"))
    assert "unknown metric 'val_los'; did you mean 'val_loss'?" in msg


def test_a_choice_that_cannot_apply_to_the_data_is_caught_as_a_fixed_one_is():
    # shift is for 1-D signals: refused on digits as `data: {augment: {shift: true}}` is
    (fixed,) = problems("data: {name: digits, augment: {shift: true}}\nmodel: {name: cnn}\n")
    (searched,) = problems(space("data.augment: [none, {shift: true}, {crop: {padding: 1}}]"))
    why = "shift augments signal inputs, but digits is image data; for it use: crop, flip, noise, rotate,"
    why += " translate"
    assert fixed.endswith(why) and searched.endswith(why)
    assert "search.space['data.augment'].choices[1]: data.augment = {'shift': True}: " in searched
    (metric,) = problems(space("train.early_stopping: [none, {metric: val_r2}]"))
    assert "choices[1]: train.early_stopping = {'metric': 'val_r2'}: val_r2 is not recorded" in metric


def test_ranges_duplicates_paths_inside_and_the_top_sections_are_refused():
    where = "r.yaml:5:5: search.space['data.augment']"
    assert problems(space("data.augment: {low: 0, high: 1}")) == [
        f"{where}: 'data.augment' is a section: list whole settings as choices, e.g."
        " data.augment: [none, {crop: ...}]"
    ]
    # {} and none are both the defaults; crop's default padding is 4: two choices would train one setting
    assert problems(space("data.augment: [none, {}, {crop: {}}, {crop: {padding: 4}}]")) == [
        f"{where}.choices[1]: the same setting as choices[0] ('none'); keep one",
        f"{where}.choices[3]: the same setting as choices[2] ({{'crop': {{}}}}); keep one",
    ]
    assert problems(space("data.augment: [none, {flip: true}]\ndata.augment.crop.padding: [1, 2]")) == [
        "r.yaml:6:5: search.space['data.augment.crop.padding']: 'data.augment.crop.padding' is inside"
        " 'data.augment', which is searched as whole settings: give crop.padding in those settings instead"
    ]
    (top,) = problems(space("train: [{epochs: 3}]"))
    assert "'train' is a section, not a value; search a field in it, e.g. 'train.epochs'" in top


# ---- sampling, recording, applying back ------------------------------------------------------------


def test_a_grid_walks_every_setting_and_each_point_applies_back():
    recipe = load_text(
        DIGITS.replace("    data.augment:", "    train.batch_size: [16, 32]\n    data.augment:"),
        "r.yaml",
        "r",
    )
    points = grid_points(recipe)
    assert len(points) == 8
    choices = recipe.search.space["data.augment"].choices
    # what Optuna's grid holds: plain values, a mapping as its JSON text
    assert {pt["data.augment"] for pt in points} == {encode_choice(c) for c in choices}
    assert all(isinstance(pt["data.augment"], str) for pt in points)
    settings = {apply(recipe, pt).data.augment for pt in points}
    assert len(settings) == 4  # the JSON text applies back to the setting it stands for
    # as recorded (the choice itself) and as Optuna keeps it (its text): one configuration
    chosen = {"data.augment": choices[3], "train.batch_size": 16}
    assert apply(recipe, chosen) == apply(recipe, {**chosen, "data.augment": json.dumps(choices[3])})


def test_labels_name_what_a_setting_switches_on():
    assert label("none") == "none" and label({}) == "defaults"
    assert label({"flip": True, "crop": {"padding": 4}}) == "crop(padding=4), flip"
    # a whole section as a recipe spells it out (every entry, each named) reads as the choice does
    from sweepnn.options.augment import Augment

    dumped = Augment.model_validate({"crop": {"padding": 4}}).model_dump(mode="json")
    assert label(dumped) == "crop(padding=4)" and label(Augment().model_dump(mode="json")) == "none"
    assert label({"penalty": {"name": "l2", "strength": 0.001}, "clip_norm": 1.0}) == (
        "clip_norm=1.0, penalty=l2(strength=0.001)"
    )
    assert (
        label({"name": "cosine", "warmup": {"name": "linear", "epochs": 2}})
        == "cosine(warmup=linear(epochs=2))"
    )


def test_a_fixed_path_under_a_searched_section_is_read_through_the_chosen_setting():
    from sweepnn.results.analysis import NA, PathValues

    recipe = load_text(DIGITS, "r.yaml", "r")
    values = PathValues(recipe, ["data.augment", "data.augment.crop", "data.augment.rotate"])
    crop = values.of({"data.augment": {"crop": {"padding": 1}}})
    assert crop == {"data.augment": "crop(padding=1)", "data.augment.crop": "crop", "data.augment.rotate": NA}
    # none: the base recipe's rotation is gone in that trial, so it is not read from the base either
    assert values.of({"data.augment": "none"})["data.augment.rotate"] == NA


# ---- real sweeps -----------------------------------------------------------------------------------


def test_a_grid_sweep_trains_each_setting_and_the_best_is_a_recipe_again(tmp_path):
    recipe, study = sweep(DIGITS, tmp_path)
    trials = study.get_trials()
    assert len(trials) == 4 and all(t.state.name == "COMPLETE" for t in trials)
    choices = recipe.search.space["data.augment"].choices
    recorded = [t.user_attrs[record.PARAMS]["data.augment"] for t in trials]
    assert sorted(map(json.dumps, recorded)) == sorted(map(json.dumps, choices))  # each once, as written
    assert {t.params["data.augment"] for t in trials} == {encode_choice(c) for c in choices}
    # one seed for all: the curves differ only by the augmentation each setting applied
    losses = {
        json.dumps(t.user_attrs[record.PARAMS]["data.augment"]): t.user_attrs[record.HISTORY][0]["train_loss"]
        for t in trials
    }
    assert len(set(losses.values())) == 4
    frame = trials_frame(study, recipe)
    assert set(frame["data.augment"].map(label)) == {
        "none",
        "crop(padding=1)",
        "flip",
        "crop(padding=1), flip",
    }
    for t in trials:  # each trial written back as a recipe trains its own setting
        again = trial_recipe(study, recipe, t.number)
        assert again.data.augment == apply(recipe, t.user_attrs[record.PARAMS]).data.augment
        assert not again.search.space
    flipped = next(t for t in trials if t.user_attrs[record.PARAMS]["data.augment"] == {"flip": True})
    again = trial_recipe(study, recipe, flipped.number)
    assert (again.data.augment.flip.p, again.data.augment.rotate) == (0.5, None)


def test_the_none_setting_trains_as_the_recipe_without_augmentation(tmp_path):
    _, searched = sweep(DIGITS.replace(CHOICES, "[none, {flip: true}]"), tmp_path / "a")
    plain = DIGITS.replace(", augment: {rotate: {degrees: 5}}", "").replace(
        f"  space:\n    data.augment: {CHOICES}\n", ""
    )
    _, alone = sweep(plain, tmp_path / "b")
    none = next(t for t in searched.get_trials() if t.user_attrs[record.PARAMS]["data.augment"] == "none")

    def curve(t):
        return [(e["train_loss"], e["val_loss"]) for e in t.user_attrs[record.HISTORY]]

    assert curve(none) == curve(alone.get_trials()[0])  # none: the base's rotation is gone too
    flip = next(t for t in searched.get_trials() if t is not none)
    assert curve(flip) != curve(none)


def test_seed_repeats_train_every_setting_with_each_seed(tmp_path):
    text = DIGITS.replace(CHOICES, "[none, {crop: {padding: 1}}]").replace(
        "  test_top: 0\n", "  test_top: 0\n  repeats: 2\n"
    )
    _, study = sweep(text, tmp_path)
    trials = study.get_trials()
    assert len(trials) == 2 and all(len(t.user_attrs[record.REPEATS]) == 2 for t in trials)
    assert trials[0].user_attrs[record.REPEATS] != trials[1].user_attrs[record.REPEATS]


def test_stacked_groups_stack_the_plain_trials_and_train_augmented_ones_alone(tmp_path):
    text = """\
data: {name: blobs, n_samples: 240, classes: 3}
model: {name: mlp, depth: 1, width: 16}
train: {epochs: 2, batch_size: 32}
search:
  sampler: grid
  pruner: none
  test_top: 0
  save_top: 0
  group_size: 4
  space:
    train.optimizer.lr: [0.01, 0.03]
    data.augment: [none, {noise: {std: 0.1}}]
"""
    _, study = sweep(text, tmp_path)
    trials = study.get_trials()
    assert len(trials) == 4 and all(t.state.name == "COMPLETE" for t in trials)
    for t in trials:
        plain = t.user_attrs[record.PARAMS]["data.augment"] == "none"
        # noise draws from each trial's own generator between batches: such a trial trains alone
        assert t.user_attrs.get("group_size", 1) == (2 if plain else 1), t.user_attrs[record.PARAMS]
