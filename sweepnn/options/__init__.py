"""The option families a recipe chooses from, one registry per module.

Every module here is importable without torch or optuna (validation and `--help` must stay fast);
builders import them inside the function that needs them.
"""

# Open the families that take a user's own code (import paths, entry points): imported here so that
# any use of the registries sees them, and nothing of the user's is imported until a recipe names it.
from sweepnn.options import (
    own_data,  # noqa: F401
    own_models,  # noqa: F401
)
