"""Deleting, copying and renaming studies (sweepnn.sweep.managing) on every storage kind, for real: a
study made by one tiny `sweepnn run` into a journal is copied into each kind (the default journal,
a journal at a path of its own, SQLite, the local PostgreSQL, MariaDB and Redis servers), renamed
there and deleted, and each step is read back with Optuna: the trials, values, user and system
attributes and the study's records are what the original had.

The servers get scratch databases of their own, dropped afterwards; Redis is used in database
REDIS_DB, which only these tests use and which they empty when done. A kind whose server is not
running is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from pathlib import Path

import optuna
import pytest
import yaml
from conftest import command_on

from sweepnn import record
from sweepnn.cli.studies import rewrite_files
from sweepnn.errors import InputError
from sweepnn.sweep import managing
from sweepnn.sweep.storage import open_storage

REDIS_DB = 13
RECIPE = """\
name: orig
description: a tiny sweep copied around
data: {name: blobs, n_samples: 300, classes: 3, test_fraction: 0.2}
model: {name: mlp, depth: 1, width: 16}
train: {epochs: 3, batch_size: 64, optimizer: {name: adam, lr: 0.01}}
search:
  sampler: random
  n_trials: 3
  save_top: 1
  test_top: 1
  space:
    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}
    model.activation: [relu, tanh]
"""
# What a copy keeps of each trial: everything Optuna stores of it.
TRIAL_FIELDS = (
    "number",
    "state",
    "values",
    "params",
    "distributions",
    "user_attrs",
    "system_attrs",
    "intermediate_values",
    "datetime_start",
    "datetime_complete",
)


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    """results/ of one real sweep (study 'orig', its journal and its folder with a kept model)."""
    tmp = tmp_path_factory.mktemp("managing")
    (tmp / "orig.yaml").write_text(RECIPE)
    code, _, err = command_on(tmp, "run", tmp / "orig.yaml", timeout=240)
    assert code == 0, err
    return tmp / "results"


@pytest.fixture
def results(swept, tmp_path) -> Path:
    """A copy of the sweep's results/ for one test to change."""
    shutil.copytree(swept, tmp_path / "results")
    return tmp_path / "results"


def _scratch_postgres():
    import psycopg

    name = f"sweepnn_studies_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@localhost/test", autocommit=True, connect_timeout=3) as c:
        c.execute(f"CREATE DATABASE {name}")
    yield f"postgresql://postgres@localhost/{name}"
    with psycopg.connect("postgresql://postgres@localhost/test", autocommit=True, connect_timeout=3) as c:
        c.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _scratch_mariadb():
    import pymysql

    name = f"sweepnn_studies_{uuid.uuid4().hex[:8]}"
    admin = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True, connect_timeout=3)
    with admin.cursor() as c:
        c.execute(f"CREATE DATABASE {name}")
    yield f"mysql+pymysql://root@127.0.0.1/{name}"
    with admin.cursor() as c:
        c.execute(f"DROP DATABASE {name}")
    admin.close()


def _scratch_redis():
    import redis

    url = f"redis://localhost:6379/{REDIS_DB}"
    redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    yield url
    redis.Redis.from_url(url).flushdb()


def _local(make):
    def scratch(tmp: Path):
        yield make(tmp)

    return scratch


KINDS = {
    "journal": _local(lambda tmp: None),  # the default: results/studies.journal, the original's own
    "journal-path": _local(lambda tmp: str(tmp / "elsewhere" / "copies.journal")),
    "sqlite": _local(lambda tmp: f"sqlite:///{tmp}/copies.db"),
    "postgresql": lambda tmp: _scratch_postgres(),
    "mysql": lambda tmp: _scratch_mariadb(),
    "redis": lambda tmp: _scratch_redis(),
}


@pytest.fixture(params=list(KINDS))
def kind(request, tmp_path):
    """(kind, its URL: None for the default journal) of a storage for one test, emptied afterwards."""
    gen = KINDS[request.param](tmp_path)
    try:
        url = next(gen)
    except Exception as e:  # the server is not running here
        pytest.skip(f"{request.param} is not reachable: {type(e).__name__}: {e}")
    yield request.param, url
    next(gen, None)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _system_attrs(study: optuna.Study) -> dict:
    return study._storage.get_study_system_attrs(study._study_id)


