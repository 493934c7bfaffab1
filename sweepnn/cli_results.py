"""Commands that read finished studies: list, compare, show, export, plot (registered on sweepnn.cli.app)."""

from __future__ import annotations
