"""A user's own code as options: factories named by import path (`nets:resnet`, `mypkg.models:ResNet`)
and options that installed packages register through entry points (`sweepnn.models`, ...).

Nothing here imports a user's module until a recipe names it: entry points are read (their names), not
loaded, so `sweepnn --help` and recipes of built-ins never run plugin code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def add_code_folder(folder: str | Path) -> None:
    """Make the modules in `folder` (a recipe's own folder) importable by name, here and in the
    processes this one starts (workers): first on sys.path and on PYTHONPATH, as Python does for a
    script's folder."""
    path = str(Path(folder).resolve())
    if path not in sys.path:
        sys.path.insert(0, path)
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if path not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([path, *parts])