def _when(value, kind: str | None):
    """MySQL's DATETIME, as Optuna's tables declare it, keeps whole seconds: a trial run there has none."""
    return value.replace(microsecond=0) if kind == "mysql" and value is not None else value


def _assert_same(
    original: optuna.Study, copy: optuna.Study, copied_from: str, kind: str | None = None
) -> None:
    """`copy` holds what `original` holds, but for its own name in its recipe and its copy mark."""
    assert copy.directions == original.directions
    assert copy.metric_names == original.metric_names == ["val_accuracy"]
    assert _system_attrs(copy) == _system_attrs(original)
    mine, theirs = dict(copy.user_attrs), dict(original.user_attrs)
    assert mine.pop(managing.COPY_OF) == {"study": copied_from, "complete": True}
    theirs.pop(managing.COPY_OF, None)
    assert mine.pop(record.STUDY_RECIPE) == {**theirs.pop(record.STUDY_RECIPE), "name": copy.study_name}
    name = record.STUDY_RECIPE_SECTION + "name"  # optuna-dashboard's view of the recipe: renamed too
    assert (mine.pop(name), theirs.pop(name)) == (copy.study_name, original.study_name)
    assert mine == theirs
    ours, originals = copy.get_trials(), original.get_trials()
    assert len(ours) == len(originals) == 3
    for a, b in zip(ours, originals, strict=True):
        for field in TRIAL_FIELDS:
            mine, theirs = getattr(a, field), getattr(b, field)
            if field.startswith("datetime"):
                theirs = _when(theirs, kind)
            assert mine == theirs, (a.number, field)


def test_a_study_copied_renamed_and_deleted_on_each_storage_keeps_everything(kind, results):
    name, url = kind
    storage = open_storage(None, results)
    original = optuna.load_study(study_name="orig", storage=storage)
    # the original has what is worth checking: sweepnn's study records, curves, a test score
    assert {record.STUDY_RECIPE, record.STUDY_FINGERPRINT, record.STUDY_CODE} <= set(original.user_attrs)
    assert any(k.startswith(record.STUDY_TEST) for k in original.user_attrs)
    assert all(t.user_attrs.get(record.HISTORY) and t.intermediate_values for t in original.trials)

    target = open_storage(url, results) if name != "journal" else storage
    first, second = _unique("copy"), _unique("renamed")
    found, folder, replaced = managing.copy(
        storage, "orig", first, results, to_storage=target, rewrite=rewrite_files
    )
    assert (found.trials, found.models, replaced) == (3, 1, False)
    again = open_storage(url, results)  # read back through a storage opened anew
    _assert_same(original, optuna.load_study(study_name=first, storage=again), "orig", name)
    assert folder == results / first
    kept = sorted(p.name for p in (results / "orig" / "models").iterdir())
    assert kept and sorted(p.name for p in (folder / "models").iterdir()) == kept
    assert yaml.safe_load((folder / "recipe.yaml").read_text())["name"] == first
    assert yaml.safe_load((results / "orig" / "recipe.yaml").read_text())["name"] == "orig"

    managing.rename(again, first, second, results, rewrite=rewrite_files)
    back = open_storage(url, results)
    assert first not in managing.names(back)
    _assert_same(original, optuna.load_study(study_name=second, storage=back), first, name)
    assert not (results / first).exists()
    assert yaml.safe_load((results / second / "recipe.yaml").read_text())["name"] == second

    managing.delete(back, second, results)
    assert second not in managing.names(open_storage(url, results))
    assert not (results / second).exists()
    # the original, in its own storage, is untouched
    assert "orig" in managing.names(open_storage(None, results)) and (results / "orig").is_dir()


def test_copying_onto_an_existing_name_is_an_error_that_changes_nothing(results):
    storage = open_storage(None, results)
    managing.copy(storage, "orig", "twin", results, rewrite=rewrite_files)
    before = (results / "twin" / "trials.csv").read_text()
    with pytest.raises(InputError, match="a study 'twin' exists"):
        managing.copy(storage, "orig", "twin", results, rewrite=rewrite_files)
    with pytest.raises(InputError, match="exists already"):
        managing.rename(storage, "orig", "twin", results, rewrite=rewrite_files)
    assert managing.names(storage) == ["orig", "twin"]
    assert (results / "twin" / "trials.csv").read_text() == before
    with pytest.raises(InputError, match="not a study name"):
        managing.copy(storage, "orig", "../up", results, rewrite=rewrite_files)
    with pytest.raises(InputError, match=r"no study 'orgi'.* did you mean 'orig'\? studies here: orig, twin"):
        managing.delete(storage, "orgi", results)


