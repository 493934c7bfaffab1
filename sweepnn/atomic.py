"""Files written whole or not at all, each with an ordinary file's permissions.

Every file sweepnn writes (result tables, summaries, exports, charts, downloads) is written to a
temporary name beside it and renamed over it once complete and synced, so a crash or a full disk
leaves the earlier file whole. The temporary file gets the permissions a plain `open()` would give
(0666 less the umask): `mkstemp` makes 0600, and renaming it would carry that over to one file in a
folder of 0644 ones.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def ordinary_mode() -> int:
    """The permission bits a plain `open()` gives a new file: 0666 less the umask. Reading the umask sets it
    to 0 for a moment, for every thread of the process."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def replacing(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside `path` to write; renamed over `path` when the block ends, removed
    when it raises."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, ordinary_mode())
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path, data: str | bytes) -> None:
    """`data` (text as UTF-8) as the whole content of `path`."""
    with replacing(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
