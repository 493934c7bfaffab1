"""Options an installed package registers by entry points: listed, in the schema, validated like the
built-ins, and never imported before something names them. The package is a real distribution on the
path (a module and its .dist-info with entry_points.txt), read by importlib.metadata in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

PLUGIN = '''
import pathlib, os
pathlib.Path(os.environ["PLUG_MARKER"]).write_text("imported")  # shows that something imported it

def plugnet(width: int = 8, depth: int = 1, in_features: int = 2, num_classes: int = 2):
    """A tiny net from an installed package."""
    from torch import nn
    layers, d = [nn.Flatten()], in_features
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, num_classes))
'''


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    (root / "plug-0.1.dist-info").mkdir(parents=True)
    (root / "plug.py").write_text(PLUGIN)
    (root / "plug-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: plug\nVersion: 0.1\n")
    (root / "plug-0.1.dist-info" / "entry_points.txt").write_text(
        "[sweepnn.models]\nplugnet = plug:plugnet\n"
    )
    return root


def _run(site, *args, cwd):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "PLUG_MARKER": str(site / "marker"),
        "COLUMNS": "200",
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_an_installed_model_is_listed_and_in_the_schema(site, tmp_path):
    listed = _run(site, "-m", "sweepnn", "options", "model", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "plugnet" in listed.stdout and "A tiny net from an installed package" in listed.stdout
    schema = _run(site, "-m", "sweepnn", "schema", cwd=tmp_path)
    assert schema.returncode == 0, schema.stderr
    model = json.loads(schema.stdout)["properties"]["model"]["anyOf"]
    assert "plugnet" in model[0]["enum"]
    assert "plugnet" in model[1]["discriminator"]["mapping"]
    ref = model[1]["discriminator"]["mapping"]["plugnet"].rsplit("/", 1)[1]
    assert set(json.loads(schema.stdout)["$defs"][ref]["properties"]) >= {"width", "depth", "init", "norm"}


def test_nothing_imports_the_plugin_until_a_recipe_names_it(site, tmp_path):
    marker = site / "marker"
    assert _run(site, "-m", "sweepnn", "--help", cwd=tmp_path).returncode == 0
    (tmp_path / "builtin.yaml").write_text("model: {name: mlp, depth: 1}\n")
    assert _run(site, "-m", "sweepnn", "validate", "builtin.yaml", cwd=tmp_path).returncode == 0
    assert not marker.exists()  # entry points were read (the names), not loaded
    (tmp_path / "plug.yaml").write_text("model: {name: plugnet, width: 4}\n")
    done = _run(site, "-m", "sweepnn", "validate", "plug.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert marker.exists()


def test_an_installed_models_fields_are_validated_in_place(site, tmp_path):
    (tmp_path / "r.yaml").write_text(
        textwrap.dedent("""\
        model:
          name: plugnet
          width: "4"
          dpth: 2
        search:
          space:
            model.depth: [1, 2]
        """)
    )
    done = _run(site, "-m", "sweepnn", "validate", "r.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "r.yaml:3:3: model.width: expected a whole number" in done.stderr
    assert "r.yaml:4:3: model.dpth: unknown key 'dpth'; did you mean 'depth'?" in done.stderr
    (tmp_path / "typo.yaml").write_text("model: {name: plugnte}\n")
    typo = _run(site, "-m", "sweepnn", "validate", "typo.yaml", cwd=tmp_path)
    assert typo.returncode == 2
    assert "unknown model 'plugnte'; did you mean 'plugnet'?" in typo.stderr
    assert "plugnet" in typo.stderr.split("valid:")[1]


def test_an_installed_model_trains_in_a_real_sweep(site, tmp_path):
    (tmp_path / "r.yaml").write_text(
        textwrap.dedent("""\
        data: {name: moons, n_samples: 200}
        model: {name: plugnet, width: 8}
        train: {epochs: 2}
        search: {n_trials: 2, space: {model.depth: [1, 2], model.init: [torch_default, xavier_normal]}}
        """)
    )
    done = _run(site, "-m", "sweepnn", "run", "r.yaml", "--results", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    csv = (tmp_path / "out" / "r" / "trials.csv").read_text()
    assert "model.depth" in csv and "model.init" in csv