class Crash(Exception):
    pass


def _crash(study, folder):
    raise Crash


def test_a_rename_cut_short_finishes_when_run_again(results):
    storage = open_storage(None, results)
    with pytest.raises(Crash):  # after the copy and the folder's move, before the old study is deleted
        managing.rename(storage, "orig", "moved", results, rewrite=_crash)
    assert managing.names(storage) == ["moved", "orig"] and not (results / "orig").exists()
    found, folder, resumed = managing.rename(storage, "orig", "moved", results, rewrite=rewrite_files)
    assert resumed and folder == results / "moved" and found.trials == 3
    assert managing.names(storage) == ["moved"]
    assert yaml.safe_load((folder / "recipe.yaml").read_text())["name"] == "moved"


def test_a_copy_cut_short_is_replaced_when_run_again(results):
    storage = open_storage(None, results)
    with pytest.raises(Crash):  # the folder copied, the study not yet marked whole
        managing.copy(storage, "orig", "half", results, rewrite=_crash)
    mark = optuna.load_study(study_name="half", storage=storage).user_attrs[managing.COPY_OF]
    assert mark == {"study": "orig", "complete": False}
    _, folder, replaced = managing.copy(storage, "orig", "half", results, rewrite=rewrite_files)
    assert replaced and folder == results / "half"
    original = optuna.load_study(study_name="orig", storage=storage)
    _assert_same(original, optuna.load_study(study_name="half", storage=storage), "orig")
    assert not [p for p in results.iterdir() if p.name.startswith(".half")]  # no partial folder left


def test_a_study_being_run_is_not_deleted_or_renamed_without_force(results):
    storage = open_storage(None, results)
    study = optuna.load_study(study_name="orig", storage=storage)
    running = study.ask()  # a trial this live process trains, with a fresh heartbeat
    running.set_user_attr(record.WORKER, f"{socket.gethostname()}:{os.getpid()}")
    running.set_user_attr(record.BEAT, time.time())
    me = f"{socket.gethostname()}:{os.getpid()}"
    with pytest.raises(InputError, match=f"being run right now .*{me}.*--force"):
        managing.delete(storage, "orig", results)
    with pytest.raises(InputError, match="being run right now"):
        managing.rename(storage, "orig", "other", results, rewrite=rewrite_files)
    assert managing.names(storage) == ["orig"] and (results / "orig").is_dir()
    managing.delete(storage, "orig", results, force=True)
    assert managing.names(storage) == [] and not (results / "orig").exists()


def test_a_dead_workers_trial_does_not_hold_a_study(results):
    storage = open_storage(None, results)
    study = optuna.load_study(study_name="orig", storage=storage)
    dead = study.ask()  # its worker's process is gone: pid 2**22 + 1 is above any Linux pid
    dead.set_user_attr(record.WORKER, f"{socket.gethostname()}:{2**22 + 1}")
    assert managing.describe(storage, "orig", results).live == []
    managing.delete(storage, "orig", results)
    assert managing.names(storage) == []


def test_only_the_studys_own_folder_is_deleted(results, tmp_path):
    storage = open_storage(None, results)
    # a folder of that name that sweepnn did not write for this study is left, and so is a link's target
    managing.copy(storage, "orig", "linked", results, files=False, rewrite=rewrite_files)
    managing.copy(storage, "orig", "strange", results, files=False, rewrite=rewrite_files)
    elsewhere = tmp_path / "precious"
    shutil.copytree(results / "orig", elsewhere)
    (results / "linked").symlink_to(elsewhere, target_is_directory=True)
    (results / "strange").mkdir()
    (results / "strange" / "recipe.yaml").write_text("name: someone-else\n")
    for name in ("linked", "strange"):
        found = managing.delete(storage, name, results)
        assert found.folder is None and "left alone" in found.note
    assert (elsewhere / "recipe.yaml").is_file() and (results / "strange" / "recipe.yaml").is_file()
    # a study whose name would lead out of results/ (Optuna allows any name) leaves the outside alone
    optuna.create_study(study_name="../precious", storage=storage)
    found = managing.delete(storage, "../precious", results)
    assert found.folder is None and (elsewhere / "recipe.yaml").is_file()
    assert managing.names(storage) == ["orig"]
