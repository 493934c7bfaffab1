"""Hostile and degenerate recipes: each is exit 2 before any work, with a message that says where (the
file, the line where YAML gives one, the key path) and which bound or range was hit; no traceback,
nothing written under the results folder, and soon (a timeout turns a hang into a failure).

Three classes, each with several shapes of the same fault:
- YAML that expands or nests without bound: alias bombs, recursive aliases, deep nesting (flow,
  block, through aliases), files that are huge or not files at all, numbers and tagged scalars that
  Python cannot read;
- sizes a search space never needs: too many choices, parameters or grid points, too many problems;
- integers the trainer's libraries take only in a range: every seed (the recipe's, the data's, the
  --seed flag, searched seeds, the seeds of repeats and of a resumed sampler), layer widths.

Every case runs the real command (`python -m sweepnn`) in a process of its own, both `validate` and
`run`, on files written here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY

from sweepnn.recipe.limits import (
    CHOICES_MAX,
    GRID_MAX,
    PROBLEMS_MAX,
    RECIPE_BYTES_MAX,
    SEED_MAX,
    SPACE_CHOICES_MAX,
    SPACE_PARAMS_MAX,
    YAML_DEPTH_MAX,
    YAML_NODES_MAX,
    YAML_NUMBER_CHARS_MAX,
)

BASE = TINY.replace("description: a tiny sweep for tests\n", "")  # room for a description of our own
GUARD_S = 120  # generous: each case takes seconds; only a hang or a runaway reaches this
SEED_RANGE = f"a seed is a whole number from 0 to {SEED_MAX} (2**32 - 1, what numpy and Optuna take)"


def sweepnn(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """The real command in a process of its own; a run past GUARD_S fails the test instead of hanging."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    try:
        return subprocess.run(
            [sys.executable, "-m", "sweepnn", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=GUARD_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"sweepnn {' '.join(args[:2])} did not finish within {GUARD_S}s")


def refused(tmp_path: Path, target: str, *messages: str, commands=("validate", "run"), extra=()) -> list[str]:
    """`validate` and `run` of `target` (relative to tmp_path) both exit 2 with every message on
    stderr, no traceback, and nothing written: no results folder, no other file. Their stderr."""
    before = sorted(p.name for p in tmp_path.iterdir())
    errs = []
    for command in commands:
        args = [command, target, *(["--results", "results", *extra] if command == "run" else [])]
        done = sweepnn(tmp_path, *args)
        out = done.stdout + done.stderr
        assert done.returncode == 2, f"{command}: exit {done.returncode}\n{out[-3000:]}"
        for message in messages:
            assert message in done.stderr, f"{command}: {message!r} not in\n{done.stderr[-3000:]}"
        assert "Traceback" not in out, out[-3000:]
        assert not (tmp_path / "results").exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == before
        errs.append(done.stderr)
    return errs


def recipe(tmp_path: Path, text: str, name: str = "r.yaml") -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return name


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


# --- YAML: alias expansion, recursion, nesting, size, what a file is --------------------------------


def laughs(width: int = 9, levels: int = 9) -> str:
    """The "billion laughs": each anchor a list of `width` aliases of the one before."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def laughs_in_mappings(width: int = 12, levels: int = 8) -> str:
    """The same bomb written in block mappings, inside a recipe's own sections."""
    out = "m0: &m0 {" + ", ".join(f"k{j}: lol" for j in range(width)) + "}\n"
    for i in range(1, levels):
        out += f"m{i}: &m{i}\n" + "".join(f"  k{j}: *m{i - 1}\n" for j in range(width))
    return BASE + out + f"description: *m{levels - 1}\n"


def test_billion_laughs_is_refused_at_the_alias_that_passes_the_bound(tmp_path):
    text = laughs()
    assert len(text.encode()) < 1000  # a few hundred bytes that stood for 387 million strings
    # anchor i stands for 1 + 9 * (its predecessor): 10, 91, 820, 7381, 66430, 597871, ...
    sizes = [10]
    for _ in range(8):
        sizes.append(1 + 9 * sizes[-1])
    total, line = 1, None
    for i, size in enumerate(sizes):  # the document counts each key, and each anchor where it stands
        if total + 1 + size > YAML_NODES_MAX:
            line = i + 1
            break
        total += 1 + size
    refused(
        tmp_path,
        recipe(tmp_path, text, "bomb.yaml"),
        f"bomb.yaml:{line}:",
        f"the YAML expands to more than {YAML_NODES_MAX:,} values (the bound on a recipe's size, aliases"
        " expanded); alias *a",
    )


def test_an_alias_bomb_in_block_mappings_inside_a_recipe_is_refused(tmp_path):
    text = laughs_in_mappings()
    refused(
        tmp_path,
        recipe(tmp_path, text),
        f"the YAML expands to more than {YAML_NODES_MAX:,} values",
        "r.yaml:",
    )


@pytest.mark.parametrize(
    ("text", "alias_line"),
    [
        ("a: &a [*a]\n", 1),
        ("train:\n  optimizer: &o\n    name: adam\n    inner: *o\n", 4),
        ("x: &outer\n  - &inner [1, 2, [*outer]]\n", 2),  # through another anchor, deeper down
        (TINY + "search2: &s {space: {x: [*s]}}\n", TINY.count("\n") + 1),
    ],
    ids=["list", "mapping", "indirect", "in a recipe"],
)
def test_a_recursive_alias_is_refused_where_it_stands(tmp_path, text, alias_line):
    refused(
        tmp_path,
        recipe(tmp_path, text),
        f"r.yaml:{alias_line}:",
        "a recursive alias expands without end",
    )


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 10_000 + "]" * 10_000 + "\n",
        "a: " + "{b: " * 3_000 + "1" + "}" * 3_000 + "\n",
        "".join("  " * i + "a:\n" for i in range(300)) + "  " * 300 + "1\n",  # block style
        "- " * 2_000 + "x\n",  # a block sequence of sequences on one line
        "? " * 2_000 + "x\n",  # keys of keys
    ],
    ids=["flow lists", "flow mappings", "block mappings", "block sequences", "complex keys"],
)
def test_deep_nesting_is_refused_before_the_recursion_limit(tmp_path, text):
    refused(
        tmp_path,
        recipe(tmp_path, text),
        "r.yaml:1:" if "\n" not in text.rstrip("\n") else "r.yaml:",
        f"the YAML nests deeper than {YAML_DEPTH_MAX} levels (the bound on nesting)",
    )


