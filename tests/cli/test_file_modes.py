"""Every file sweepnn writes has an ordinary file's permissions (0666 less the umask): results,
summaries, exports and charts alike, whatever temporary file they were written through."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from conftest import TINY


def test_every_written_file_has_the_same_ordinary_mode(tmp_path):
    umask = 0o002  # not the common 022: the mode must follow the umask, not be 0644 by chance
    (tmp_path / "tiny.yaml").write_text(TINY)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    commands = [
        ["run", "tiny.yaml", "--device", "cpu", "-q", "--junit", "results/junit.xml"],
        ["export", "tiny", "--format", "parquet"],
        ["export", "tiny", "--format", "csv", "--output", "results/tiny/export.csv"],
        ["plot", "tiny"],
    ]
    for args in commands:
        done = subprocess.run(
            [sys.executable, "-m", "sweepnn", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            preexec_fn=lambda: os.umask(umask),
        )
        assert done.returncode == 0, (args, done.stderr)
    written = [p for p in (tmp_path / "results").rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"trials.csv", "summary.md", "trials.parquet", "export.csv", "junit.xml"} <= names
    assert any(n.endswith(".png") for n in names)
    modes = {p.relative_to(tmp_path): stat.S_IMODE(p.stat().st_mode) for p in written}
    assert modes == dict.fromkeys(modes, 0o666 & ~umask), modes
