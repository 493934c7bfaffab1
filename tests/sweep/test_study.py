"""Sweeps through the library: every sampler and pruner, multi-objective studies, storages, budgets."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from conftest import TINY, Quiet

from sweepnn import record
from sweepnn.options.search import PRUNERS, SAMPLERS
from sweepnn.recipe.budget import grid_size
from sweepnn.recipe.loading import load_text
from sweepnn.results.files import write_results
from sweepnn.results.tables import trials_frame
from sweepnn.sweep.opening import open_study
from sweepnn.sweep.resuming import fingerprint
from sweepnn.sweep.storage import open_storage
from sweepnn.sweep.study import run_sweep

CPU = torch.device("cpu")


def sweep(text: str, tmp_path: Path, name: str = "t", storage: str | None = None):
    recipe = load_text(text, f"{name}.yaml", name)
    study, resumed = open_study(recipe, open_storage(storage, tmp_path))
    events = Quiet()
    summary = run_sweep(recipe, study, CPU, events, resumed=resumed)
    return recipe, summary, events


def _space_for(sampler: str) -> str:
    if SAMPLERS[sampler].needs_grid:
        return "    train.optimizer.lr: [0.003, 0.03]\n    model.activation: [relu, tanh]\n"
    return (
        "    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}\n"
        "    model.dropout: {low: 0.0, high: 0.3}\n"
    )


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_every_sampler_runs_a_sweep(sampler, tmp_path):
    text = (
        TINY.split("search:")[0]
        + f"search:\n  sampler: {sampler}\n  n_trials: 4\n  space:\n{_space_for(sampler)}"
    )
    recipe, summary, _events = sweep(text, tmp_path)
    trials = summary.study.trials
    assert len(trials) == 4 and all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    assert isinstance(summary.study.sampler, getattr(optuna.samplers, SAMPLERS[sampler].optuna_class))
    assert all("train.optimizer.lr" in t.params for t in trials)
    if sampler == "grid":  # four grid points, each visited once
        assert grid_size(recipe) == 4
        assert len({(t.params["train.optimizer.lr"], t.params["model.activation"]) for t in trials}) == 4


CONDITIONAL_GRID = (
    TINY.split("search:")[0]
    + """\
search:
  sampler: grid
  pruner: none
  space:
    train.optimizer.name: [sgd, momentum]
    train.optimizer.momentum: [0.5, 0.9]
    model.width: [4, 8]
