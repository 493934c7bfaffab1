"""The default storage after a crash: stale locks, torn journals, killed runs, and storage values that
are not a journal. Each fault is made for real (a real SIGKILL, a real torn file, a real listener that
never answers) and met through the real command."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from conftest import sweepnn
from optuna.trial import TrialState

from sweepnn.sweep.journal import LOCK_SUFFIX

TINY = """\
description: journal faults
data: {name: blobs, n_samples: 240, classes: 3}
model: {name: mlp, depth: 1, width: 8}
train: {epochs: 2, batch_size: 64}
search:
  sampler: random
  pruner: none
  n_trials: 2
  space:
    train.optimizer.lr: {low: 1e-3, high: 1e-1, log: true}
"""

# Trials of a few seconds each, so that a kill lands mid-trial.
SLOW = (
    TINY.replace("n_samples: 240", "n_samples: 3000")
    .replace("epochs: 2", "epochs: 40")
    .replace("batch_size: 64", "batch_size: 16")
)

LOCK_WAIT = "taking longer than"  # Optuna's own words while it waits for a lock


def run(*args, cwd: Path, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sweepnn", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1", **(env or {})},
    )


class Invoked:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def invoke(*args, cwd: Path, env: dict | None = None) -> Invoked:
    """The real command in this process (faster than a process of its own), for faults that cannot
    hang it."""
    from typer.testing import CliRunner

    from sweepnn.cli import app

    here = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200", **(env or {})})
    finally:
        os.chdir(here)
    return Invoked(result.exit_code, result.stdout, result.stderr)


def journal_trials(journal: Path, name: str) -> list[optuna.trial.FrozenTrial]:
    from sweepnn.sweep.storage import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(str(journal), journal.parent)).trials


def finished_numbers(journal: Path, name: str) -> set[int]:
    done = (TrialState.COMPLETE, TrialState.PRUNED)
    return {t.number for t in journal_trials(journal, name) if t.state in done}


@pytest.fixture(scope="module")
def swept_once(tmp_path_factory) -> Path:
    """A folder where a tiny study has run under the default relative results/, made once."""
    folder = tmp_path_factory.mktemp("swept")
    (folder / "tiny.yaml").write_text(TINY)
    done = run("run", "tiny.yaml", "--device", "cpu", "-q", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture
def swept(swept_once, tmp_path) -> tuple[Path, Path]:
    """A copy of that folder of one's own: (folder, recipe)."""
    import shutil

    folder = tmp_path / "swept"
    shutil.copytree(swept_once, folder, symlinks=True)
    return folder, folder / "tiny.yaml"


# ---- stale locks --------------------------------------------------------------------------------


def _dangling_link(results: Path) -> None:  # what a SIGKILLed Optuna writer leaves under results/
    (results / "studies.journal.lock").symlink_to("results/studies.journal")


def _absolute_link(results: Path) -> None:
    (results / "studies.journal.lock").symlink_to(results / "studies.journal")


def _plain_lock_file(results: Path) -> None:
    (results / "studies.journal.lock").write_text("")


def _leftover_flock_file(results: Path) -> None:  # sweepnn's own lock file, its holder long gone
    (results / f"studies.journal{LOCK_SUFFIX}").write_text("12345")


def _rename_leftover(results: Path) -> None:  # a release that died between its rename and unlink
    (results / "studies.journal.lock1234.rename").symlink_to("results/studies.journal")


@pytest.mark.parametrize(
    "leave", [_dangling_link, _absolute_link, _plain_lock_file, _leftover_flock_file, _rename_leftover]
)
def test_a_lock_left_behind_never_holds_up_a_run(swept, leave):
    folder, recipe = swept
    leave(folder / "results")
    again = run("run", recipe.name, "--device", "cpu", "-q", "--trials", "3", cwd=folder, timeout=90)
    assert again.returncode == 0, again.stderr
    assert LOCK_WAIT not in again.stderr  # it never waited for the lock
    assert len(finished_numbers(folder / "results" / "studies.journal", "tiny")) == 3


