"""The option families a recipe chooses from, one registry per module.

Every module here is importable without torch or optuna (validation and `--help` must stay fast);
builders import them inside the function that needs them.
"""
