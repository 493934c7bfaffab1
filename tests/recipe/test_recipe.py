"""Loading recipes: the typed tree, YAML quirks, and errors that name file, line, path and choices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sweepnn.errors import InputError, RecipeError
from sweepnn.recipe.config import Recipe, recipe_schema
from sweepnn.recipe.loading import load, load_text
from sweepnn.recipe.variants import override, smoke, to_yaml
from sweepnn.recipe.yaml_reading import parse_yaml

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))

FIVE_MISTAKES = """\
data:
  name: spirals
model:
  depth: 3
  activaton: relu
train:
  optimizer:
    name: adm
    lr: 1e-3
search:
  space:
    train.optimizer.lr: {low: 0.1, high: 0.01, log: true}
    model.widht: [64, 128]
    model.dropout: {low: 0.0, high: 0.5, step: 0.15}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(RecipeError) as e:
        load_text(text, "r.yaml", default_name="r")
    return [str(p) for p in e.value.problems]


def test_five_mistakes_are_all_reported_with_line_and_path():
    assert problems(FIVE_MISTAKES) == [
        "r.yaml:5:3: model.activaton: unknown key 'activaton'; did you mean 'activation'? valid keys:"
        " activation, depth, dropout, init, norm, norm_position, width, widths",
        "r.yaml:8:5: train.optimizer.name: unknown optimizer 'adm'; did you mean 'adam'? valid: adagrad,"
        " adam, adamw, momentum, nadam, nesterov, radam, rmsprop, sgd",
        "r.yaml:12:5: search.space['train.optimizer.lr']: low (0.1) is greater than high (0.01)",
        "r.yaml:13:5: search.space['model.widht']: 'model.widht' names no field of the recipe;"
        " did you mean 'model.width'?",
        "r.yaml:14:5: search.space['model.dropout']: step 0.15 does not divide the range 0.0..0.5;"
        " e.g. high: 0.45 fits",
    ]


def test_yaml_syntax_error_has_line_and_column():
    (p,) = problems("data:\n  name: [spirals\nmodel: x\n")
    assert p.startswith("r.yaml:3:6: YAML syntax error:")


def test_duplicate_key_is_an_error():
    (p,) = problems("train:\n  epochs: 3\n  epochs: 4\n")
    assert p == "r.yaml:3:3: train.epochs: key given twice"


def test_a_duplicate_key_does_not_hide_the_other_problems():
    assert problems("train:\n  epochs: 3\n  epochs: 4\nmodel: {activaton: relu}\n") == [
        "r.yaml:3:3: train.epochs: key given twice",
        "r.yaml:4:9: model.activaton: unknown key 'activaton'; did you mean 'activation'? valid keys:"
        " activation, depth, dropout, init, norm, norm_position, width, widths",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("? [a, b]\n: 1\n", "r.yaml:1:3: a key must be a name, not ['a', 'b']"),
        ("model: {[1]: 2}\n", "r.yaml:1:9: model: a key must be a name, not [1]"),
        (
            "search:\n  space:\n    model.width: {low: 1, high: 1e400}\n",
            "r.yaml:3:27: search.space['model.width'].high: must be a finite number (got inf)",
        ),
        (
            "train: {optimizer: {name: adam, lr: .inf}}\n",
            "r.yaml:1:33: train.optimizer.lr: must be a finite number (got inf)",
        ),
        (
            "search:\n  space:\n    train.optimizer.lr: {low: 0.1, hgh: 2}\n",
            "r.yaml:3:36: search.space['train.optimizer.lr'].hgh: unknown key 'hgh'; did you mean 'high'?"
            " valid keys: choices, high, log, low, step",
        ),
        (
            "serach: {}\n",
            "r.yaml:1:1: serach: unknown key 'serach'; did you mean 'search'? valid keys: code, data,"
            " description, model, name, search, train",
        ),
        (
            "search:\n  space:\n    train.optimizer: [{name: sgd, momentum: 0.9}]\n",
            "r.yaml:3:5: search.space['train.optimizer'].choices[0]: choice {'name': 'sgd', 'momentum': 0.9}"
            " is not valid for train.optimizer: unknown key 'momentum'; valid keys: lr, weight_decay",
        ),
        (
            "search:\n  space:\n    train.optimizer: [{name: adamw, lr: -1}]\n",
            "r.yaml:3:5: search.space['train.optimizer'].choices[0]: choice {'name': 'adamw', 'lr': -1}"
            " is not valid for train.optimizer: lr: must be greater than 0 (got -1)",
        ),
        (
            "search:\n  space:\n    model.activation: [{name: leaky_relu, negative_slope: 0.3}]\n",
            "r.yaml:3:5: search.space['model.activation'].choices[0]: choice {'name': 'leaky_relu',"
            " 'negative_slope': 0.3} is not valid for model.activation: unknown key 'negative_slope';"
            " valid keys: slope",
        ),
    ],
)
def test_odd_yaml_and_nested_mistakes_are_located_errors(text, message):
    assert problems(text) == [message]


