"""The trackers' rules, with the real libraries on real files: the trials of a real sweep written to
TensorBoard and MLflow once each (a resumed sweep adds nothing, another study's trial of the same number
is replaced, a study that starts over starts its records over), a tracker that fails on a trial says so
while the sweep's events go on, and one that cannot be opened is bad input before anything trains."""

from __future__ import annotations

import copy
import datetime
import shutil

import pytest
from conftest import TINY

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
pytest.importorskip("mlflow", reason="the mlflow extra is not installed")

import sweepnn
from sweepnn.errors import InputError
from sweepnn.results.trackers import TRACKERS, Tracking, open_trackers
from sweepnn.sweep.study import Quiet

BOTH = ["tensorboard", "mlflow"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A real sweep of 3 trials, not tracked: (its recipe, its stored trials, a results folder whose
    MLflow store every test shares: a new store's tables take seconds to make on a slow disk)."""
    tmp = tmp_path_factory.mktemp("swept")
    (tmp / "tiny.yaml").write_text(TINY)
    recipe = sweepnn.load(tmp / "tiny.yaml")
    summary, _ = sweepnn.run(recipe, results_dir=tmp / "results", device="cpu")
    return recipe, summary.study.get_trials(), tmp / "tracked"


@pytest.fixture
def swept(sweep, request):
    """The sweep's recipe as a study named after the test, its trials, the shared results folder."""
    recipe, trials, results = sweep
    return recipe.model_copy(update={"name": request.node.name.removeprefix("test_")[:40]}), trials, results


class Heard:
    """A display that keeps what it heard: the events must reach it whatever a tracker does."""

    def __init__(self):
        self.trials = []

    def sweep_started(self, *args):
        pass

    def trial_done(self, trial, done, budget):
        self.trials.append(trial.number)


def key(trial) -> str:
    return trial.datetime_start.strftime("%Y-%m-%dT%H:%M:%S")


def test_every_trial_is_written_once_and_again_only_for_another_attempt(swept):
    recipe, trials, results = swept
    trackers = open_trackers(BOTH, recipe, results)
    tracking = Tracking(Quiet(), trackers, recipe)
    assert tracking.catch_up(trials) == 2 * len(trials)
    for tracker in trackers:
        assert tracker.logged() == {t.number: key(t) for t in trials}
    assert tracking.catch_up(trials) == 0  # a resumed sweep: nothing written twice
    tb, ml = trackers

    # trial 0 of another study of the same name (started at another time) replaces the record
    other = copy.deepcopy(trials[0])
    other.datetime_start += datetime.timedelta(days=1)
    tracking.trial_done(other, 1, 3)
    assert tb.logged()[0] == ml.logged()[0] == key(other)
    assert len(ml.client.search_runs([ml.experiment], "tags.`sweepnn.trial` = '0'")) == 1  # not beside it
    assert sorted(p.name for p in tb.root.iterdir()) == [f"trial-{t.number:04d}" for t in trials]
    files = sorted(p.name for p in (tb.root / "trial-0000").iterdir())
    assert len(files) == 2 and files[1] == "sweepnn-trial.json"  # one event file (the new), the mark


def test_a_study_that_starts_over_starts_its_records_over(swept):
    recipe, trials, results = swept
    trackers = open_trackers(BOTH, recipe, results)
    tracking = Tracking(Heard(), trackers, recipe)
    tracking.catch_up(trials)
    tracking.sweep_started(recipe.name, 0, 3, True, None)  # resumed: kept
    assert all(len(t.logged()) == len(trials) for t in trackers)
    tracking.sweep_started(recipe.name, 0, 3, False, None)  # new (or --fresh): its trial 0 is another
    assert [t.logged() for t in trackers] == [{}, {}]
    ml = trackers[1]
    assert ml.client.search_runs([ml.experiment], "") == []


def test_a_tracker_failing_on_a_trial_is_said_and_the_rest_goes_on(swept, capfd):
    recipe, trials, results = swept
    tb, ml = open_trackers(BOTH, recipe, results)
    heard = Heard()
    tracking = Tracking(heard, [tb, ml], recipe)
    shutil.rmtree(tb.root)
    tb.root.write_text("a file where the folder was")  # the disk refuses TensorBoard's files now
    for t in trials:
        tracking.trial_done(t, t.number + 1, len(trials))
    err = capfd.readouterr().err
    assert heard.trials == [t.number for t in trials]  # the display heard every trial
    assert ml.logged().keys() == {t.number for t in trials}  # and the other tracker wrote them
    for t in trials:
        assert (
            f"TensorBoard at {tb.root}: trial {t.number} not written (tried again when the sweep ends)" in err
        )
    tb.root.unlink()
    tb.root.mkdir()
    assert tracking.catch_up(trials) == len(trials)  # the missed trials, written at the end
    assert tb.logged() == {t.number: key(t) for t in trials}


def test_a_tracker_that_cannot_be_opened_is_bad_input(swept, monkeypatch):
    recipe, _, results = swept
    with pytest.raises(InputError, match=r"unknown tracker 'wandb'; valid: mlflow, tensorboard"):
        open_trackers(["tensorboard", "wandb"], recipe, results)
    assert not (results / recipe.name).exists()  # nothing made for a run that does not start

    (results / recipe.name).mkdir(parents=True)
    (results / recipe.name / "tensorboard").write_text("in the way")
    with pytest.raises(InputError, match=r"cannot write TensorBoard files to .*tensorboard: File exists"):
        open_trackers(["tensorboard"], recipe, results)

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "bogus://someone:s3cret@nowhere")
    with pytest.raises(InputError, match=r"cannot open the MLflow store bogus://someone:\*\*\*@nowhere") as e:
        open_trackers(["mlflow"], recipe, results)
    assert "s3cret" not in str(e.value)


def test_mlflow_writes_to_the_store_mlflow_tracking_uri_names(swept, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    recipe, trials, results = swept
    open_trackers(["mlflow"], recipe.model_copy(update={"name": "made"}), results)  # the shared store, made
    shutil.copy(results / "mlflow.db", tmp_path / "elsewhere.db")  # a store of its own, quick to open
    uri = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # a store the user names keeps MLflow's own artifact place: ./mlruns
    Tracking(Quiet(), open_trackers(["mlflow"], recipe, results), recipe).catch_up(trials)
    there = MlflowClient(tracking_uri=uri)
    runs = there.search_runs([there.get_experiment_by_name(recipe.name).experiment_id], "")
    assert sorted(r.info.run_name for r in runs) == [f"trial-{t.number}" for t in trials]
    here = MlflowClient(tracking_uri=f"sqlite:///{results / 'mlflow.db'}")
    assert here.get_experiment_by_name(recipe.name) is None


def test_the_registry_names_the_extra_of_each_tracker():
    # the extra is what the error of a missing library tells a user to install: it must exist
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
    extras = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for spec in TRACKERS.values():
        assert spec.extra in extras
        assert any(spec.module.replace("_", "-") in req for req in extras[spec.extra])


def test_with_seed_repeats_the_trials_value_is_logged_beside_its_first_seeds_curve(tmp_path):
    """The history is the first seed's curve; what the trial scored is the mean over its seeds, which
    both trackers hold as objective/<metric> at the last epoch (what HParams and MLflow's table show)."""
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (tmp_path / "rep.yaml").write_text(TINY.replace("search:\n", "search:\n  repeats: 2\n  pruner: none\n"))
    recipe = sweepnn.load(tmp_path / "rep.yaml")
    summary, _ = sweepnn.run(recipe, results_dir=tmp_path / "results", device="cpu", track=BOTH)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'results' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name(recipe.name).experiment_id], "")
    by_name = {r.info.run_name: r for r in runs}
    seen_apart = False
    for t in summary.study.get_trials():
        first_seed = t.user_attrs["history"][-1]["val_accuracy"]
        seen_apart |= abs(first_seed - t.value) > 1e-9
        run = by_name[f"trial-{t.number}"]
        assert run.data.metrics["objective/val_accuracy"] == pytest.approx(t.value)
        events = EventAccumulator(
            str(tmp_path / "results" / recipe.name / "tensorboard" / f"trial-{t.number:04d}")
        )
        events.Reload()
        (scalar,) = events.Scalars("objective/val_accuracy")
        assert (scalar.step, scalar.value) == (len(t.user_attrs["history"]), pytest.approx(t.value, abs=1e-6))
    assert seen_apart  # some trial's seeds differ: the test tells the mean from the first seed
    # the artifacts of a store sweepnn made are in the study's folder, not the working directory
    assert (tmp_path / "results" / recipe.name / "mlflow-artifacts").is_dir()