def test_nesting_through_aliases_counts_the_expanded_depth(tmp_path):
    """Each anchor nests 10 deep and holds the one before: the text is shallow, what it stands for is not."""
    depth = 10
    lines = ["l0: &l0 " + "[" * depth + "x" + "]" * depth]
    lines += [f"l{i}: &l{i} " + "[" * depth + f"*l{i - 1}" + "]" * depth for i in range(1, 6)]
    refused(
        tmp_path,
        recipe(tmp_path, "\n".join(lines) + "\n"),
        f"nests the YAML deeper than {YAML_DEPTH_MAX} levels (the bound on nesting, aliases expanded)",
        "r.yaml:",
    )


def test_a_huge_recipe_file_is_refused_unread(tmp_path):
    big = BASE + "description: " + "x" * (20 * RECIPE_BYTES_MAX) + "\n"  # valid YAML, 20 MB
    refused(
        tmp_path,
        recipe(tmp_path, big, "big.yaml"),
        f"big.yaml: the recipe is larger than {RECIPE_BYTES_MAX:,} bytes (the bound on a recipe file's size)",
    )


def test_a_file_just_past_the_size_bound_is_refused_and_one_within_it_is_read(tmp_path):
    head = BASE + "description: "
    fits = head + "x" * (RECIPE_BYTES_MAX - len(head) - 1) + "\n"
    assert len(fits.encode()) == RECIPE_BYTES_MAX
    recipe(tmp_path, fits, "fits.yaml")
    done = sweepnn(tmp_path, "validate", "fits.yaml")
    assert done.returncode == 0 and "fits.yaml: ok" in done.stdout, done.stderr[-2000:]
    over = head + "é" * ((RECIPE_BYTES_MAX - len(head)) // 2 + 1) + "\n"  # bytes, not characters, count
    assert len(over) < RECIPE_BYTES_MAX < len(over.encode())
    refused(tmp_path, recipe(tmp_path, over, "over.yaml"), "over.yaml: the recipe is larger than")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_a_device_and_a_folder_are_refused_without_reading(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")  # nobody writes: opening it to read would wait for ever
    (tmp_path / "folder.yaml").mkdir()
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")  # reading it never ends
    refused(tmp_path, "pipe.yaml", "pipe.yaml is a pipe, not a recipe file")
    refused(tmp_path, "folder.yaml", "folder.yaml is a folder, not a recipe file")
    refused(tmp_path, "zero.yaml", "zero.yaml is a character device, not a recipe file")
    refused(tmp_path, "/dev/zero", "/dev/zero is a character device, not a recipe file")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1" * 5_000, "a number of 5,000 characters"),  # past Python's 4300-digit int()
        ("0x" + "f" * 5_000, "a number of 5,002 characters"),
        ("1" + ":59" * 100_000, "a number of 300,001 characters"),  # YAML 1.1 base 60: quadratic
        ("0." + "1" * 200 + "e5", "a number of 204 characters"),
    ],
    ids=["decimal", "hex", "base 60", "float"],
)
def test_a_number_past_its_length_bound_is_refused_unread(tmp_path, value, message):
    text = TINY.replace("  epochs: 2\n", f"  epochs: 2\n  seed: {value}\n")
    refused(
        tmp_path,
        recipe(tmp_path, text),
        f"r.yaml:{line_of(text, 'seed:')}:",
        f"train.seed: {message}; the bound is {YAML_NUMBER_CHARS_MAX} characters for one number",
    )