@pytest.mark.parametrize("text", ["-e5", ".e5", "+e5", "e5"])
def test_exponents_without_a_mantissa_stay_text(text):
    assert load_text(f"description: {text}\n", "r.yaml", "r").description == text


@pytest.mark.parametrize("text", ["lr: 1e-3", "lr: '1e-3'", "lr: 1.0e-3", "lr: 0.001"])
def test_exponent_floats_are_numbers(text):
    r = load_text(f"train:\n  optimizer: {{name: sgd, {text}}}\n", "r.yaml", "r")
    assert r.train.optimizer.lr == pytest.approx(1e-3)


def test_search_bounds_in_exponent_form_are_numbers():
    r = load_text(
        "search:\n  space:\n    train.optimizer.lr: {low: 1e-4, high: 1e-1, log: true}\n", "r.yaml", "r"
    )
    assert r.search.space["train.optimizer.lr"].low == pytest.approx(1e-4)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        (
            "model.depth: {low: 1, high: 4.5}",
            "model.depth is an integer; high must be a whole number (got 4.5)",
        ),
        ("train.optimizer.lr: {low: 0, high: 1, log: true}", "log scale needs low > 0 (got low=0)"),
        ("model.activation: []", "choices is empty; list at least one value"),
        (
            "model.dropout: {low: 0.0, high: 1.5}",
            "high 1.5 is out of range for model.dropout: must be less than 1",
        ),
        (
            "search.sampler: [tpe]",
            "search paths start with data., model., train. ('search.sampler' does not)",
        ),
        ("model.activation: [relu, tanhh]", "unknown activation 'tanhh'; did you mean 'tanh'?"),
        (
            "model.activation: {low: 0, high: 1}",
            "model.activation chooses an option; list the options as choices",
        ),
        (
            "train.optimizer.momentum: {low: 0.5, high: 0.9}",
            "never sampled: train.optimizer is 'adam', which has no 'momentum'; options that take it:"
            " momentum, nesterov, rmsprop",
        ),
    ],
)
def test_bad_search_space_entries(space, message):
    found = problems(f"search:\n  space:\n    {space}\n")
    assert len(found) == 1
    assert message in found[0]
    assert found[0].startswith("r.yaml:3:")


def test_conditional_parameter_reachable_through_searched_choice_is_fine():
    r = load_text(
        "search:\n  space:\n    train.optimizer.name: [sgd, momentum]\n"
        "    train.optimizer.momentum: {low: 0.5, high: 0.9}\n",
        "r.yaml",
        "r",
    )
    assert set(r.search.space) == {"train.optimizer.name", "train.optimizer.momentum"}


def test_unknown_metric_and_option_names_left_out():
    found = problems("search:\n  pruner: {n_startup_trials: 3}\n  objective: val_acc\n")
    assert found[0].startswith("r.yaml:2:3: search.pruner: missing 'name': say which pruner this is")
    assert found[1].startswith("r.yaml:3:3: search.objective")
    assert "unknown metric 'val_acc'; did you mean 'val_accuracy'?" in found[1]
    # where the field has a default option, a mapping without a name means that option
    r = load_text("train:\n  optimizer: {lr: 0.1}\nmodel: {depth: 3}\n", "r.yaml", "r")
    assert (r.train.optimizer.name, r.train.optimizer.lr, r.model.name, r.model.depth) == (
        "adam",
        0.1,
        "mlp",
        3,
    )


