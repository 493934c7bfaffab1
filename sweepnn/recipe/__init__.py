"""A recipe: YAML in, a validated, frozen Recipe out. No torch, no Optuna: `sweepnn validate` and
every command's first checks run on this package alone.

config (the typed tree), yaml_reading (the file and its YAML, with line numbers), loading (every
problem at once), locations (where a problem is, in the recipe's words), checks (across sections,
and every value the search can sample), paths (dotted paths), space and space_checks (the search
plan), budget (how many trials), variants (overrides, --smoke, YAML again), fair (one study per
arm), catalog (every family and field by name), limits (the bounds on input).
"""