def test_a_run_waiting_for_a_held_lock_says_so_and_still_stops_on_sigterm(swept):
    """A lock held by a live process (here: this test) is waited for, said, and the wait is
    interruptible."""
    import fcntl

    folder, recipe = swept
    journal = folder / "results" / "studies.journal"
    journal.write_bytes(journal.read_bytes() + b"torn")  # the run must take the lock to mend it
    fd = os.open(folder / "results" / f"studies.journal{LOCK_SUFFIX}", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        proc = sweepnn("run", recipe.name, "--device", "cpu", "--trials", "3", cwd=folder)
        deadline = time.monotonic() + 60
        said = ""
        while "for the journal lock" not in said and time.monotonic() < deadline:
            said += proc.stderr.readline()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(fd)
    assert "waited 10s for the journal lock" in said, said + err
    assert proc.returncode in (130, 143, -signal.SIGTERM), err


# ---- a run killed again and again --------------------------------------------------------------


def test_killed_again_and_again_every_next_run_starts_and_keeps_every_finished_trial(tmp_path):
    """SIGKILL at random moments of a trial, the lock's moments included (a heartbeat every 0.2 s
    writes the journal all the time), three times, under the default relative results/: each next run starts,
    finishes a trial of its own, and nothing finished before is lost."""
    import random

    (tmp_path / "slow.yaml").write_text(
        SLOW.replace("n_trials: 2", "n_trials: 40").replace("epochs: 40", "epochs: 8")
    )
    journal = tmp_path / "results" / "studies.journal"
    rng = random.Random(7)
    kept: set[int] = set()
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "sweepnn", "run", "slow.yaml", "--device", "cpu"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1", "SWEEPNN_HEARTBEAT_S": "0.2"},
        )

        def mine(state: TrialState, pid: int = proc.pid) -> set[int]:
            ours = f":{pid}"
            return {
                t.number
                for t in journal_trials(journal, "slow")
                if t.state == state and t.user_attrs.get("sweepnn:worker", "").endswith(ours)
            }

        started = time.monotonic()
        while time.monotonic() - started < 120:  # this run finishes a trial and trains the next
            time.sleep(0.3)
            if journal.exists() and mine(TrialState.COMPLETE) and mine(TrialState.RUNNING):
                break
        else:
            proc.kill()
            pytest.fail(f"a run after a SIGKILL did not finish a trial in 120 s: {proc.communicate()[1]}")
        time.sleep(rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        assert LOCK_WAIT not in err
        now = finished_numbers(journal, "slow")
        assert kept < now, f"finished trials lost: {sorted(kept - now)}"
        kept = now
    last = run("run", "slow.yaml", "--device", "cpu", "-q", "--trials", str(len(kept) + 1), cwd=tmp_path)
    assert last.returncode == 0, last.stderr
    assert kept < finished_numbers(journal, "slow")
    assert not [t for t in journal_trials(journal, "slow") if t.state == TrialState.RUNNING]


# ---- torn journals -------------------------------------------------------------------------------


def _cut_short(data: bytes) -> tuple[bytes, bytes]:
    """The last record's write stopped half-way (a full disk)."""
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[1]
    torn = last[: len(last) // 2]
    return data + torn, torn


def _no_final_newline(data: bytes) -> tuple[bytes, bytes]:
    """A whole record written, its newline not: the record is whole and is kept."""
    return data.rstrip(b"\n"), b""


def _garbage_line(data: bytes) -> tuple[bytes, bytes]:
    return data + b"garbage\n", b"garbage\n"


def _zeros(data: bytes) -> tuple[bytes, bytes]:
    """What some file systems leave of a block allocated and never written."""
    return data + b"\0" * 512, b"\0" * 512


def _garbage_no_newline(data: bytes) -> tuple[bytes, bytes]:
    return data + b'{"op_code":6,"worker_id":"x","trial_id":', b'{"op_code":6,"worker_id":"x","trial_id":'


# A whole record of its own (it sets a study attribute the test reads back), for the tears that
# run one on after a torn record or after another record.
NOTE = b'{"op_code":2,"worker_id":"test","study_id":0,"user_attr":{"note":"kept"}}'


def _torn_then_whole(data: bytes) -> tuple[bytes, bytes]:
    """What an older sweepnn left: a torn record, and the next write run on after it."""
    torn = b'{"op_code":6,"worker_id":"x","tri'
    return data + torn + NOTE + b"\n", torn


def _two_run_together(data: bytes) -> tuple[bytes, bytes]:
    """A whole record whose newline was never written, and the next one run on after it."""
    return data.rstrip(b"\n") + NOTE, b""


TEARS = [_cut_short, _no_final_newline, _garbage_line, _zeros, _garbage_no_newline, _torn_then_whole]


@pytest.mark.parametrize("tear", [*TEARS, _two_run_together])
def test_a_torn_tail_is_set_aside_and_every_whole_record_kept(swept, tear):
    folder, recipe = swept
    journal = folder / "results" / "studies.journal"
    before = finished_numbers(journal, "tiny")
    data, torn = tear(journal.read_bytes())
    journal.write_bytes(data)
    said = ""
    for command in (["list"], ["show", "tiny"]):  # reading first: it must not break the journal either
        read = invoke(*command, cwd=folder)
        assert read.returncode == 0, read.stderr
        said += read.stderr
    again = invoke("run", recipe.name, "--device", "cpu", "-q", "--trials", "3", cwd=folder)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert before < finished_numbers(journal, "tiny")  # all kept, and the new trial added
    aside = sorted(journal.parent.glob("studies.journal.torn-*"))
    if torn:
        assert aside and b"".join(p.read_bytes() for p in aside) == torn
        assert "set aside in" in said + again.stderr
    else:
        assert not aside
    for command in (["list"], ["show", "tiny"], ["status", "tiny"]):
        assert invoke(*command, cwd=folder).returncode == 0
    if NOTE in data:  # the whole record run on after another was kept, and applied
        from sweepnn.sweep.storage import open_storage

        study = optuna.load_study(study_name="tiny", storage=open_storage(str(journal), folder))
        assert study.user_attrs["note"] == "kept"


def test_a_journal_broken_inside_by_an_older_version_is_repaired(swept):
    """An older sweepnn appended onto a torn line: a torn record with a whole one run on after it."""
    folder, recipe = swept
    journal = folder / "results" / "studies.journal"
    lines = journal.read_bytes().split(b"\n")
    lines[3] = b'{"op_code":5,"worker_id":"abc","tri' + lines[3]
    lines[5] = lines[5] + NOTE  # and two whole records on one line
    journal.write_bytes(b"\n".join(lines))
    listed = invoke("list", cwd=folder)
    assert listed.returncode == 0, listed.stderr
    assert "broken lines; set aside in" in listed.stderr
    again = invoke("run", recipe.name, "--device", "cpu", "-q", "--trials", "3", cwd=folder)
    assert again.returncode == 0, again.stderr
    assert len(finished_numbers(journal, "tiny")) == 3
    (aside,) = journal.parent.glob("studies.journal.torn-*")
    assert aside.read_bytes() == b'{"op_code":5,"worker_id":"abc","tri\n'
    assert all(json.loads(line) for line in journal.read_bytes().splitlines())
    from sweepnn.sweep.storage import open_storage

    study = optuna.load_study(study_name="tiny", storage=open_storage(str(journal), folder))
    assert study.user_attrs["note"] == "kept"


def test_a_full_disk_mid_write_leaves_no_partial_line(tmp_path):
    """A real 64 KiB file system fills up during a sweep: every line of the journal stays whole."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {made.stderr.decode().strip()}")
    try:
        (tmp_path / "tiny.yaml").write_text(TINY.replace("n_trials: 2", "n_trials: 60"))
        journal = mount / "studies.journal"
        full = run("run", "tiny.yaml", "--device", "cpu", "-q", "--storage", journal, cwd=tmp_path)
        assert full.returncode != 0 and "No space left on device" in full.stderr
        assert "Traceback" not in full.stderr
        data = journal.read_bytes()
        assert data.endswith(b"\n") and all(json.loads(line) for line in data.splitlines())
        kept = finished_numbers(journal, "tiny")
        assert kept
        budget = sum(t.state.is_finished() for t in journal_trials(journal, "tiny")) + 1
        # room again: the study goes on from where it stopped, nothing lost
        copy = tmp_path / "studies.journal"
        copy.write_bytes(data)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
    more = run(
        "run",
        "tiny.yaml",
        "--device",
        "cpu",
        "-q",
        "--storage",
        copy,
        "--trials",
        budget,
        cwd=tmp_path,
    )
    assert more.returncode == 0, more.stderr
    assert kept < finished_numbers(copy, "tiny")


# ---- storage values that are not a journal -----------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"my notes, not a journal\n", b"a,b\n1,2\n", b"SQLite format 3\0" + b"\0" * 100, b'{"key": 1}\n'],
    ids=["text", "csv", "sqlite", "other-json"],
)
def test_a_file_that_is_not_a_journal_is_refused_untouched(tmp_path, content):
    (tmp_path / "tiny.yaml").write_text(TINY)
    target = tmp_path / "notes.txt"
    target.write_bytes(content)
    done = invoke("run", "tiny.yaml", "--device", "cpu", "--storage", target, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "is not an Optuna journal" in done.stderr and "untouched" in done.stderr
    assert target.read_bytes() == content
    assert not (tmp_path / "results").exists()
    if content.startswith(b"SQLite"):
        assert "sqlite:///" in done.stderr


@pytest.mark.parametrize("where", ["/dev/zero", "/dev/null", "fifo", "folder"])
def test_a_storage_that_is_no_regular_file_is_refused_at_once(tmp_path, where):
    (tmp_path / "tiny.yaml").write_text(TINY)
    if where == "fifo":
        os.mkfifo(tmp_path / "fifo")
    elif where == "folder":
        (tmp_path / "folder").mkdir()
    done = run("run", "tiny.yaml", "--device", "cpu", "--storage", where, cwd=tmp_path, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Error: cannot open storage" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "value",
    [
        "postgres:s3cret@db.example:5432/sweeps",
        "postgresql:user:s3cret@localhost/test",
        "mysql+pymysql:root:s3cret@127.0.0.1/test",
        "redis:localhost:6379",
        "alice:s3cret@db.example:5432/sweeps",
        "sqlite:sweeps.db",
    ],
)
def test_a_url_without_its_slashes_is_refused_with_the_fix(tmp_path, value):
    (tmp_path / "tiny.yaml").write_text(TINY)
    done = invoke("run", "tiny.yaml", "--device", "cpu", "--storage", value, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "without '://'" in done.stderr and "://" in done.stderr.split("Write it as", 1)[1]
    assert "s3cret" not in done.stderr + done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"]  # no folder of that name


def test_a_scheme_sqlalchemy_does_not_know_gets_its_right_name(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    done = invoke("run", "tiny.yaml", "--storage", "postgres://u:s3cret@localhost/test", cwd=tmp_path)
    assert done.returncode == 2
    assert "postgresql://u:***@localhost/test" in done.stderr and "s3cret" not in done.stderr


# ---- a database that accepts and never answers ---------------------------------------------------


@pytest.fixture
def silent_listener():
    """A real TCP listener that accepts connections and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize("scheme", ["postgresql", "mysql+pymysql"])
def test_a_database_that_never_answers_is_an_error_in_seconds(tmp_path, silent_listener, scheme):
    (tmp_path / "tiny.yaml").write_text(TINY)
    url = f"{scheme}://alice:s3cret@127.0.0.1:{silent_listener}/sweeps"
    # before: 139 s (PostgreSQL) and over 150 s (MySQL); the limit here is a guard, not a measure
    done = run("run", "tiny.yaml", "--device", "cpu", "--storage", url, cwd=tmp_path, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "cannot connect to storage" in done.stderr and "alice:***@127.0.0.1" in done.stderr
    assert "s3cret" not in done.stderr and "Traceback" not in done.stderr


# ---- liveness settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        {"SWEEPNN_HEARTBEAT_S": "0"},
        {"SWEEPNN_HEARTBEAT_S": "-1"},
        {"SWEEPNN_HEARTBEAT_S": "ten"},
        {"SWEEPNN_HEARTBEAT_S": "nan"},
        {"SWEEPNN_HEARTBEAT_S": "inf"},
        {"SWEEPNN_GRACE_S": "0"},
        {"SWEEPNN_GRACE_S": "soon"},
        {"SWEEPNN_HEARTBEAT_S": "5", "SWEEPNN_GRACE_S": "6"},
    ],
    ids=lambda env: ",".join(f"{k}={v}" for k, v in env.items()),
)
def test_bad_liveness_settings_are_bad_input(tmp_path, env):
    (tmp_path / "tiny.yaml").write_text(TINY)
    for command in (["run", "tiny.yaml", "--device", "cpu"],):
        done = invoke(*command, cwd=tmp_path, env=env)
        assert done.returncode == 2, done.stderr
        named = next(k for k in env if k in done.stderr)
        assert f"{named}={env[named]!r}" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "results").exists()