def test_cross_section_checks():
    (p,) = problems("search:\n  sampler: cmaes\n  objective: [val_accuracy, train_time]\n")
    assert "search.sampler: cmaes optimizes one objective; with several use one of:" in p
    (p,) = problems("search:\n  pruner: median\n  objective: [val_accuracy, train_time]\n")
    assert "search.pruner: Optuna cannot prune multi-objective studies" in p
    (p,) = problems("search:\n  sampler: grid\n  space:\n    model.dropout: {low: 0, high: 0.5}\n")
    assert "the grid sampler needs a finite set of values: give model.dropout choices or a step" in p


def test_defaults_and_shorthands():
    r = load_text("model: {activation: leaky_relu}\nsearch: {timeout: 1h30m}\n", "r.yaml", "mine")
    assert r.name == "mine"
    assert r.model.activation.name == "leaky_relu" and r.model.activation.slope == 0.01
    assert r.search.timeout == 5400
    assert r.search.objectives[0].metric == "val_accuracy" and r.search.objectives[0].direction == "maximize"
    assert (
        load_text("search: {objective: val_loss}\n", "r.yaml", "r").search.objectives[0].direction
        == "minimize"
    )
    assert r.search.budget == 1  # nothing searched: one training run


def test_recipe_is_frozen():
    r = Recipe(name="x")
    with pytest.raises(Exception, match="frozen"):
        r.train.epochs = 3


def test_yaml_round_trip():
    r = load_text(
        FIVE_MISTAKES.replace("activaton", "activation")
        .replace("adm", "adam")
        .replace("0.1, high: 0.01", "0.01, high: 0.1")
        .replace("widht", "width")
        .replace("step: 0.15", "step: 0.1"),
        "r.yaml",
        "r",
    )
    again = load_text(to_yaml(r), "again.yaml")
    assert again == r


def test_overrides_and_smoke():
    r = load_text("search:\n  n_trials: 50\n  space:\n    model.depth: {low: 1, high: 3}\n", "r.yaml", "r")
    o = override(r, trials=7, timeout="2m", seed=5)
    assert (o.search.n_trials, o.search.timeout, o.train.seed) == (7, 120, 5)
    s = smoke(o)
    assert (s.name, s.train.epochs, s.search.n_trials, s.search.timeout, s.data.limit) == (
        "r-smoke",
        1,
        3,
        None,
        256,
    )
    with pytest.raises(InputError, match="duration"):
        override(r, timeout="soon")


def test_missing_file_names_the_recipes_that_exist(tmp_path):
    (tmp_path / "a.yaml").write_text("{}\n")
    with pytest.raises(InputError, match=r"no recipe file at .*nope.yaml; recipes here: .*a.yaml"):
        load(tmp_path / "nope.yaml")


@pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
def test_every_shipped_recipe_validates(path):
    recipe = load(path)
    assert recipe.description, "each shipped recipe says what question it asks"


def test_schema_accepts_shipped_recipes_and_rejects_unknown_keys():
    import jsonschema

    schema = recipe_schema()
    for path in RECIPES:
        data, _, _ = parse_yaml(path.read_text(), str(path))  # YAML 1.2 floats, as editors read them
        jsonschema.validate(data, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "model": {"name": "mlp", "depht": 3}}, schema)
    json.dumps(schema)


