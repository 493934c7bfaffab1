"""A trial that switches an option gives the new option its own defaults, however the recipe reached
the trial: loaded from its file, dumped whole and read again (--smoke, command-line overrides, the
YAML a worker process is handed), or stored with a study. A value the author wrote carries over.

The class is swept from the registries: every option node a recipe has, every pair of its options
that share a parameter with different defaults.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import yaml
from pydantic import ValidationError

from sweepnn.recipe.config import Recipe
from sweepnn.recipe.loading import load_text
from sweepnn.recipe.paths import all_paths, resolve, set_path
from sweepnn.recipe.space import written
from sweepnn.recipe.variants import override, smoke, to_yaml


def _value(raw: dict[str, Any], path: str) -> Any:
    node: Any = raw
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def switches() -> list[tuple[str, str, str, str, Any]]:
    """(option node, from option, to option, shared parameter, the new option's default) wherever
    the two defaults differ."""
    out = []
    for path in all_paths():
        if not path.endswith(".name"):
            continue
        node = path.removesuffix(".name")
        for target in resolve(node):
            for a, pa in (target.options or {}).items():
                for b, pb in target.options.items():
                    for k in set(pa.model_fields) & set(pb.model_fields) - {"name"}:
                        da, db = pa.model_fields[k].get_default(), pb.model_fields[k].get_default()
                        if a != b and da != db:
                            out.append((node, a, b, k, db))
    return sorted(set(out), key=repr)


def _base(node: str, option: str) -> Recipe | None:
    raw: dict[str, Any] = {"name": "r", "data": {"name": "blobs"}}
    if node.startswith("data.augment"):
        raw = {"name": "r", "data": {"name": "digits"}, "model": {"name": "cnn"}}
    set_path(raw, node, {"name": option})
    try:
        return Recipe.model_validate(raw)
    except Exception:
        return None  # an option that needs other settings to exist (a node under another option)


ROUND_TRIPS = {
    "as loaded": lambda r: r,
    "dumped and read again": lambda r: Recipe.model_validate(r.model_dump(mode="python")),
    "a worker's YAML": lambda r: load_text(to_yaml(r), "w", "w"),
    "a study's stored JSON": lambda r: Recipe.model_validate(r.model_dump(mode="json")),
    "overridden": lambda r: override(r, seed=3),
}


def test_every_switch_of_option_starts_from_the_new_options_defaults():
    cases = switches()
    checked, wrong = 0, []
    for node, a, b, k, default in cases:
        base = _base(node, a)
        if base is None:
            continue
        for how, trip in ROUND_TRIPS.items():
            raw = written(trip(base))
            set_path(raw, f"{node}.name", b)
            try:
                switched = Recipe.model_validate(raw)
            except ValidationError:
                continue  # the new option needs settings the base does not have (a dataset's files)
            got = _value(switched.model_dump(mode="python"), f"{node}.{k}")
            checked += 1
            if got != default:
                wrong.append(f"{node}: {a} -> {b} ({how}): {k} = {got!r}, {b}'s default is {default!r}")
    assert checked >= 5 * 10, f"only {checked} switches checked: the class is not swept"
    assert not wrong, "\n".join(wrong[:20]) + f"\n({len(wrong)} of {checked})"


def test_a_value_the_author_wrote_carries_over_through_every_round_trip():
    base = load_text("train: {optimizer: {name: adamw, lr: 0.05, weight_decay: 0.3}}\n", "r", "r")
    for how, trip in ROUND_TRIPS.items():
        raw = written(trip(base))
        set_path(raw, "train.optimizer.name", "sgd")
        opt = Recipe.model_validate(raw).train.optimizer
        assert (opt.name, opt.lr, opt.weight_decay) == ("sgd", 0.05, 0.3), how


def test_a_run_and_a_smoke_run_train_the_switched_option_with_its_own_defaults(tmp_path):
    recipe = tmp_path / "sw.yaml"
    recipe.write_text(
        "data: {name: blobs, n_samples: 200}\nmodel: {depth: 1, width: 8}\n"
        "train: {epochs: 1, optimizer: {name: adamw, lr: 0.05}}\n"
        "search:\n  sampler: grid\n  space:\n    train.optimizer.name: [sgd]\n"
    )
    for flags, study in (([], "sw"), (["--smoke"], "sw-smoke")):
        proc = subprocess.run(
            [sys.executable, "-m", "sweepnn", "run", str(recipe), "-q", "--device", "cpu", *flags],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        optimizer = yaml.safe_load((tmp_path / "results" / study / "best.yaml").read_text())["train"][
            "optimizer"
        ]
        assert (optimizer["name"], optimizer["lr"], optimizer["weight_decay"]) == ("sgd", 0.05, 0.0), flags


def test_smoke_keeps_what_the_author_wrote_apart_from_the_defaults():
    base = load_text(
        "train: {optimizer: {name: adamw, lr: 0.05}}\nsearch: {space: {model.width: [8, 16]}}\n", "r", "r"
    )
    raw = written(smoke(base))
    set_path(raw, "train.optimizer.name", "sgd")
    assert Recipe.model_validate(raw).train.optimizer.weight_decay == 0.0