"""
)


def _configs(study) -> list[tuple]:
    return [tuple(sorted(t.params.items())) for t in study.trials if t.state.is_finished()]


def test_a_grid_with_conditional_parameters_visits_each_configuration_once(tmp_path):
    # sgd takes no momentum: 2 widths for sgd + 2 momenta x 2 widths = 6, not the product's 8
    recipe, summary, _ = sweep(CONDITIONAL_GRID, tmp_path)
    assert grid_size(recipe) == 6
    configs = _configs(summary.study)
    assert len(configs) == 6 == len(set(configs))
    assert sum("train.optimizer.momentum" not in dict(c) for c in configs) == 2


def test_a_resumed_grid_runs_the_points_it_has_not_visited(tmp_path):
    sweep(CONDITIONAL_GRID.replace("  pruner: none", "  pruner: none\n  n_trials: 3"), tmp_path)
    _, summary, events = sweep(CONDITIONAL_GRID, tmp_path)  # the full grid: 3 more
    assert len(events.done) == 3
    configs = _configs(summary.study)
    assert len(configs) == 6 == len(set(configs))


@pytest.mark.parametrize("pruner", list(PRUNERS))
def test_every_pruner_is_built_and_reported_to(pruner, tmp_path):
    text = (
        TINY.replace("  sampler: random\n", f"  sampler: random\n  pruner: {pruner}\n")
        .replace("n_trials: 3", "n_trials: 6")
        .replace("epochs: 2", "epochs: 3")
    )
    _, summary, _events = sweep(text, tmp_path)
    assert type(summary.study.pruner).__name__ == PRUNERS[pruner].optuna_class
    for t in summary.study.trials:  # each trial reported its objective at every epoch it ran
        assert sorted(t.intermediate_values) == list(range(1, t.user_attrs["epochs"] + 1))


def test_median_pruner_stops_trailing_trials(tmp_path):
    # Learning rates from hopeless to good: the median pruner must stop some hopeless ones early.
    text = (
        TINY.replace(
            "  sampler: random\n",
            "  sampler: random\n  pruner: {name: median, n_startup_trials: 2, n_warmup_steps: 1}\n",
        )
        .replace("n_trials: 3", "n_trials: 12")
        .replace("epochs: 2", "epochs: 6")
        .replace("{low: 1e-3, high: 1e-1, log: true}", "{low: 1e-6, high: 1e-1, log: true}")
    )
    _, summary, _ = sweep(text, tmp_path)
    pruned = [t for t in summary.study.trials if t.state.name == "PRUNED"]
    assert pruned, "no trial was pruned"
    assert all(t.user_attrs["epochs"] < 6 for t in pruned)


def test_multi_objective_sweep_has_a_pareto_front(tmp_path):
    text = TINY.replace("  sampler: random\n", "  sampler: nsga2\n  objective: [val_accuracy, train_time]\n")
    recipe, summary, _ = sweep(text, tmp_path)
    study = summary.study
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert study.best_trials and all(len(t.values) == 2 for t in study.best_trials)
    df = trials_frame(study, recipe)
    assert {"objective.val_accuracy", "objective.train_time", "pareto"} <= set(df.columns)
    assert df["pareto"].iloc[0]  # Pareto-optimal trials are listed first
    written = write_results(study, recipe, tmp_path / "results")
    assert (written.folder / "best.yaml").exists()


def test_sqlite_url_storage(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    _, _summary, _ = sweep(TINY, tmp_path, storage=url)
    assert len(optuna.load_study(study_name="t", storage=url).trials) == 3


def test_budget_counts_earlier_trials_and_fingerprint_ignores_it(tmp_path):
    sweep(TINY, tmp_path)
    _, summary, events = sweep(TINY.replace("n_trials: 3", "n_trials: 5"), tmp_path)
    assert events.start == (3, 5, True) and summary.ran == 2 and len(summary.study.trials) == 5
    a, b = (load_text(TINY.replace("n_trials: 3", f"n_trials: {n}"), "r.yaml", "r") for n in (3, 5))
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(load_text(TINY.replace("epochs: 2", "epochs: 3"), "r.yaml", "r"))


def test_timeout_stops_starting_trials(tmp_path):
    text = TINY.replace("n_trials: 3", "n_trials: 1000\n  timeout: 2s")
    _, summary, _ = sweep(text, tmp_path)
    assert 1 <= summary.ran < 1000 and summary.seconds < 10


def test_sampling_is_reproducible_by_seed(tmp_path):
    text = TINY.replace("sampler: random", "sampler: tpe")
    _, first, _ = sweep(text, tmp_path / "a")
    _, second, _ = sweep(text, tmp_path / "b")
    assert [t.params for t in first.study.trials] == [t.params for t in second.study.trials]
    assert [t.value for t in first.study.trials] == [t.value for t in second.study.trials]


def test_embedded_storage_is_readable_by_optuna_dashboard(tmp_path):
    dashboard = pytest.importorskip("optuna_dashboard")
    from wsgiref.util import setup_testing_defaults

    sweep(TINY, tmp_path)
    app = dashboard.wsgi(
        str(tmp_path / "studies.journal")
    )  # the path as a user passes it on the command line
    environ = {"PATH_INFO": "/api/studies", "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    status = []
    body = b"".join(app(environ, lambda s, h, *a: status.append(s)))
    assert status == ["200 OK"]
    studies = json.loads(body)["study_summaries"]
    assert [(s["study_name"], s["directions"]) for s in studies] == [("t", ["maximize"])]


def test_optuna_dashboard_labels_the_objectives_by_their_metric(tmp_path):
    """The real optuna-dashboard, started on a free local port: its API names each objective by the
    recipe's metric (not "Objective 0"), for a new study and for one made before sweepnn named them."""
    import shutil
    import socket
    import subprocess
    import time
    import urllib.request

    if shutil.which("optuna-dashboard") is None:
        pytest.skip("optuna-dashboard is not installed (pip install 'sweepnn[dev]')")
    text = TINY.replace("search:\n", "search:\n  objective: [val_accuracy, val_loss]\n  pruner: none\n")
    sweep(text, tmp_path)
    # a study as one from before this change was left, with no names, named when sweepnn resumes it
    storage = open_storage(None, tmp_path)
    old = optuna.create_study(study_name="old", storage=storage, direction="maximize")
    assert old.metric_names is None
    sweep(TINY, tmp_path, name="old")
    with socket.socket() as s:  # a port no one holds now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        ["optuna-dashboard", str(tmp_path / "studies.journal"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def get(path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return json.loads(r.read())

    try:
        for _ in range(100):  # until it serves (a few seconds)
            try:
                studies = get("/api/studies")["study_summaries"]
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("optuna-dashboard did not serve /api/studies within 20 s")
        ids = {s["study_name"]: s["study_id"] for s in studies}
        assert get(f"/api/studies/{ids['t']}")["objective_names"] == ["val_accuracy", "val_loss"]
        assert get(f"/api/studies/{ids['old']}")["objective_names"] == ["val_accuracy"]
        # the recipe one attribute per section, each a line of YAML that reads back as that section
        attrs = {a["key"]: a["value"] for a in get(f"/api/studies/{ids['t']}")["user_attrs"]}
        ran = optuna.load_study(study_name="t", storage=storage).user_attrs[record.STUDY_RECIPE]
        sections = {
            k.removeprefix(record.STUDY_RECIPE_SECTION): v
            for k, v in attrs.items()
            if k.startswith("recipe.")
        }
        assert set(sections) == set(ran) >= {"data", "model", "train", "search"}
        assert all("\n" not in text for text in sections.values())
        assert {k: yaml.safe_load(v) for k, v in sections.items()} == ran
        assert sections["search"].startswith("{") and "objective" in sections["search"]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_resumed_study_does_not_replay_the_points_it_already_tried(tmp_path):
    text = TINY.replace("n_trials: 3", "n_trials: 2")
    _, first, events = sweep(text, tmp_path)
    assert events.best_at_start is None  # a new study has no best yet
    _, summary, events = sweep(text.replace("n_trials: 2", "n_trials: 4"), tmp_path)
    lrs = [t.params["train.optimizer.lr"] for t in summary.study.trials]
    assert len(lrs) == 4 and len(set(lrs)) == 4
    # the progress display starts from the best of the earlier run
    assert events.best_at_start == max(t.value for t in first.study.trials[:2] if t.value is not None)


def test_a_timeout_alone_runs_as_many_trials_as_fit(tmp_path):
    text = TINY.replace("  n_trials: 3\n", "  timeout: 3s\n")
    recipe = load_text(text, "t.yaml", "t")
    assert recipe.search.budget is None
    _, summary, events = sweep(text, tmp_path)
    assert events.start[1] is None and summary.ran > 20  # not capped at the default of 20


def test_hyperband_top_rung_covers_searched_epochs(tmp_path):
    from sweepnn.sweep.samplers import make_pruner

    text = TINY.replace("  sampler: random\n", "  sampler: random\n  pruner: hyperband\n").replace(
        "    model.activation: [relu, tanh]\n", "    train.epochs: [2, 9]\n"
    )
    assert make_pruner(load_text(text, "t.yaml", "t"))._max_resource == 9
