"""Many workers, one study, on the real PostgreSQL and MariaDB servers running on this machine.

Each worker is a separate `sweepnn run` process with the same recipe and `--storage URL`, as it
would be on separate machines. Each test gets a database of its own, dropped afterwards. A test is
skipped (with the reason) only when its server is not running.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweepnn.sweep.storage import open_storage

pytestmark = pytest.mark.slow

RECIPE = """\
description: many small trials
data: {name: blobs, n_samples: 200, classes: 3}
model: {name: mlp, depth: 1, width: 8}
train: {epochs: 1, batch_size: 64}
search:
  sampler: random
  pruner: none
  space:
    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}
"""
# A password with the characters that break naive URL handling; it must never be printed.
PASSWORD = "s3cr%t{x}"
QUOTED = "s3cr%25t%7Bx%7D"


def _postgres():
    import psycopg

    def admin():
        return psycopg.connect("postgresql://postgres@localhost/test", autocommit=True, connect_timeout=3)

    name = f"sweepnn_{uuid.uuid4().hex[:8]}"
    with admin() as c:
        c.execute(f"CREATE DATABASE {name}")
    # trust authentication: the server takes any password, so the URL still carries one to hide
    yield f"postgresql://postgres:{QUOTED}@localhost/{name}"
    with admin() as c:  # a new connection: a test may have restarted the server
        c.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _mariadb():
    import pymysql

    admin = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True, connect_timeout=3)
    name = f"sweepnn_{uuid.uuid4().hex[:8]}"
    with admin.cursor() as c:
        c.execute(f"CREATE DATABASE {name}")
        for host in ("localhost", "127.0.0.1"):  # a real password, checked by the server
            c.execute(f"CREATE USER IF NOT EXISTS 'sweepnn'@'{host}' IDENTIFIED BY %s", (PASSWORD,))
            c.execute(f"ALTER USER 'sweepnn'@'{host}' IDENTIFIED BY %s", (PASSWORD,))
            c.execute(f"GRANT ALL ON {name}.* TO 'sweepnn'@'{host}'")
    yield f"mysql+pymysql://sweepnn:{QUOTED}@127.0.0.1/{name}"
    with admin.cursor() as c:
        c.execute(f"DROP DATABASE {name}")
    admin.close()


SERVERS = {"postgresql": _postgres, "mariadb": _mariadb}


@pytest.fixture(params=list(SERVERS))
def database(request):
    try:
        gen = SERVERS[request.param]()
        url = next(gen)
    except Exception as e:  # the server is not running here
        pytest.skip(f"{request.param} is not reachable: {type(e).__name__}: {e}")
    yield url
    next(gen, None)


def start(recipe: Path, cwd: Path, url: str, *, host: str | None = None, **env: str) -> subprocess.Popen:
    """A worker: `sweepnn run` in its own process; with `host`, on a machine of that name (its own
    UTS namespace), so that its process cannot be seen from here, as on another machine."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "SWEEPNN_STORAGE": url, **env}
    cmd = [sys.executable, "-m", "sweepnn", "run", str(recipe), "--device", "cpu", "--quiet"]
    if host is not None:
        cmd = ["unshare", "--uts", "sh", "-c", f'hostname {host} && exec "$@"', "sh", *cmd]
    cwd.mkdir(exist_ok=True)
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(procs: list[subprocess.Popen], timeout: float = 300) -> list[tuple[int, str, str]]:
    outputs = [p.communicate(timeout=timeout) for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]


def test_eight_workers_share_a_budget_of_160_trials(database, write_recipe, tmp_path):
    recipe = write_recipe(RECIPE.replace("  pruner: none\n", "  pruner: none\n  n_trials: 160\n"), "shared")
    procs = [start(recipe, tmp_path / f"machine{i}", database) for i in range(8)]
    results = finish(procs)
    for code, out, err in results:
        assert code == 0, err
        assert PASSWORD not in out + err and QUOTED not in out + err
    study = optuna.load_study(study_name="shared", storage=open_storage(database, tmp_path))
    trained = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(trained) == 160
    states = Counter(t.state for t in study.trials)
    assert states[TrialState.RUNNING] == 0 and states[TrialState.WAITING] == 0
    # anything beyond the 160 is a trial asked for in the same instant as the last ones, never trained
    assert all(t.user_attrs.get("outcome") == "surplus" for t in study.trials if t.state == TrialState.FAIL)
    for t in trained:  # the value stored is the metric the trial measured
        assert t.value == t.user_attrs["metrics"]["val_accuracy"]
        assert t.params["train.optimizer.lr"] == t.user_attrs["params"]["train.optimizer.lr"]
    assert len({t.user_attrs["sweepnn:worker"] for t in trained}) > 1  # the work was shared


OPEN_STUDY = """
import sys
from pathlib import Path
from sweepnn.recipe.loading import load
from sweepnn.sweep.storage import open_storage
from sweepnn.sweep.opening import open_study
study, resumed = open_study(load(sys.argv[1]), open_storage(sys.argv[2], Path(".")))
print(study._study_id)
"""


def test_ten_workers_started_at_once_create_one_study(database, write_recipe, tmp_path):
    """What ten `sweepnn run` processes do first, at the same instant: create or join the study.

    The processes stop there (a whole run imports torch, and ten of those at once on two cores
    take a minute); the eight-worker test above runs whole ones.
    """
    recipe = write_recipe(RECIPE, "racing")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_STUDY, str(recipe), database],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(10)
    ]
    results = finish(procs, timeout=120)
    for code, _, err in results:
        assert code == 0, err
    assert len({out.strip() for _, out, _ in results}) == 1  # every process holds the same study
    storage = open_storage(database, tmp_path)
    assert [s.study_name for s in storage.get_all_studies()] == ["racing"]


