"""Issue 13, the class test: every searchable numeric and choice field of the recipe schema, searched
alone, sweeps to its end through the real CLI and leaves its four files, whose tables never hold two
columns of one name (a searched `train.epochs` beside the table's own `epochs` once crashed the run).

The fields come from the schema itself (sweepnn.recipe.paths.all_paths walks the configuration types and
every option of every registry); a field under an option gets that option chosen in its base recipe
(the first option, in registry order, where the path exists), and its range comes from the value the
base recipe has there. The sweeps run in one process that calls the CLI entry point once per recipe,
so about a hundred sweeps take seconds rather than a hundred interpreter start-ups.
"""

from __future__ import annotations

import copy
import csv
import itertools
import json
import os
import subprocess
import sys
from typing import Any, Literal, get_args, get_origin

import yaml

from sweepnn.options.datasets import DATASETS
from sweepnn.recipe.config import Recipe
from sweepnn.recipe.loading import load_text
from sweepnn.recipe.paths import all_paths, applies, base_type, resolve, set_path

BASE = {
    "name": "field",
    "data": {"name": "blobs", "n_samples": 120, "classes": 3},
    "model": {"name": "mlp", "depth": 1, "width": 8},
    "train": {"epochs": 1, "batch_size": 32, "optimizer": {"name": "adam", "lr": 0.01}},
}
# Options a field's context may not choose: datasets read from files or downloads (their fields are
# covered by the loader tests), none of which this offline smoke test has.
OFFLINE = {"data": [n for n, s in DATASETS.items() if s.check_files is None and n != "mnist1d"]}
# Fields that need more than their option chosen, with the reason.
CONTEXT: dict[str, dict[str, Any]] = {
    # the image datasets' model: a CNN reads images, not the rows of a table
    "model.channels": {"data": {"name": "digits"}, "model": "cnn"},
    "model.kernel": {"data": {"name": "digits"}, "model": "cnn"},
    "model.pool": {"data": {"name": "digits"}, "model": "cnn"},
    **{
        path: {"data": {"name": "digits"}, "model": "cnn"}
        for path in ("model.stride", "model.padding", "model.head")
    },
    # the residual network's own fields: a small resnet on 8x8 images
    **{
        path: {"data": {"name": "digits"}, "model": {"name": "resnet", "depth": 8, "width": 4}}
        for path in ("model.shortcut", "model.zero_init_residual")
    },
    # augmentations of images, and channels-last memory, need an image dataset (and its CNN)
    **{
        path: {"data": {"name": "digits"}, "model": "cnn", **({node: node.rsplit(".")[-1]} if node else {})}
        for path, node in [
            ("data.augment.crop.name", "data.augment.crop"),
            ("data.augment.crop.padding", "data.augment.crop"),
            ("data.augment.flip.name", "data.augment.flip"),
            ("data.augment.flip.p", "data.augment.flip"),
            ("data.augment.rotate.name", "data.augment.rotate"),
            ("data.augment.rotate.degrees", "data.augment.rotate"),
            ("data.augment.translate.name", "data.augment.translate"),
            ("data.augment.translate.fraction", "data.augment.translate"),
            ("train.channels_last", ""),
        ]
    },
    # shifting samples augments a signal
    "data.augment.shift.name": {"data": {"name": "mnist1d", "n_samples": 200}, "data.augment.shift": "shift"},
    "data.augment.shift.samples": {
        "data": {"name": "mnist1d", "n_samples": 200},
        "data.augment.shift": "shift",
    },
    # the regression losses need a regression task
    "train.loss.name": {"data": {"name": "teacher", "n_samples": 120}},
    "train.loss.delta": {"data": {"name": "teacher", "n_samples": 120}, "train.loss": "huber"},
    # warm-up needs a schedule that takes one
    "train.schedule.warmup.epochs": {"train.schedule": {"name": "cosine", "warmup": {"name": "linear"}}},
    "train.schedule.warmup.steps": {"train.schedule": {"name": "cosine", "warmup": {"name": "linear"}}},
}


