"""`sweepnn run --track tensorboard --track mlflow` in a real process, and what it wrote read back by
the trackers' own readers (TensorBoard's event reader, MlflowClient on the local store) against the
trials Optuna reads back from the study's journal; resuming and starting over; the errors."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys

import optuna
import pytest
from conftest import TINY, sweepnn

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
pytest.importorskip("mlflow", reason="the mlflow extra is not installed")

TRACK = ["--track", "tensorboard", "--track", "mlflow"]
TAGS = {"epoch"}  # what a history holds that is the step, not a metric


def run(tmp, *args, timeout=300) -> tuple[int, str, str]:
    """`sweepnn run tiny.yaml ARGS` on the CPU into tmp/results, in a process of its own."""
    process = sweepnn("run", "tiny.yaml", "--results", tmp / "results", "--device", "cpu", *args, cwd=tmp)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def stored(tmp):
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp / "results" / "studies.journal"))
    )
    return optuna.load_study(study_name="tiny", storage=storage)


def curves(trial) -> dict[str, list[tuple[int, float]]]:
    """Written out here, apart from sweepnn: each numeric metric of the stored history, by epoch."""
    out: dict[str, list[tuple[int, float]]] = {}
    for h in trial.user_attrs["history"]:
        for k, v in h.items():
            if k not in TAGS and isinstance(v, int | float) and not isinstance(v, bool):
                out.setdefault(k, []).append((h["epoch"], float(v)))
    return out


def mlflow_client(tmp):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{tmp / 'results' / 'mlflow.db'}")


def mlflow_runs(tmp) -> dict[int, object]:
    client = mlflow_client(tmp)
    experiment = client.get_experiment_by_name("tiny")
    return {int(r.data.tags["sweepnn.trial"]): r for r in client.search_runs([experiment.experiment_id], "")}


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """The tracked sweep, run once: (its folder, the study as Optuna reads it back)."""
    tmp = tmp_path_factory.mktemp("tracked")
    (tmp / "tiny.yaml").write_text(TINY)
    code, out, err = run(tmp, *TRACK)
    assert code == 0, err
    assert f"TensorBoard: tensorboard --logdir {tmp / 'results' / 'tiny' / 'tensorboard'}" in out
    assert f"MLflow: mlflow ui --backend-store-uri sqlite:///{tmp / 'results' / 'mlflow.db'}" in out
    return tmp, stored(tmp)


@pytest.mark.slow
def test_tensorboard_holds_each_epochs_metrics_and_the_trials_values(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import api_pb2, metadata

    tmp, study = tracked
    root = tmp / "results" / "tiny" / "tensorboard"
    trials = study.get_trials()
    assert sorted(p.name for p in root.iterdir()) == [f"trial-{t.number:04d}" for t in trials]
    for t in trials:
        events = EventAccumulator(str(root / f"trial-{t.number:04d}"))
        events.Reload()
        expected = curves(t)
        assert expected and set(events.Tags()["scalars"]) == {*expected, "objective/val_accuracy"}
        (value,) = events.Scalars("objective/val_accuracy")  # what the trial scored, at its last epoch
        assert (value.step, value.value) == (max(expected["val_accuracy"])[0], pytest.approx(t.value))
        for name, points in expected.items():
            got = [(e.step, e.value) for e in events.Scalars(name)]
            assert [s for s, _ in got] == [s for s, _ in points]
            for (_, value), (_, want) in zip(got, points, strict=True):  # stored as float32
                assert value == pytest.approx(want, rel=1e-6) or (math.isnan(value) and math.isnan(want))
        plugin = events.PluginTagToContent("hparams")
        start = metadata.parse_session_start_info_plugin_data(plugin[metadata.SESSION_START_INFO_TAG])
        values = {k: v.string_value or v.number_value for k, v in start.hparams.items()}
        assert values == pytest.approx(t.params)
        assert start.start_time_secs == pytest.approx(t.datetime_start.timestamp())
        end = metadata.parse_session_end_info_plugin_data(plugin[metadata.SESSION_END_INFO_TAG])
        assert end.status == api_pb2.Status.Value("STATUS_SUCCESS")  # every trial completed


@pytest.mark.slow
def test_mlflow_holds_a_run_per_trial_with_its_values_metrics_outcome_and_recipe(tracked, tmp_path):
    import sweepnn
    from sweepnn.recipe.config import Recipe

    tmp, study = tracked
    client = mlflow_client(tmp)
    runs = mlflow_runs(tmp)
    trials = study.get_trials()
    assert sorted(runs) == [t.number for t in trials]
    for t in trials:
        r = runs[t.number]
        assert r.info.run_name == f"trial-{t.number}" and r.info.status == "FINISHED"
        for path, value in t.params.items():
            assert r.data.params[path] == str(value)
        assert r.data.params["train.epochs"] == "2"  # a fixed setting, there to tell studies apart
        assert r.data.params["model.width"] == "16"
        tags = r.data.tags
        assert (tags["outcome"], tags["reason"], tags["state"]) == (
            t.user_attrs["outcome"],
            t.user_attrs["reason"],
            "complete",
        )
        for name, points in curves(t).items():
            got = [(m.step, m.value) for m in client.get_metric_history(r.info.run_id, name)]
            assert sorted(got) == points
        path = client.download_artifacts(r.info.run_id, "recipe.yaml", str(tmp_path))
        assert sweepnn.load(path) == Recipe.model_validate(study.user_attrs["sweepnn:recipe"])


@pytest.mark.slow
def test_a_resumed_sweep_writes_only_its_new_trials_and_a_fresh_one_starts_over(tracked, tmp_path):
    tmp, _ = tracked
    shutil.copytree(tmp, tmp_path, dirs_exist_ok=True)  # a copy: the other tests read the original
    tmp = tmp_path
    before = {n: r.info.run_id for n, r in mlflow_runs(tmp).items()}
    board = tmp / "results" / "tiny" / "tensorboard"
    files = {p.name: sorted(f.name for f in p.iterdir()) for p in board.iterdir()}

    code, _, err = run(tmp, "--trials", "4", *TRACK)
    assert code == 0, err
    after = {n: r.info.run_id for n, r in mlflow_runs(tmp).items()}
    assert sorted(after) == [0, 1, 2, 3] and {n: after[n] for n in before} == before  # kept, not redone
    now = {p.name: sorted(f.name for f in p.iterdir()) for p in board.iterdir()}
    assert {k: now[k] for k in files} == files and sorted(now) == [*sorted(files), "trial-0003"]

    code, _, err = run(tmp, "--fresh", "--trials", "2", *TRACK)
    assert code == 0, err
    trials = stored(tmp).get_trials()
    runs = mlflow_runs(tmp)
    assert sorted(runs) == [0, 1] == [t.number for t in trials]  # the discarded study's runs are gone
    for t in trials:
        assert runs[t.number].data.tags["sweepnn.started"] == t.datetime_start.strftime("%Y-%m-%dT%H:%M:%S")
    assert sorted(p.name for p in board.iterdir()) == ["trial-0000", "trial-0001"]


def test_an_unknown_tracker_is_a_usage_error_naming_the_choices(cli, write_recipe):
    code, _, err = cli("run", write_recipe(), "--track", "wandb")
    assert code == 2
    assert "'wandb' is not one of" in err and "'tensorboard'" in err and "'mlflow'" in err


def test_run_help_lists_the_trackers(cli):
    code, out, _ = cli("run", "--help")
    assert code == 0 and "[tensorboard|mlflow]" in out


def test_a_missing_tracker_library_names_its_extra_before_anything_trains(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    # mlflow not installed: Python's own way to make an import fail, in a process of its own
    code = "import sys; sys.modules['mlflow'] = None; from sweepnn.cli import main; main()"
    args = ["run", "tiny.yaml", "--results", "results", "--device", "cpu", *TRACK]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert (
        "Error: --track mlflow needs mlflow, which is not installed: pip install 'sweepnn[mlflow]'"
        in done.stderr
    )
    assert not (tmp_path / "results").exists()  # no study, no folder: nothing was started


def test_a_bad_mlflow_store_fails_before_anything_trains(tmp_path, monkeypatch):
    (tmp_path / "tiny.yaml").write_text(TINY)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "bogus://nowhere")
    code, out, err = run(tmp_path, "--track", "mlflow", timeout=120)
    assert code == 2
    assert "Error: cannot open the MLflow store bogus://nowhere" in err
    assert not (tmp_path / "results" / "studies.journal").exists() and "trial" not in out
