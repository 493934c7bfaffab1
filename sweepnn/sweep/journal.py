"""The default storage, one journal file, made safe against the faults a file meets: a writer killed
while it held the lock, a write cut short by a full disk, and a path that is not a journal at all.

Optuna's own file lock is a symbolic link that a killed process leaves behind; others then wait out a
grace period, or for ever when the link's relative target dangles. Here the lock is an `flock` on a
file beside the journal: the kernel drops it when its holder dies, however it dies, so there is no
stale lock to wait for. Every append writes whole lines only: a write that fails half-way is cut
back, and a tail that a crash tore is set aside (in a file beside the journal, which a message names)
before anything is appended after it, so one torn line never costs the records before it.

Optuna's readers (optuna-dashboard) read the file as before. Writers that are not sweepnn's (a
script of one's own on the same journal) take Optuna's lock, not this one: they are not excluded.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from optuna.storages.journal import JournalFileBackend

from sweepnn.errors import InputError, SweepnnError, notice

LOCK_SUFFIX = ".flock"  # not Optuna's ".lock": a symbolic link an older run left there is no lock to us
TORN_SUFFIX = ".torn"
# Every record Optuna writes is one JSON object whose first key is its operation code.
_RECORD = re.compile(rb'\{\s*"op_code"\s*:')
_SNIFF_BYTES = 64 * 1024  # enough of a first line to tell a journal from another file
_WAIT_NOTICE_S = 10.0  # say that the lock is held by someone after this long, then every as long again
_OPEN_WAIT_S = 2.0  # opening waits this long for the lock to mend a torn tail; a reader then goes on


@contextmanager
def journal_lock(journal: Path, wait_s: float | None = None) -> Iterator[bool]:
    """An exclusive `flock` on `<journal>.flock`: yields True once held, or False when `wait_s`
    passed first. Waiting polls with a non-blocking try, so Ctrl-C and SIGTERM always get through.

    flock belongs to the open file, so two opens exclude each other in one process as in two. A lock
    file someone deleted meanwhile would be a lock on a file nobody else opens: it is opened again.
    """
    path = str(journal) + LOCK_SUFFIX
    pause, waited, notice_at = 0.001, 0.0, _WAIT_NOTICE_S
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if wait_s is not None and waited >= wait_s:
                yield False
                return
            if waited >= notice_at:
                notice(
                    f"waited {waited:.0f}s for the journal lock {path}; a process writing the journal"
                    " is slow or stopped (SIGSTOP); still waiting"
                )
                notice_at += _WAIT_NOTICE_S
            time.sleep(pause)
            waited += pause
            pause = min(2 * pause, 0.05)
            continue
        except BaseException:
            os.close(fd)
            raise
        try:
            moved = os.fstat(fd).st_ino != os.stat(path).st_ino
        except FileNotFoundError:
            moved = True
        if moved:  # deleted (and maybe made anew) while we waited: lock the file the others open
            os.close(fd)
            continue
        try:
            yield True
        finally:
            os.close(fd)  # closing the descriptor drops the flock
        return


class SafeJournalBackend(JournalFileBackend):
    """Optuna's journal file backend, appending whole lines only, under `journal_lock`."""

    def __init__(self, path: str):
        check_journal_path(Path(path))
        super().__init__(path)  # Optuna's own lock object is made there, and never used: see append_logs
        if _tail_is_whole(Path(path)):
            return
        try:  # a torn tail: mend it if the lock comes soon; a reader skips a torn last line anyway
            with journal_lock(Path(path), wait_s=_OPEN_WAIT_S) as held:
                if held:
                    cut_torn_tail(Path(path))
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            # a journal this user may only read: nothing to mend

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode()
        with journal_lock(Path(self._file_path)):
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
                    # A full disk, or Ctrl-C, stopped it part way: take the part back. Not a whole
                    # line, though (the signal came after the last byte, during fsync): readers may
                    # have read it already and remember where the next line starts, so it stays.
                    # No one else appends meanwhile (the lock), so the size says what was written.
                    if os.fstat(fd).st_size != size + len(data):
                        os.ftruncate(fd, size)
                    if isinstance(e, OSError):
                        raise SweepnnError(
                            f"cannot write the journal {self._file_path}: {e.strerror or e}. Every trial"
                            " finished before is kept there; make room and run the same command again"
                            " to resume."
                        ) from None
                    raise
            finally:
                os.close(fd)


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