# Fields of those kinds a test without files or network cannot train; the loader tests cover them.
EXEMPT = {
    "data.labels": "cifar100's fine or coarse labels: a download",
    "data.limit": "a cap on the examples of a dataset read from files (mnist, cifar)",
    "data.task": "the task of a csv or parquet table: a file",
    "data.size": "the size image_folder resizes its files to: image files (tests/data/test_image_folder.py)",
    "data.channels": "rgb or gray images of image_folder: image files (tests/data/test_image_folder.py)",
}


def _literal_values(annotation: Any) -> list[Any] | None:
    while get_args(annotation) and get_origin(annotation) is not Literal:
        inner = [a for a in get_args(annotation) if a is not type(None)]
        annotation = inner[0] if len(inner) == 1 else annotation
        if len(inner) != 1:
            break
    return list(get_args(annotation)) if get_origin(annotation) is Literal else None


def _kind(path: str) -> tuple[str, Any] | None:
    """('choice', values) or ('int'|'float', None) for a searchable field; None for the others."""
    targets = resolve(path)
    if path.endswith(".name") or path == "data.name" or path == "model.name":
        options = next((t.options for t in targets if t.options), None)
        if options is not None:
            return "choice", list(options)
    if any(t.options for t in targets):
        return None  # an option node: the same field as its `.name`, searched there
    types = {base_type(t.annotation) for t in targets}
    if types == {bool}:
        return "choice", [False, True]
    if types <= {int}:
        return "int", None
    if types <= {int, float}:
        return "float", None
    values = _literal_values(targets[0].annotation)
    return ("choice", values) if values else None  # lists and free text are no search dimension


def _with_context(path: str) -> dict[str, Any]:
    """The base recipe, with the option chosen under which `path` exists."""
    raw = copy.deepcopy(BASE)
    for node, value in CONTEXT.get(path, {}).items():
        set_path(raw, node, value)
    if path == "train.steps":  # a length in steps replaces the one in epochs: never both
        del raw["train"]["epochs"]
    segs = path.split(".")
    for i in range(1, len(segs)):
        node = ".".join(segs[:i])
        if applies(Recipe.model_validate(raw).model_dump(mode="python"), path):
            break
        options = next((t.options for t in resolve(node) if t.options), None)
        if options is None:
            continue
        for name in OFFLINE.get(node, list(options)):
            trial = copy.deepcopy(raw)
            set_path(trial, f"{node}.name" if node not in ("data", "model") else node, name)
            if applies(Recipe.model_validate(trial).model_dump(mode="python"), ".".join(segs[: i + 1])):
                raw = trial
                break
    return raw


def _value_at(raw: dict[str, Any], path: str) -> Any:
    node: Any = Recipe.model_validate(raw).model_dump(mode="python")
    for seg in path.split("."):
        node = node.get(seg) if isinstance(node, dict) else None
    return node


def _space(raw: dict[str, Any], path: str, kind: str, values: Any) -> dict[str, Any] | None:
    """A space of two trials at `path` that the recipe loader accepts, near the base value."""
    if kind == "choice":
        current = _value_at(raw, path.removesuffix(".name") if path.endswith(".name") else path)
        current = current.get("name") if isinstance(current, dict) else current
        ordered = [current, *(v for v in values if v != current)] if current in values else values
        pairs = [list(pair) for pair in itertools.combinations(ordered, 2)] or [ordered]  # the first it takes
        candidates = [{"sampler": "grid", "space": {path: pair}} for pair in pairs]
    else:
        v = _value_at(raw, path)
        if kind == "int":
            v = int(v) if isinstance(v, int | float) else 1
            pairs = [(v, v + 1), (max(v - 1, 0), v), (1, 2), (0, 1), (2, 4)]
        else:
            v = float(v) if isinstance(v, int | float) and v else 0.0
            pairs = [(v * 0.9, v), (v, v * 1.1)] if v else []
            pairs += [(0.0, 0.1), (0.1, 0.2), (0.5, 0.9), (1.0, 2.0), (1e-3, 1e-2), (1.5, 3.0)]
        candidates = [
            {"sampler": "random", "n_trials": 2, "space": {path: {"low": lo, "high": hi}}}
            for lo, hi in pairs
            if lo < hi
        ]
    for search in candidates:
        text = yaml.safe_dump({**raw, "search": {**search, "pruner": "none"}}, sort_keys=False)
        try:
            load_text(text, "generated.yaml")
        except Exception:
            continue
        return search
    return None