def test_per_layer_dropout_and_its_errors():
    from torch import nn

    from sweepnn.options.models import build_mlp

    r = load_text("model: {depth: 3, dropout: [0.0, 0.2, 0.5]}\n", "r.yaml", "r")
    rates = [m.p for m in build_mlp(r.model, (4,), 2) if isinstance(m, nn.Dropout)]
    assert rates == [0.2, 0.5]  # a zero rate adds no layer
    assert problems("model: {depth: 2, dropout: [0.1]}\n") == [
        "r.yaml:1:1: model: dropout lists 1 rates for 2 hidden layers"
    ]
    # a union of float and list reports the list's own error, not the float member's
    assert problems("model:\n  depth: 2\n  dropout: [0.1, 1.5]\n") == [
        "r.yaml:3:18: model.dropout[1]: must be less than 1 (got 1.5)"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "search:\n  space:\n    train: [1]\n",
            "'train' is a section, not a value; search a field in it, e.g.",
        ),
        ("search:\n  objective: []\n", "objective lists no metric; name at least one"),
        ('name: "bad name!"\n', "a study name starts with a letter or digit and has only letters"),
        ("- a\n- b\n", "a recipe is a mapping of sections"),
        (
            "search:\n  space: [1, 2]\n",
            "search.space: expected a mapping of dotted paths to ranges or choices",
        ),
        ("search:\n  timeout: -5\n", "search.timeout: must be greater than 0"),
    ],
)
def test_more_bad_input_is_reported_plainly(text, message):
    (p,) = problems(text)
    assert message in p


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ("data.name: [spirals, teacher]", "data.name = 'teacher' turns classification into regression"),
        ("train.loss: [cross_entropy, mse]", "train.loss = 'mse': mse is a regression loss"),
        ("model.widths: [[], [8, 8]]", "model.widths = [] breaks the recipe: model: widths is empty"),
        ("train.early_stopping.metric: [val_loss, val_r2]", "val_r2 is not recorded for classification"),
        ("model.activation: [relu]\n    model.activation.name: [tanh]", "search the same thing; keep one"),
        ("1: [1, 2]", "search paths start with data., model., train. ('1' does not)"),
    ],
)
def test_every_searched_value_is_checked_against_the_whole_recipe(space, message):
    found = problems(f"search:\n  space:\n    {space}\n")
    assert any(message in p for p in found), found


def test_range_ends_are_checked_against_the_whole_recipe():
    found = problems(
        "model: {depth: 2, dropout: [0.1, 0.2]}\nsearch:\n  space:\n    model.depth: {low: 1, high: 3}\n"
    )
    assert [p.split(": ", 2)[1] for p in found] == [
        "search.space['model.depth'].low",
        "search.space['model.depth'].high",
    ]
    assert "dropout lists 2 rates for 1 hidden layers" in found[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "search:\n  objective: {metric: val_acc}\n",
            ["r.yaml:2:3: search.objective: unknown metric 'val_acc'; did you mean 'val_accuracy'?"],
        ),
        ("search:\n  timeout: true\n", ["r.yaml:2:3: search.timeout: cannot read True as a duration"]),
        (
            "search:\n  space:\n    train.optimizer.lr: {low: a, high: 1}\n",
            ["r.yaml:3:26: search.space['train.optimizer.lr'].low: expected a number, got the text 'a'"],
        ),
    ],
)
def test_union_members_give_one_plain_complaint(text, expected):
    found = problems(text)
    assert len(found) == len(expected)
    assert all(f.startswith(e) for f, e in zip(found, expected, strict=True)), found


def test_study_names_leave_room_for_suffixes(tmp_path):
    found = problems(f"name: {'a' * 110}\n")
    assert found == ["r.yaml:1:1: name: a study name has at most 100 characters (this one has 110)"]
    long_file = tmp_path / ("_" + "b" * 130 + ".yaml")
    long_file.write_text("{}\n")
    r = load(long_file)
    assert r.name == "b" * 100 and smoke(r).name == "b" * 100 + "-smoke"


def test_small_review_findings():
    # a parameter given to an option without parameters
    assert problems("model: {activation: {name: relu, slope: 0.1}}\n") == [
        "r.yaml:1:34: model.activation.slope: unknown key 'slope': relu takes no parameters"
    ]
    # a parameter reachable only through a choice written as a mapping
    load_text(
        "search:\n  space:\n    model.init: [{name: normal, std: 0.5}, zeros]\n    model.init.std: [0.1]\n",
        "r.yaml",
        "r",
    )
    # --smoke keeps one epoch even when epochs are searched
    r = load_text("search:\n  space:\n    train.epochs: [5, 50]\n", "r.yaml", "r")
    assert smoke(r).train.epochs == 1 and "train.epochs" not in smoke(r).search.space


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_every_shipped_recipe_runs_in_smoke_mode(cli, path, tmp_path):
    """What CI runs for each recipe (docs/ci.md): a few trials of one epoch on a slice of the data."""
    if "path: data/shapes" in path.read_text():  # its PNG files, written where the recipe looks
        from tests.data.test_image_folder import write_shapes

        write_shapes(tmp_path / "data" / "shapes", per_class=20, test=4)
    code, out, err = cli("run", path, "--smoke", "--device", "cpu", "--quiet")
    assert code == 0, out + err
    assert (tmp_path / "results" / f"{path.stem}-smoke").exists() or "Each arm at its best" in out