@pytest.mark.parametrize(
    ("scalar", "message"),
    [
        ("!!int abc", "description: cannot read 'abc' as !!int: invalid literal for int()"),
        ("!!float abc", "description: cannot read 'abc' as !!float: could not convert string"),
        ("!!bool maybe", "description: cannot read 'maybe' as !!bool"),
        ("2001-13-45", "description: cannot read '2001-13-45' as !!timestamp: month must be in 1..12"),
        ('"a\x07b"', "YAML syntax error: character #x0007 is not allowed"),
    ],
    ids=["int", "float", "bool", "date", "control character"],
)
def test_a_scalar_python_cannot_read_is_a_located_problem(tmp_path, scalar, message):
    text = BASE + f"description: {scalar}\n"
    refused(tmp_path, recipe(tmp_path, text), f"r.yaml:{text.count(chr(10))}:", message)


# --- sizes: a search space past its bounds is refused before it is checked choice by choice ---------


def space(*entries: str, sampler: str = "random") -> str:
    return TINY.replace("sampler: random", f"sampler: {sampler}") + "".join(f"    {e}\n" for e in entries)


def listed(n: int, start: int = 1) -> str:
    return "[" + ", ".join(str(i) for i in range(start, start + n)) + "]"


def test_too_many_choices_for_one_parameter(tmp_path):
    text = space(f"train.batch_size: {listed(CHOICES_MAX + 1)}")
    refused(
        tmp_path,
        recipe(tmp_path, text),
        f"r.yaml:{line_of(text, 'train.batch_size:')}:5: search.space['train.batch_size']:"
        f" {CHOICES_MAX + 1:,} choices; the bound is {CHOICES_MAX:,} for one parameter",
    )


def test_too_many_choices_written_as_a_mapping(tmp_path):
    text = space(f"model.width: {{choices: {listed(3 * CHOICES_MAX)}}}")
    refused(
        tmp_path,
        recipe(tmp_path, text),
        f"search.space['model.width'].choices: {3 * CHOICES_MAX:,} choices; the bound is",
    )


def test_a_hundred_thousand_choices_are_refused_quickly(tmp_path):
    text = space(f"train.batch_size: {listed(100_000)}")
    refused(tmp_path, recipe(tmp_path, text), f"r.yaml:{line_of(text, 'train.batch_size:')}:", "the bound")


def test_too_many_choices_in_all(tmp_path):
    per = SPACE_CHOICES_MAX // 3 + 1
    assert per <= CHOICES_MAX
    text = space(*(f"{p}: {listed(per)}" for p in ("train.batch_size", "train.epochs", "model.width")))
    refused(
        tmp_path,
        recipe(tmp_path, text),
        f"search.space: {3 * per + 2:,} choices in all; the bound is {SPACE_CHOICES_MAX:,} in one space",
    )


def test_too_many_searched_parameters(tmp_path):
    n = SPACE_PARAMS_MAX + 1
    text = space(*(f"model.p{i}: [1]" for i in range(n)))
    refused(
        tmp_path,
        recipe(tmp_path, text),
        f"search.space: {n + 2:,} searched parameters; the bound is {SPACE_PARAMS_MAX} in one space",
    )


@pytest.mark.parametrize(
    "entries",
    [
        ["train.batch_size: {low: 1, high: 1000000000}"],  # one range of a billion values
        [f"train.batch_size: {listed(400)}", f"train.epochs: {listed(400)}"],  # 320,000 with activation
        ["model.dropout: {low: 0.0, high: 0.5, step: 0.000001}"],
    ],
    ids=["int range", "product", "float step"],
)
def test_a_grid_past_its_bound_is_refused_before_it_is_enumerated(tmp_path, entries):
    text = space(*entries, sampler="grid").replace(
        "    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}\n", ""
    )
    refused(
        tmp_path,
        recipe(tmp_path, text),
        f"r.yaml:{line_of(text, 'sampler: grid')}:3: search.sampler: the grid holds",
        f"configurations (the product of the parameters' numbers of values); the bound is {GRID_MAX:,}",
    )