def test_a_killed_worker_is_noticed_by_the_others_and_its_trial_retried(database, write_recipe, tmp_path):
    slow = RECIPE.replace("n_samples: 200", "n_samples: 3000").replace("epochs: 1", "epochs: 40")
    recipe = write_recipe(slow.replace("  pruner: none\n", "  pruner: none\n  n_trials: 4\n"), "killed")
    if subprocess.run(["unshare", "--uts", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot start a process with its own host name here (unshare --uts)")
    victim = start(recipe, tmp_path / "machine-b", database, host="machine-b")
    storage = open_storage(database, tmp_path)
    deadline = time.monotonic() + 120
    running = None
    while running is None and time.monotonic() < deadline:
        time.sleep(0.5)
        if "killed" in [s.study_name for s in storage.get_all_studies()]:
            study = optuna.load_study(study_name="killed", storage=storage)
            running = next((t for t in study.trials if t.state == TrialState.RUNNING and t.params), None)
    assert running is not None, "no trial started"
    assert running.user_attrs["sweepnn:worker"].startswith("machine-b:")
    victim.kill()
    victim.communicate(timeout=30)
    # from this machine the dead worker's process cannot be looked up: only its silence tells
    survivor = start(recipe, tmp_path / "machine-a", database, SWEEPNN_HEARTBEAT_S="1", SWEEPNN_GRACE_S="3")
    ((code, _, err),) = finish([survivor])
    assert code == 0, err
    study = optuna.load_study(study_name="killed", storage=storage)
    crashed = study.trials[running.number]
    assert crashed.state == TrialState.FAIL and crashed.user_attrs["outcome"] == "crashed"
    retry = next(t for t in study.trials if t.user_attrs.get("retry_of") == running.number)
    assert retry.state == TrialState.COMPLETE and retry.params == running.params
    assert len([t for t in study.trials if t.state == TrialState.COMPLETE]) == 4


def test_a_wrong_password_is_a_clear_error_that_does_not_show_it(write_recipe, tmp_path):
    try:
        gen = _mariadb()
        url = next(gen)
    except Exception as e:
        pytest.skip(f"mariadb is not reachable: {e}")
    try:
        wrong = url.replace(QUOTED, "wr%25ong%7Bpw%7D")
        proc = start(write_recipe(RECIPE, "denied"), tmp_path, wrong)
        ((code, out, err),) = finish([proc])
        debug = subprocess.run(
            [
                sys.executable,
                "-m",
                "sweepnn",
                "--debug",
                "run",
                str(tmp_path / "denied.yaml"),
                "--storage",
                wrong,
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
    finally:
        next(gen, None)
    assert code == 1
    assert "Error: cannot connect to storage mysql+pymysql://sweepnn:***@127.0.0.1/" in err
    assert "Access denied" in err
    for text in (out, err, debug.stdout, debug.stderr):
        assert "wr%ong" not in text and "wr%25ong" not in text and "{pw}" not in text


def _postgres_cluster() -> list[str] | None:
    """pg_ctlcluster's version and name of the local server, when it is Debian's."""
    root = Path("/etc/postgresql")
    versions = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    return [versions[-1], "main"] if versions and shutil.which("pg_ctlcluster") else None


def test_a_database_restart_mid_sweep_loses_no_finished_trial(write_recipe, tmp_path):
    cluster = _postgres_cluster()
    if cluster is None:
        pytest.skip("no pg_ctlcluster here to restart PostgreSQL with")
    try:
        gen = _postgres()
        url = next(gen)
    except Exception as e:
        pytest.skip(f"postgresql is not reachable: {e}")
    ctl = ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster]
    slow = RECIPE.replace("n_samples: 200", "n_samples: 1500").replace("epochs: 1", "epochs: 4")
    recipe = write_recipe(slow.replace("  pruner: none\n", "  pruner: none\n  n_trials: 24\n"), "restart")
    try:
        proc = start(recipe, tmp_path, url)
        storage = open_storage(url, tmp_path)
        before: list[int] = []
        deadline = time.monotonic() + 120
        while len(before) < 4 and time.monotonic() < deadline:
            time.sleep(0.3)
            if "restart" in [s.study_name for s in storage.get_all_studies()]:
                study = optuna.load_study(study_name="restart", storage=storage)
                before = [t.number for t in study.trials if t.state == TrialState.COMPLETE]
        assert len(before) >= 4, "the sweep did not get going"
        subprocess.run([*ctl, "restart"], check=True, capture_output=True, timeout=120)
        ((code, _, err),) = finish([proc])
    finally:
        subprocess.run([*ctl, "start"], capture_output=True, timeout=120)  # running, whatever happened
    trials = optuna.load_study(study_name="restart", storage=open_storage(url, tmp_path)).trials
    next(gen, None)  # drop the test's database
    states = Counter(t.state for t in trials)
    assert code == 0, err
    assert all(trials[n].state == TrialState.COMPLETE for n in before)  # nothing finished is lost
    assert states[TrialState.RUNNING] == 0
    assert states[TrialState.COMPLETE] >= 23  # at most the trial in flight failed
    assert states[TrialState.COMPLETE] + states[TrialState.FAIL] >= 24
