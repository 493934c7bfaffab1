"""Start-up time of the CLI: `sweepnn --help` and `sweepnn validate`, against importing torch.

Commands that train nothing should not pay for torch or Optuna (STYLE.md: heavy imports happen inside
the commands that need them). Each round runs, as subprocesses and in an order that alternates
between rounds: `sweepnn --help`, `sweepnn validate recipes/quickstart.yaml`, `python -c "import
torch"` (the reference: what a command that imports torch pays at least) and `python -c pass` (the
interpreter alone). Medians over --repeats rounds.

Whether torch, Optuna or pandas were imported is checked in a fresh interpreter that runs each
command through Typer's CliRunner and then reads sys.modules (as tests/cli/test_cli.py does); `python -X
importtime` names the slowest top-level imports of `sweepnn --help`.

    python bench/startup.py [--repeats 7]

Prints one JSON line per command, then one with the ratios to `import torch`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = str(ROOT / "recipes" / "quickstart.yaml")
SWEEPNN = shutil.which("sweepnn") or "sweepnn"

COMMANDS = {
    "sweepnn --help": [SWEEPNN, "--help"],
    "sweepnn validate recipes/quickstart.yaml": [SWEEPNN, "validate", QUICKSTART],
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
    "python -c pass": [sys.executable, "-c", "pass"],
}

# Which heavy modules a command loads, read in the same interpreter right after it ran.
_IMPORTS = """
import sys
from typer.testing import CliRunner
from sweepnn.cli import app
r = CliRunner().invoke(app, sys.argv[1:])
assert r.exit_code == 0, r.output
print(sorted(m for m in ("torch", "optuna", "pandas") if m in sys.modules))
"""


def env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200"}


def heavy_imports(args: list[str]) -> list[str]:
    cmd = [sys.executable, "-c", _IMPORTS, *args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env()).stdout
    return json.loads(out.strip().splitlines()[-1].replace("'", '"'))


def slowest_imports(args: list[str], top: int = 5) -> list[dict]:
    """Top-level imports by cumulative microseconds, from python -X importtime."""
    code = "import sys; from sweepnn.cli import main; sys.argv = ['sweepnn', *sys.argv[1:]]; main()"
    cmd = [sys.executable, "-X", "importtime", "-c", code, *args]
    err = subprocess.run(cmd, capture_output=True, text=True, env=env()).stderr
    rows = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line.removeprefix("import time:").split("|")
        if not name[1:].startswith(" "):  # nested imports are indented by two spaces per level
            rows.append({"module": name.strip(), "cumulative_ms": round(int(cumulative) / 1e3, 1)})
    return sorted(rows, key=lambda r: r["cumulative_ms"], reverse=True)[:top]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    for cmd in COMMANDS.values():  # warm the page cache
        subprocess.run(cmd, check=True, capture_output=True, env=env())
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for r in range(args.repeats):
        for name in list(COMMANDS) if r % 2 == 0 else reversed(list(COMMANDS)):
            t0 = time.perf_counter()
            subprocess.run(COMMANDS[name], check=True, capture_output=True, env=env())
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(v) for name, v in times.items()}
    imports = {
        "sweepnn --help": heavy_imports(["--help"]),
        "sweepnn validate recipes/quickstart.yaml": heavy_imports(["validate", QUICKSTART]),
    }
    for name in COMMANDS:
        row = {"command": name, "repeats": args.repeats, "median_s": round(med[name], 3)}
        if name in imports:
            row["imports_of_torch_optuna_pandas"] = imports[name]
        print(json.dumps(row), flush=True)
    torch_s = med['python -c "import torch"']
    print(
        json.dumps(
            {
                "figure": "CLI start-up / import torch",
                "help_vs_import_torch": round(med["sweepnn --help"] / torch_s, 2),
                "validate_vs_import_torch": round(
                    med["sweepnn validate recipes/quickstart.yaml"] / torch_s, 2
                ),
                "help_imports_torch_or_optuna": bool({"torch", "optuna"} & set(imports["sweepnn --help"])),
                "validate_imports_torch_or_optuna": bool(
                    {"torch", "optuna"} & set(imports["sweepnn validate recipes/quickstart.yaml"])
                ),
                "slowest_imports_of_help": slowest_imports(["--help"]),
                "goal": "--help and validate import neither torch nor optuna (faster than import torch)",
            }
        )
    )


if __name__ == "__main__":
    main()
