"""The command line. `app` is made in cli/app.py; each module beside it registers one group of commands
on it when imported: sweeps (run, validate, download, status), catalog (schema, options), results
(list, compare, show, export, plot), sharing (report) and studies (delete, copy, rename)."""

import importlib

from sweepnn.cli.app import app, main

# in the order `sweepnn --help` lists them
COMMAND_GROUPS = ("sweeps", "catalog", "results", "sharing", "studies")
for _group in COMMAND_GROUPS:
    importlib.import_module(f"sweepnn.cli.{_group}")

__all__ = ["COMMAND_GROUPS", "app", "main"]
