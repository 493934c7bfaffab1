"""A user's own network and data through the real command (issue 15): examples/own_model installed for
real, its recipes run by `python -m sweepnn run`, and bad code and data refused with the user's own
file and line, exit 2 and nothing written.

Every command here is a process of its own (each pays for importing torch), so they are started
together, a few at a time, by one fixture, and each test reads its own command's result.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import rows

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "own_model"
# Two cores: three processes at once keep both busy while one of them waits on its imports.
PARALLEL = 3


@pytest.fixture(scope="session")
def installed(tmp_path_factory) -> Path:
    """The example package installed for real (built by setuptools, no dependencies fetched), into a
    folder of its own that the commands get on PYTHONPATH: site-packages is left as it was.

    Built offline by this environment's setuptools (70.1 or later builds wheels alone); where it has
    none (a Python 3.12 venv), pip fetches one to build with. From a copy, so that the build leaves no
    build/ or egg-info in the checkout."""
    base = tmp_path_factory.mktemp("own_nets")
    source, target = base / "source", base / "site"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "--quiet"]
    cmd += ["--target", str(target), str(source)]
    offline = subprocess.run([*cmd, "--no-build-isolation", "--no-index"], capture_output=True, text=True)
    if offline.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        online = subprocess.run(cmd, capture_output=True, text=True)
        assert online.returncode == 0, "\n".join(p.stdout + p.stderr for p in (offline, online))
    assert (target / "own_nets" / "models.py").exists()
    return target


@dataclass
class Done:
    code: int
    out: str
    err: str
    cwd: Path
    before: set[str]  # the files in cwd before the command

    def written(self) -> set[str]:
        """Files the command left in its folder that were not there before."""
        return files_in(self.cwd) - self.before


def files_in(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def command(
    *args: str, cwd: Path, site: Path | None = None, python: list[str] | None = None, columns: int = 200
) -> Done:
    """A real sweepnn process (one torch thread, a wide terminal, no bytecode written beside the
    user's files), with the installed example package on PYTHONPATH when `site` is given."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": str(columns), "OMP_NUM_THREADS": "1"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(site)] if site else [])
    before = files_in(cwd)
    argv = [sys.executable, *(python or ["-m", "sweepnn"]), *args]
    p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    return Done(p.returncode, p.stdout, p.stderr, cwd, before)


# ---- the user's code that the cases name ---------------------------------------------------------

# A user's module that imports torch at the top, as most do; each process that imports it pays for
# torch (two seconds here), so the cases that fail before any model is built name the modules below.
CASES_PY = """\
import torch
from torch import nn


def mlp(depth: int = 1, width: int = 16, in_features: int = 2, num_classes: int = 2):
    layers = [nn.Flatten()]
    d = in_features
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    layers.append(nn.Linear(d, num_classes))
    return nn.Sequential(*layers)


def broken(depth: int = 1):
    raise ValueError("depth must be odd")


def notmodule(depth: int = 1):
    return 3


def wrong_size(in_features: int = 2):
    return nn.Linear(in_features, 7)


class Picky(nn.Module):
    def forward(self, x):
        raise RuntimeError("this network takes images")


def picky():
    return Picky()


class Points(torch.utils.data.Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 2, generator=g)
        self.y = (self.x[:, 0] > 0).long()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def dataset(n: int = 200):
    return Points(n)
"""

# A factory that imports torch when called: a recipe that fails on its parameters never pays for it.
LIGHT_PY = """\
def mlp(depth: int = 1, width: int = 16, in_features: int = 2, num_classes: int = 2):
    from torch import nn

    return nn.Sequential(nn.Linear(in_features, width), nn.ReLU(), nn.Linear(width, num_classes))
"""

EXPLODING_PY = """\
import json

raise RuntimeError("cannot set up")
"""

# Datasets from numpy alone: `sweepnn run` reads and checks the data before it imports torch.
DATA_PY = """\
import numpy as np


def mismatched(n: int = 100):
    return np.zeros((n, 2), np.float32), np.zeros(n - 1, np.int64)


def with_nan(n: int = 100):
    x = np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32)
    x[3, 1] = np.nan
    return x, (x[:, 0] > 0).astype(np.int64)


def failing(n: int = 100):
    return np.load("no-such-file.npy")


def with_val(n: int = 200):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n + 37, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    return {"train": (x[:n], y[:n]), "val": (x[n:], y[n:])}
"""
FILES = {"cases.py": CASES_PY, "light.py": LIGHT_PY, "exploding.py": EXPLODING_PY, "data.py": DATA_PY}


def line_of(text: str, needle: str) -> int:
    """The line number of the first line of `text` holding `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def recipe(model: str = '{name: "cases:mlp"}', data: str = "{name: moons, n_samples: 200}", extra=""):
    return (
        f"data: {data}\nmodel: {model}\ntrain: {{epochs: 1, batch_size: 32}}\nsearch:\n  n_trials: 1\n{extra}"
    )


# name -> (recipe text, exit code, what stderr says)
BAD = {
    "missing module": (
        recipe('{name: "nowhere:mlp"}'),
        ["r.yaml:2:", "model.name: cannot import 'nowhere'", "no module 'nowhere' in the recipe's folder"],
    ),
    "missing attribute": (
        recipe('{name: "light:mlpp"}'),
        ["r.yaml:2:", "light.py has no 'mlpp'; did you mean 'mlp'? it has: mlp"],
    ),
    "module raises at import": (
        recipe('{name: "exploding:net"}'),
        [f"exploding.py:{line_of(EXPLODING_PY, 'raise')} in <module>: RuntimeError: cannot set up"],
    ),
    "factory raises": (
        recipe('{name: "cases:broken"}'),
        [f"building model 'cases:broken' failed at cases.py:{line_of(CASES_PY, 'must be odd')} in broken"],
    ),
    "factory returns no module": (
        recipe('{name: "cases:notmodule"}'),
        ["model 'cases:notmodule' returned int, not a torch.nn.Module"],
    ),
    "wrong output size": (
        recipe('{name: "cases:wrong_size"}'),
        ["must map a batch of 2 to 2 x 2 outputs (classes), but returned (2, 7)"],
    ),
    "forward raises": (
        recipe('{name: "cases:picky"}'),
        [f"at cases.py:{line_of(CASES_PY, 'takes images')} in forward: RuntimeError: this network takes"],
    ),
    "depth as text": (
        'data: {name: moons, n_samples: 200}\nmodel:\n  name: "light:mlp"\n  depth: "20"\n',
        ["r.yaml:4:3: model.depth: expected a whole number, got the text '20'"],
    ),
    "misspelt keyword": (
        'data: {name: moons, n_samples: 200}\nmodel:\n  name: "light:mlp"\n  dpeth: 2\n',
        ["r.yaml:4:3: model.dpeth: unknown key 'dpeth'; did you mean 'depth'?"],
    ),
    "nothing to swap": (
        recipe(extra="  space:\n    model.norm: [batchnorm, none]\n"),
        ["searches model.norm, but model 'cases:mlp' has no normalization layer to swap"],
    ),
    "data of mismatched lengths": (
        recipe(data='{name: "data:mismatched"}'),
        ["dataset 'data:mismatched': its train split has 100 inputs but 99 targets"],
    ),
    "data with NaN": (
        recipe(data='{name: "data:with_nan"}'),
        ["dataset 'data:with_nan' holds values that are not finite numbers (inf or NaN)"],
    ),
    "data factory raises": (
        recipe(data='{name: "data:failing"}'),
        [f"loading dataset 'data:failing' failed at data.py:{line_of(DATA_PY, 'no-such-file')} in failing"],
    ),
}
GOOD = {
    "torch Dataset": recipe("{name: mlp, width: 16}", data='{name: "cases:dataset"}'),
    "own validation split": recipe(
        "{name: mlp, width: 16}", data='{name: "data:with_val", val_fraction: 0.5}'
    ),
}

# Runs the command as `python -m sweepnn` does, then prints which of these modules it had imported.
PROBE = """\
import runpy, sys
sys.argv = ["sweepnn", *sys.argv[1:]]
try:
    runpy.run_module("sweepnn", run_name="__main__", alter_sys=True)
except SystemExit as e:
    code = e.code
else:
    code = 0
print("IMPORTED", sorted(m for m in ("torch", "optuna", "own_nets") if m in sys.modules), flush=True)
sys.exit(code)
"""

BUILTIN = """\
data: {name: moons, n_samples: 200}
model: {name: mlp, depth: 1, width: 8}
train: {epochs: 1}
search: {n_trials: 1}
"""


def imported(done: Done) -> list[str]:
    line = next(x for x in done.out.splitlines() if x.startswith("IMPORTED "))
    return json.loads(line.removeprefix("IMPORTED ").replace("'", '"'))


@pytest.fixture(scope="module")
def done(installed, tmp_path_factory) -> dict[str, Done]:
    """Every command of this module, run a few at a time: name -> its result."""
    jobs: dict[str, tuple[list[str], dict]] = {}
    for name, text in {**{k: v[0] for k, v in BAD.items()}, **GOOD}.items():
        folder = tmp_path_factory.mktemp("case")
        for file, code in FILES.items():
            (folder / file).write_text(code)
        (folder / "r.yaml").write_text(text)
        jobs[name] = (["run", "r.yaml", "--results", "res", "--threads", "1", "--quiet"], {"cwd": folder})
    # the example's recipes as they are: the import path one in place, the installed one from a
    # folder of its own, so that only the installed package can give `resmlp` and `sines`
    shared = tmp_path_factory.mktemp("examples")
    shutil.copy(EXAMPLE / "installed.yaml", shared / "installed.yaml")
    smoke = ["--smoke", "--trials", "2", "--threads", "1", "--quiet", "--results", str(shared / "res")]
    plugin = {"cwd": shared, "site": installed}
    jobs["import path recipe"] = (["run", str(EXAMPLE / "recipe.yaml"), *smoke], {"cwd": shared})
    jobs["entry point recipe"] = (["run", "installed.yaml", *smoke], plugin)
    jobs["options"] = (["options"], {**plugin, "columns": 400})  # no row wraps
    jobs["schema"] = (["schema"], plugin)
    builtin = tmp_path_factory.mktemp("builtin")
    (builtin / "b.yaml").write_text(BUILTIN)
    probe = {"cwd": builtin, "site": installed, "python": ["-c", PROBE]}
    jobs["help probe"] = (["--help"], probe)
    jobs["built-in validate probe"] = (["validate", "b.yaml"], probe)
    order = sorted(jobs, key=lambda n: "recipe" not in n)  # the slowest first: the pool's tail is short
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {n: pool.submit(command, *jobs[n][0], **jobs[n][1]) for n in order}
        return {n: f.result() for n, f in futures.items()}


# ---- bad input: exit 2, the message, nothing written ---------------------------------------------


@pytest.mark.parametrize("name", list(BAD))
def test_bad_own_code_or_data_is_exit_2_with_the_message_and_nothing_written(done, name):
    result = done[name]
    assert result.code == 2, result.out + result.err
    for words in BAD[name][1]:
        assert words in result.err, result.err
    assert "Traceback" not in result.err
    assert result.written() == set()  # no results folder, no journal, no bytecode


@pytest.mark.parametrize("name", list(GOOD))
def test_own_data_in_the_other_shapes_trains(done, name):
    result = done[name]
    assert result.code == 0, result.out + result.err
    (trial,) = rows(result.cwd / "res" / "r")
    assert trial["state"] == "complete" and float(trial["val_accuracy"]) > 0.6


def test_an_own_validation_split_is_the_validation_set(done):
    # 37 validation examples of the factory's own, not half of the 200 (val_fraction 0.5 unused)
    (trial,) = rows(done["own validation split"].cwd / "res" / "r")
    correct = float(trial["val_accuracy"]) * 37
    assert abs(correct - round(correct)) < 1e-6


# ---- the example's recipes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, study", [("import path recipe", "recipe"), ("entry point recipe", "installed")]
)
def test_the_example_recipes_run(done, name, study):
    result = done[name]
    assert result.code == 0, result.out + result.err
    folder = result.cwd / "res" / f"{study}-smoke"
    trials = rows(folder)
    assert len(trials) == 2 and all(t["state"] in ("complete", "pruned") for t in trials)
    assert (folder / "best.yaml").exists() and (folder / "summary.md").exists()


def test_the_installed_options_are_listed(done):
    result = done["options"]
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    resmlp = next(x for x in lines if "│ resmlp " in x)
    assert "depth=2, width=64, dropout=0.0, activation=relu, norm=batchnorm, init=None" in resmlp
    assert "A residual MLP" in resmlp
    sines = next(x for x in lines if "│ sines " in x)
    assert "n=1000, length=64, classes=3, noise=0.5" in sines
    assert "Noisy sine waves" in sines


def test_the_installed_options_are_in_the_schema(done):
    result = done["schema"]
    assert result.code == 0, result.err
    schema = json.loads(result.out)
    model = schema["$defs"]["ModelResmlp"]["properties"]
    assert model["depth"]["default"] == 2 and model["width"]["type"] == "integer"
    assert {"activation", "norm", "init"} <= set(model)
    assert "n" in schema["$defs"]["DatasetSines"]["properties"]
    names = json.dumps(schema["properties"]["model"])
    assert '"resmlp"' in names and '"mlp"' in names


# ---- what is imported, and when ------------------------------------------------------------------


def test_help_imports_neither_torch_nor_optuna_nor_the_plugin(done):
    result = done["help probe"]
    assert result.code == 0 and "run" in result.out
    assert imported(result) == []


def test_a_recipe_of_built_ins_never_imports_the_plugin(done):
    result = done["built-in validate probe"]
    assert result.code == 0, result.err
    assert imported(result) == []


@pytest.mark.slow
def test_a_sweep_of_built_ins_never_imports_the_plugin(installed, tmp_path):
    """The whole of `sweepnn run` (data, model, Optuna, the result files) with the plugin installed."""
    (tmp_path / "b.yaml").write_text(BUILTIN)
    args = ["run", "b.yaml", "--results", "res", "--quiet"]
    result = command(*args, cwd=tmp_path, site=installed, python=["-c", PROBE])
    assert result.code == 0, result.err
    assert imported(result) == ["optuna", "torch"]  # it trained; and own_nets was never imported


def test_the_plugin_is_there_to_be_imported(done, installed):
    """The two tests above could pass with no plugin at all: this one shows it is installed and found."""
    code = (
        "from importlib.metadata import entry_points as e; print([p.name for p in e(group='sweepnn.models')])"
    )
    result = command(code, cwd=installed, site=installed, python=["-c"])
    assert result.code == 0 and "resmlp" in result.out, result.err