def generated_recipes() -> tuple[dict[str, str], dict[str, str]]:
    """{path: recipe text} for every searchable numeric or choice field; {path: why not} for fields
    of those kinds that no generated recipe could search (the test asserts there are none)."""
    recipes, refused = {}, {}
    for path in all_paths():
        kind = _kind(path)
        if kind is None:
            continue
        raw = _with_context(path)
        search = _space(raw, path, *kind)
        if search is None:
            refused[path] = f"no {kind[0]} space the loader accepts in {raw}"
            continue
        name = "f-" + path.replace(".", "-").replace("_", "-")
        recipes[path] = yaml.safe_dump({**raw, "name": name, "search": {**search, "pruner": "none"}})
    return recipes, refused


# One process for every sweep: the real entry point (sweepnn.cli.main) once per recipe.
LOOP = """
import json, sys
from sweepnn.cli import main
codes = {}
for recipe in sys.argv[1:]:
    name = recipe.removesuffix(".yaml")
    sys.argv = ["sweepnn", "run", recipe, "--device", "cpu", "--quiet", "--storage", name + ".journal"]
    print(f"=== {recipe}", flush=True)
    print(f"=== {recipe}", file=sys.stderr, flush=True)
    try:
        main()
        codes[recipe] = 0
    except SystemExit as e:
        codes[recipe] = e.code if isinstance(e.code, int) else 1
json.dump(codes, open("codes.json", "w"))
"""


def _section(text: str, recipe: str) -> str:
    return text.split(f"=== {recipe}\n")[1].split("\n=== ")[0] if f"=== {recipe}\n" in text else ""


def test_every_searchable_field_sweeps_alone_to_its_four_files(tmp_path):
    recipes, refused = generated_recipes()
    assert refused.keys() == EXEMPT.keys(), {p: why for p, why in refused.items() if p not in EXEMPT}
    assert {"train.epochs", "train.schedule.warmup.epochs", "model.width", "train.optimizer.name"} <= set(
        recipes
    )
    files = {}
    for path, text in recipes.items():
        files[path] = f"{path.replace('.', '-')}.yaml"
        (tmp_path / files[path]).write_text(text)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-c", LOOP, *files.values()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    codes = json.loads((tmp_path / "codes.json").read_text())
    broken = {}
    for path, recipe in files.items():
        name = yaml.safe_load(recipes[path])["name"]
        folder = tmp_path / "results" / name
        missing = [
            f for f in ("trials.csv", "summary.md", "best.yaml", "recipe.yaml") if not (folder / f).is_file()
        ]
        if codes[recipe] != 0 or missing:
            broken[path] = (codes[recipe], missing, _section(done.stderr, recipe)[-600:])
            continue
        with (folder / "trials.csv").open() as f:
            header = next(csv.reader(f))
        ranked = (folder / "summary.md").read_text().split("## Ranked trials")[1].strip().splitlines()[0]
        labels = [c.strip() for c in ranked.strip("|").split("|")]
        if path not in header or len(set(header)) != len(header) or len(set(labels)) != len(labels):
            broken[path] = ("columns", header, labels)
    assert not broken, broken
