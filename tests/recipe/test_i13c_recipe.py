"""A recipe's values are taken as written, and every refusal says what it found and what is valid.

The fields are generated from the Recipe model: every bool, whole-number and number field of every
section and every option, each given a value of the wrong kind, all checked by one real `validate`.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from sweepnn.recipe.config import Recipe
from sweepnn.recipe.loading import load_text
from sweepnn.recipe.paths import base_type, unwrap
from sweepnn.registry import OptionParams, variants


def leaves() -> list[tuple[str, Any, dict, Any]]:
    """(dotted path, base type, the field's FieldInfo, a recipe holding a placeholder there) for
    every bool/int/float field, reached through each option that has it."""
    out: list[tuple[str, Any, dict, Any]] = []

    def visit(model: type[BaseModel], loc: tuple, template: dict) -> None:
        for name, field in model.model_fields.items():
            if name == "name" and issubclass(model, OptionParams):
                continue
            ann = unwrap(field.annotation)
            options = variants(ann)
            if options is not None:
                for option, params in options.items():
                    visit(params, (*loc, name), _put(template, (*loc, name), {"name": option}))
            elif isinstance(ann, type) and issubclass(ann, BaseModel):
                visit(ann, (*loc, name), _put(template, (*loc, name), {}))
            elif base_type(field.annotation) in (bool, int, float):
                out.append((".".join(map(str, (*loc, name))), base_type(field.annotation), field, template))

    visit(Recipe, (), {})
    return out


def _put(template: dict, loc: tuple, value: Any) -> dict:
    import copy

    out = copy.deepcopy(template)
    node = out
    for part in loc[:-1]:
        node = node.setdefault(part, {})
    node[loc[-1]] = value
    return out


WRONG = {  # a value of another kind, and how the message quotes it
    bool: [(1, "expected true or false, got 1"), ("yes", "expected true or false, got the text 'yes'")],
    int: [
        (True, "expected a whole number, got true"),
        ("3", "expected a whole number, got the text '3' (quoted, so not a number"),
        (2.5, "expected a whole number, got 2.5"),
    ],
    float: [(True, "expected a number, got true"), ("0.5", "expected a number, got the text '0.5' (quoted")],
}


# A bound in the recipe's words, not pydantic's "Input should be greater than or equal to".
BOUND_WORDS = {
    "ge": "must be at least",
    "gt": "must be greater than",
    "le": "must be at most",
    "lt": "must be less than",
}


def _cases():
    cases = []
    for path, kind, field, template in leaves():
        for value, message in WRONG[kind]:
            cases.append((path, _put(template, tuple(path.split(".")), value), message))
        for m in field.metadata:  # a value past each bound the field states
            for attr, past in (("ge", -1), ("gt", 0), ("le", 1), ("lt", 0)):
                bound = getattr(m, attr, None)
                if bound is not None and kind is not bool:
                    value = bound + past
                    said = int(bound) if float(bound).is_integer() else bound  # as a recipe writes it
                    message = f"{BOUND_WORDS[attr]} {said} (got {value})"
                    cases.append((path, _put(template, tuple(path.split(".")), value), message))
    return cases


def _validate(tmp_path, texts: list[str]) -> tuple[int, list[str], list[str]]:
    files = []
    for i, text in enumerate(texts):
        files.append(tmp_path / f"r{i}.yaml")
        files[-1].write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "sweepnn", "validate", *map(str, files)], capture_output=True, text=True
    )
    return proc.returncode, [str(f) for f in files], proc.stderr.splitlines()


def test_every_bool_and_number_field_refuses_other_kinds_and_says_what_it_got(tmp_path):
    cases = _cases()
    kinds = {kind for _, kind, _, _ in leaves()}
    assert kinds == {bool, int, float} and len(cases) > 100  # the class, not a few named fields
    code, files, err = _validate(tmp_path, [yaml.safe_dump(raw) for _, raw, _ in cases])
    assert code == 2
    missing = []
    for (path, _, message), file in zip(cases, files, strict=True):
        lines = [line for line in err if line.startswith(f"{file}:")]
        if not any(f": {path}: " in line and message in line for line in lines):
            missing.append(f"{path} ({message}): {lines}")
    assert not missing, "\n".join(missing[:20]) + f"\n({len(missing)} of {len(cases)})"
    # and what the loader promises still holds: a whole number is a number, 1e-3 a float
    r = load_text("train: {optimizer: {name: adam, lr: 1}, epochs: 3}\nsearch: {timeout: 10m}\n", "r", "r")
    assert r.train.optimizer.lr == 1.0 and r.train.epochs == 3 and r.search.timeout == 600
    r = load_text("train: {optimizer: {name: adam, lr: 1e-3}}\n", "r", "r")  # YAML 1.2's float
    assert r.train.optimizer.lr == 0.001


@pytest.mark.parametrize("text", ["", "# only a comment\n", "null\n", "\n\n"])
def test_an_empty_recipe_is_an_error(tmp_path, text):
    code, (file,), err = _validate(tmp_path, [text])
    assert code == 2
    assert err[0] == (
        f"{file}: the recipe is empty; a recipe is a mapping of sections (data, model, train, search),"
        " e.g. data: {name: spirals}"
    )


def test_messages_say_what_was_found_and_what_is_valid(tmp_path):
    texts = [
        "search:\n  n_trials: -1\n",
        "search:\n  space:\n    model.activation: relu\n",
        "search:\n  space: [1, 2]\n",
        "model: {activation: 5}\n",
        "search:\n  space:\n    train.batch_size: [true, 64]\n",
        "search:\n  objective: 3\n",
    ]
    code, f, err = _validate(tmp_path, texts)
    assert code == 2
    assert err == [
        f"{f[0]}:2:3: search.n_trials: must be at least 1 (got -1)",
        f"{f[1]}:3:5: search.space['model.activation']: expected a range {{low: ..., high: ...}} or a list"
        " of choices [a, b, ...] (to fix model.activation at one value, set it outside search.space),"
        " got the text 'relu'",
        f"{f[2]}:2:3: search.space: expected a mapping of dotted paths to ranges or choices"
        " (train.optimizer.lr: {low: 1e-4, high: 0.1}), got a list [1, 2]",
        f"{f[3]}:1:9: model.activation: expected an option's name (elu, gelu, leaky_relu, relu, sigmoid,"
        " silu, tanh) or a mapping {name: ..., parameter: value}, got 5",
        f"{f[4]}:3:5: search.space['train.batch_size'].choices[0]: choice True is not valid for"
        " train.batch_size: expected a whole number, got true",
        f"{f[5]}:2:3: search.objective: expected a metric's name or a mapping {{metric: ..., direction:"
        " ...}, got 3",
        "Error: 6 problems in 6 of 6 files",
    ]


def test_a_changed_recipe_says_each_change_once_per_path_written():
    from sweepnn.sweep.resuming import recipe_changes

    base = "search:\n  space:\n    model.dropout: {low: 0.0, high: 0.5}\n    model.width: [8, 16]\n"
    old = load_text(base, "r", "r").model_dump(mode="json")
    new = load_text(base.replace("    model.dropout: {low: 0.0, high: 0.5}\n", ""), "r", "r")
    assert recipe_changes(old, new.model_dump(mode="json")) == [
        "search.space['model.dropout']: {'low': 0.0, 'high': 0.5} -> (absent)"
    ]
    switched = load_text(base + "train: {optimizer: sgd, epochs: 3}\n", "r", "r").model_dump(mode="json")
    assert recipe_changes(old, switched) == ["train.epochs: 10 -> 3", "train.optimizer: 'adam' -> 'sgd'"]