def test_thousands_of_unknown_keys_list_a_bounded_number_of_problems(tmp_path):
    text = TINY.replace("train:\n", "train:\n" + "".join(f"  k{i}: 1\n" for i in range(20_000)))
    for err in refused(
        tmp_path,
        recipe(tmp_path, text),
        f"r.yaml: {20_000 - PROBLEMS_MAX:,} more errors not listed (the first {PROBLEMS_MAX} are)",
    ):
        assert err.count("unknown key") == PROBLEMS_MAX


# --- integers the libraries take in a range only: seeds, widths ---------------------------------


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("  epochs: 2\n", f"  epochs: 2\n  seed: {SEED_MAX + 1}\n", "train.seed"),
        ("  epochs: 2\n", "  epochs: 2\n  seed: -1\n", "train.seed"),
        ("  epochs: 2\n", "  epochs: 2\n  seed: 0x1" + "0" * 20 + "\n", "train.seed"),
        ("classes: 3}", "classes: 3, seed: -7}", "data.seed"),
        ("classes: 3}", f"classes: 3, seed: {2**64}}}", "data.seed"),
    ],
    ids=["train past 2**32", "train negative", "train hex", "data negative", "data past 2**64"],
)
def test_a_seed_out_of_range_is_refused_at_load_time(tmp_path, old, new, where):
    text = TINY.replace(old, new)
    refused(
        tmp_path,
        recipe(tmp_path, text),
        f"r.yaml:{line_of(text, 'seed:')}:",
        f"{where}: {SEED_RANGE}",
    )


@pytest.mark.parametrize("seed", [str(SEED_MAX + 1), "-1", str(2**70)])
def test_the_seed_flag_out_of_range_is_refused_before_storage(tmp_path, seed):
    refused(
        tmp_path,
        recipe(tmp_path, TINY),
        f"train.seed: {SEED_RANGE}",
        commands=("run",),
        extra=["--seed", seed],
    )


def test_seed_repeats_past_the_range_are_refused(tmp_path):
    text = TINY.replace("  epochs: 2\n", f"  epochs: 2\n  seed: {SEED_MAX - 1}\n").replace(
        "  n_trials: 3\n", "  n_trials: 3\n  repeats: 3\n"
    )
    refused(
        tmp_path,
        recipe(tmp_path, text),
        f"r.yaml:{line_of(text, 'seed:')}:3: train.seed: with search.repeats 3 the trials train with seeds up"
        f" to {SEED_MAX + 1}, past {SEED_MAX}",
        f"use a seed of at most {SEED_MAX - 2}",
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            f"train.seed: {{low: 0, high: {2**33}}}",
            f"high {2**33} is out of range for train.seed: {SEED_RANGE}",
        ),
        ("train.seed: [1, -3]", f"choice -3 is not valid for train.seed: {SEED_RANGE}"),
        ("data.seed: [1, -5]", f"data.seed = -5: {SEED_RANGE}"),
        (f"data.seed: {{low: 0, high: {SEED_MAX + 1}}}", f"data.seed = {SEED_MAX + 1}: {SEED_RANGE}"),
    ],
    ids=["train range", "train choices", "data choices", "data range"],
)
def test_a_searched_seed_out_of_range_is_refused(tmp_path, entry, message):
    refused(tmp_path, recipe(tmp_path, space(entry)), message)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("{name: mlp, widths: [16, -1]}", "model.widths[1]: must be at least 1"),
        ("{name: mlp, widths: [16, 0]}", "model.widths[1]: must be at least 1"),
        ("{name: mlp, widths: [100000]}", "model.widths[0]: must be at most 65536"),
        ("{name: mlp, widths: " + listed(65) + "}", "model.widths: must have at most 64 item(s)"),
    ],
    ids=["negative", "zero", "huge", "too many layers"],
)
def test_layer_sizes_torch_cannot_build_are_refused_at_load_time(tmp_path, model, message):
    text = TINY.replace("{name: mlp, depth: 1, width: 16}", model)
    refused(tmp_path, recipe(tmp_path, text), f"r.yaml:{line_of(text, 'model:')}:", message)


def test_a_study_seeded_at_the_top_of_the_range_resumes(tmp_path):
    """The sampler of a resumed study is seeded past the trials it has: that seed stays in range."""
    text = TINY.replace("  epochs: 2\n", f"  epochs: 1\n  seed: {SEED_MAX}\n").replace(
        "n_trials: 3", "n_trials: 1"
    )
    recipe(tmp_path, text, "top.yaml")
    for trials in ("1", "2"):  # the second run resumes after one trial
        done = sweepnn(
            tmp_path, "run", "top.yaml", "--results", "results", "--device", "cpu", "--trials", trials
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        assert "Traceback" not in done.stdout + done.stderr
