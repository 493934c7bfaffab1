"""Bounds on what a recipe may hold, in one place.

A recipe is a few kilobytes of hand-written YAML: a handful of sections, a search space of a few
parameters with a few choices each. Input far past that is a mistake or an attack (an alias bomb, a
generated file pointed at by accident), and would cost minutes or gigabytes before any message. Each
bound below is far above anything a real recipe needs, and each is checked before the work it guards:
the file's size before it is read, YAML's nesting and alias expansion while it is composed, the
search space's sizes before pydantic validates it and before a grid is enumerated.

The seed range is not a size: it is what the libraries take (numpy's and Optuna's random states
accept 0..2**32-1 and nothing else), so a seed outside it is refused at load time, not after the
study's storage was made.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

NAME_MAX = 100  # a study name's length, leaving room for the -smoke and -trialN suffixes

# Bytes in a recipe file; at most this + 1 are ever read. The largest recipe shipped is ~3 KB.
RECIPE_BYTES_MAX = 1024 * 1024

# Levels of nesting in the YAML, counted as it is composed (so deep input never reaches Python's
# recursion limit) and again through aliases. A recipe nests about 7 deep (search.space.<path>.
# choices[i].<option>.<parameter>).
YAML_DEPTH_MAX = 32

# Values (scalars, lists and mappings) in the tree the YAML stands for once every alias is expanded.
# This is what stops a "billion laughs" alias bomb: the expansion is counted on the composed node
# graph, each anchor measured once, before anything is built. A real recipe holds a few hundred.
YAML_NODES_MAX = 100_000

# Characters of one number as written: 4300 decimal digits already fail Python's int(), and YAML 1.1
# base-60 numbers (1:59:59:...) take quadratic time to read. A float needs fewer than 30.
YAML_NUMBER_CHARS_MAX = 100

# Problems explained for one recipe: each costs a search for the closest valid name, and a file of
# 80,000 unknown keys would take a minute to list; the first ones say what is wrong.
PROBLEMS_MAX = 100

# Searched parameters in one search space (the schema has far fewer fields worth searching).
SPACE_PARAMS_MAX = 100

# Choices of one searched parameter, and in the whole space: every choice is checked against the
# recipe on its own (about a millisecond each), so these bound `validate` to a few seconds.
CHOICES_MAX = 2_000
SPACE_CHOICES_MAX = 5_000

# Configurations of a grid search (the product of its parameters' value counts): the grid is
# enumerated before the first trial, and each configuration is a whole training run.
GRID_MAX = 100_000

# Seeds: numpy's RandomState and Optuna's samplers take 0..2**32-1; torch takes that too.
SEED_MAX = 2**32 - 1


def seed_in_range(value: int) -> int:
    """`value` unchanged if it is a seed numpy and Optuna take (0 to 2**32 - 1), else a ValueError whose
    message shortens a very long number."""
    if not 0 <= value <= SEED_MAX:
        shown = str(value) if len(str(value)) <= 40 else f"{str(value)[:20]}... ({len(str(value))} digits)"
        raise ValueError(
            f"a seed is a whole number from 0 to {SEED_MAX} (2**32 - 1, what numpy and Optuna take);"
            f" got {shown}"
        )
    return value


# A seed field: the schema states the range (for editors), the check words the refusal.
Seed = Annotated[
    int, AfterValidator(seed_in_range), Field(json_schema_extra={"minimum": 0, "maximum": SEED_MAX})
]