def test_a_signal_after_the_last_byte_keeps_the_line_that_readers_have_seen(tmp_path, monkeypatch):
    """Ctrl-C can land after a log line is written whole, while it is being synced. Another process
    may have read that line already, and remembers where the next one starts: taking the line back
    would leave that reader inside the next line (a JSONDecodeError in the middle of a sweep)."""
    from sweepnn.sweep.journal import SafeJournalBackend

    path = str(tmp_path / "studies.journal")
    writer, reader = SafeJournalBackend(path), SafeJournalBackend(path)
    writer.append_logs([{"op_code": 0, "n": 0}])

    def interrupted(fd):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(os, "fsync", interrupted)
        with pytest.raises(KeyboardInterrupt):
            writer.append_logs([{"op_code": 0, "n": 1, "pad": "x" * 50}])
    assert [log["n"] for log in reader.read_logs(0)] == [0, 1]  # seen by the other process
    writer.append_logs([{"op_code": 0, "n": 2}])
    assert [log["n"] for log in reader.read_logs(2)] == [2]
    assert [json.loads(line)["n"] for line in Path(path).read_bytes().splitlines()] == [0, 1, 2]


def test_a_write_cut_part_way_is_taken_back(tmp_path, monkeypatch):
    """The other side: a write stopped before its last byte leaves nothing of its line."""
    from sweepnn.sweep.journal import SafeJournalBackend

    path = str(tmp_path / "studies.journal")
    backend = SafeJournalBackend(path)
    backend.append_logs([{"op_code": 0, "n": 0}])
    real_write = os.write

    def half_then_interrupt(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(os, "write", half_then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            backend.append_logs([{"op_code": 0, "n": 1}])
    assert Path(path).read_bytes() == b'{"op_code":0,"n":0}\n'