def _tail_is_whole(path: Path) -> bool:
    """Does the journal end in a whole record (or is it empty)? Reads only its end."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        return size == 0 or _whole_end(f, size) == size


def cut_torn_tail(path: Path) -> Path | None:
    """Mend a journal whose end is not a whole record (a write cut short, garbage, a whole record
    without its newline, or one run on after a torn one): the whole records there are kept, each on
    a line of its own, the rest is set aside; the file it went to, or None when nothing was.

    Called under the lock, so no write is under way: a line without its newline is one whose write
    did not finish. Reads only the file's end.
    """
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        keep = _whole_end(f, size) if size else 0
        if keep == size:
            return None
        f.seek(keep)
        records, junk = salvage(f.read())
        f.seek(keep)
        f.truncate()
        f.write(b"".join(r + b"\n" for r in records))
        f.flush()
        os.fsync(f.fileno())
    if not junk:
        return None  # whole records that only lacked their newline
    aside = _set_aside(path, junk)
    notice(
        f"the journal {path} ended in a torn record ({len(junk)} bytes: a write that did not finish,"
        f" after a full disk or a crash); set aside in {aside}. Every whole record is kept."
    )
    return aside


def salvage(data: bytes) -> tuple[list[bytes], bytes]:
    """The whole journal records in `data` (however they are run together or broken up by other
    bytes), and what is left of it once they are taken out."""
    text = data.decode("latin-1")  # one character a byte: positions in the text are positions in data
    decoder = json.JSONDecoder()
    records, junk, pos = [], bytearray(), 0
    for m in _RECORD.finditer(data):
        if m.start() < pos:
            continue  # inside a record already kept
        try:
            obj, end = decoder.raw_decode(text, m.start())
        except ValueError:
            continue
        if not isinstance(obj, dict) or "op_code" not in obj:
            continue
        junk += data[pos : m.start()]
        records.append(data[m.start() : end])
        pos = end + 1 if data[end : end + 1] == b"\n" else end  # its own newline is no junk
    junk += data[pos:]
    return records, bytes(junk) if junk.strip(b"\n") else b""


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
    """Rewrite a journal with broken lines inside it (an older sweepnn appended onto a torn line);
    the file the broken parts went to, or None when every line was whole.

    Every whole record is kept, those run on after a torn one or after each other included, in
    their order; the rest is set aside. Run under the lock, only when Optuna could not read the
    journal. The new journal replaces the old one whole (written, synced, renamed over it).
    """
    kept, aside = bytearray(), bytearray()
    with open(path, "rb") as f:
        for line in f:
            if line.endswith(b"\n") and _is_record(line):
                kept += line
                continue
            records, junk = salvage(line)
            kept += b"".join(r + b"\n" for r in records)
            aside += junk if junk.endswith(b"\n") or not junk else junk + b"\n"
    if not aside:
        return None
    target = _set_aside(path, bytes(aside))
    tmp = path.with_name(path.name + ".repairing")
    with open(tmp, "wb") as out:
        out.write(bytes(kept))
        out.flush()
        os.fsync(out.fileno())
    shutil.copymode(path, tmp)  # a journal shared by a group stays writable by it
    os.replace(tmp, path)
    dirfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dirfd)  # the rename itself survives a power loss
    finally:
        os.close(dirfd)
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
        with journal_lock(path):
            repair(path)  # None: another process repaired it first, or the fault is elsewhere
        try:
            return storage()
        except ValueError:
            raise InputError(f"cannot read the journal {path}: {e}") from None


__all__ = [
    "SafeJournalBackend",
    "check_journal_path",
    "cut_torn_tail",
    "journal_lock",
    "open_journal",
    "repair",
]
