"""The default storage, one journal file, made safe against the faults a file meets: a writer killed
while it held the lock, a write cut short by a full disk, and a path that is not a journal at all.

Optuna's own file lock is a symbolic link that a killed process leaves behind; others then wait out a
grace period, or for ever when the link's relative target dangles. Here the lock is an `flock` on a
file beside the journal: the kernel drops it when its holder dies, however it dies, so there is no
stale lock to wait for. Every append writes whole lines only: a write that fails half-way is cut
back, and a tail that a crash tore is set aside (in a file beside the journal, which a message names)
before anything is appended after it, so one torn line never costs the records before it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._file import BaseJournalFileLock  # the lock interface, not exported

from sweepnn.errors import InputError, SweepnnError, notice

LOCK_SUFFIX = ".flock"  # not Optuna's ".lock": a symbolic link an older run left there is no lock to us
TORN_SUFFIX = ".torn"
# Every record Optuna writes is one JSON object whose first key is its operation code.
_RECORD = re.compile(rb'\{\s*"op_code"\s*:')
_SNIFF_BYTES = 64 * 1024  # enough of a first line to tell a journal from another file
_WAIT_NOTICE_S = 10.0  # say that the lock is held by someone after this long, then every as long again


class FlockLock(BaseJournalFileLock):
    """An exclusive `flock` on `<journal>.flock`, held only while records are appended.

    flock belongs to the open file, not to the process, so the heartbeat thread and the main thread
    of one process exclude each other as two processes do. Waiting polls with a non-blocking try, so
    Ctrl-C and SIGTERM always get through.
    """

    def __init__(self, journal: str):
        self.path = journal + LOCK_SUFFIX
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            pause, waited, notice_at = 0.001, 0.0, _WAIT_NOTICE_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if waited >= notice_at:
                        notice(
                            f"waited {waited:.0f}s for the journal lock {self.path}; a process writing"
                            " it is slow or stopped (SIGSTOP); still waiting"
                        )
                        notice_at += _WAIT_NOTICE_S
                    time.sleep(pause)
                    waited += pause
                    pause = min(2 * pause, 0.05)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None


class SafeJournalBackend(JournalFileBackend):
    """Optuna's journal file backend with the lock above and whole-line appends only."""

    def __init__(self, path: str):
        check_journal_path(Path(path))
        super().__init__(path, lock_obj=FlockLock(path))
        try:
            with _locked(self._lock):
                cut_torn_tail(Path(path))
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            # a journal this user may only read: Optuna's reader skips a torn last line itself

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode()
        with _locked(self._lock):
            cut_torn_tail(Path(self._file_path))  # never append onto a partial line
            fd = os.open(self._file_path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            try:
                size = os.fstat(fd).st_size
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                except BaseException as e:
                    os.ftruncate(fd, size)  # a full disk wrote part of it: take the part back
                    if isinstance(e, OSError):
                        raise SweepnnError(
                            f"cannot write the journal {self._file_path}: {e.strerror or e}. Every trial"
                            " finished before is kept there; make room and run the same command again"
                            " to resume."
                        ) from None
                    raise
            finally:
                os.close(fd)


class _locked:
    def __init__(self, lock: BaseJournalFileLock):
        self.lock = lock

    def __enter__(self) -> None:
        self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def check_journal_path(path: Path) -> None:
    """Refuse, untouched, a path that is not a journal file: a folder, a device, another file."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return  # a new journal
    import stat

    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"cannot open storage {path}: it is a folder; give the path of a journal file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(
            f"cannot open storage {path}: it is not a regular file (a device or a pipe); give a journal file"
        )
    if info.st_size == 0:
        return
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if _RECORD.match(head):
        return
    hint = ""
    if head.startswith(b"SQLite format 3\0"):
        hint = f"; it is an SQLite database: use --storage sqlite:///{path}"
    raise InputError(
        f"cannot open storage {path}: the file exists and is not an Optuna journal (its first line is"
        f" not a journal record){hint}; sweepnn leaves it untouched. Give a new file or an existing journal."
    )


def cut_torn_tail(path: Path) -> Path | None:
    """Set aside a last line that is not a whole record (cut short, or garbage); the file it went to.

    Called under the lock, so no write is under way: a line without its newline is one whose write
    did not finish. Reads only the file's end, unless it is torn.
    """
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return None
        keep = _whole_end(f, size)
        if keep == size:
            return None
        f.seek(keep)
        if _is_record(f.read(size - keep + 1)):  # a whole record whose write stopped before its newline
            f.seek(size)
            f.write(b"\n")
            f.flush()
            os.fsync(f.fileno())
            return None
        f.seek(keep)
        torn = f.read()
        aside = _set_aside(path, torn)
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    notice(
        f"the journal {path} ended in a torn record ({len(torn)} bytes: a write that did not finish,"
        f" after a full disk or a crash); set aside in {aside}. Every whole record is kept."
    )
    return aside


def _whole_end(f, size: int) -> int:
    """The offset after the last line that is a whole record; lines past it are torn or garbage."""
    end = size
    while end > 0:
        start = _line_start(f, end)
        f.seek(start)
        line = f.read(end - start)
        if line.endswith(b"\n") and _is_record(line):
            return end
        end = start
    return 0


def _line_start(f, end: int) -> int:
    """Where the line that ends at `end` (its newline included) starts."""
    pos, block = end - 1, 8192  # the line's own newline is at end - 1, or it has none
    while pos > 0:
        lo = max(0, pos - block)
        f.seek(lo)
        chunk = f.read(pos - lo)
        nl = chunk.rfind(b"\n")
        if nl >= 0:
            return lo + nl + 1
        pos = lo
    return 0


def _is_record(line: bytes) -> bool:
    if not _RECORD.match(line):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def repair(path: Path) -> Path | None:
    """Rewrite a journal with a broken line inside it (an older sweepnn appended onto a torn line);
    the file the broken parts went to, or None when every line was whole.

    A broken line is a torn record with a whole one run on after it: the whole one is kept, the torn
    part set aside. Run under the lock, only when Optuna could not read the journal.
    """
    kept, aside = bytearray(), bytearray()
    with open(path, "rb") as f:
        for line in f:
            if line.endswith(b"\n") and _is_record(line):
                kept += line
                continue
            starts = [m.start() for m in _RECORD.finditer(line)]
            tail = next(
                (line[s:] for s in reversed(starts) if line.endswith(b"\n") and _is_record(line[s:])), b""
            )
            kept += tail
            piece = line[: len(line) - len(tail)]
            aside += piece if piece.endswith(b"\n") else piece + b"\n"
    if not aside:
        return None
    target = _set_aside(path, bytes(aside))
    tmp = path.with_name(path.name + ".repairing")
    tmp.write_bytes(bytes(kept))
    os.replace(tmp, path)
    notice(f"the journal {path} had broken lines; set aside in {target}. Every whole record is kept.")
    return target


def _set_aside(path: Path, data: bytes) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}{TORN_SUFFIX}-{stamp}-{os.getpid()}")
    with open(target, "ab") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return target


def open_journal(path: Path) -> Any:
    """A JournalStorage on `path`, a journal with a broken line inside repaired once."""
    from optuna.storages import JournalStorage

    def storage() -> Any:
        return JournalStorage(SafeJournalBackend(str(path)))

    try:
        return storage()
    except ValueError as e:  # json.JSONDecodeError is one, as is Optuna's "Invalid log format"
        with _locked(FlockLock(str(path))):
            fixed = repair(path)
        if fixed is None:
            raise InputError(f"cannot read the journal {path}: {e}") from None
        return storage()
