"""Where studies live: the embedded journal file by default, or any Optuna storage URL.

The default is one journal file under results/: no server, several local processes append to it
safely under a file lock, and optuna-dashboard reads it. A URL (PostgreSQL, MySQL/MariaDB, SQLite,
Redis) lets workers on many machines share one study. Passwords in URLs never reach a message.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

from sweepnn.errors import InputError, SweepnnError

DEFAULT_STORAGE = "studies.journal"
T = TypeVar("T")


# The database URLs Optuna's RDB storage takes (SQLAlchemy dialects), and the driver each needs.
_DATABASES = {
    "sqlite": None,
    "postgresql": "sweepnn[postgres]",
    "mysql": "sweepnn[mysql]",
    "mariadb": "sweepnn[mysql]",
}
_SECRET = re.compile(r"(?i)((?:password|passwd|pwd)=)[^&;]*")


def redact(text: str, url: str | None = None) -> str:
    """`text` with the password of `url` (and any `password=...` query value) replaced by ***.

    Applied to every message that may hold a storage URL, including a database driver's own
    error, which can quote the URL or the connection string it was given.
    """
    if url:
        parts = urlsplit(url)
        if parts.password:
            for secret in {parts.password, quote(parts.password, safe=""), unquote(parts.password)}:
                text = text.replace(f":{secret}@", ":***@")
    return _SECRET.sub(r"\1***", text)


def open_storage(url: str | None, results_dir: Path):
    """The embedded journal file under results/ by default; any Optuna storage URL or journal path."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalRedisBackend

    where = redact(url, url) if url else str(results_dir / DEFAULT_STORAGE)
    try:
        if url is None or "://" not in url:
            path = Path(url) if url else results_dir / DEFAULT_STORAGE
            path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(path)))
        if url.startswith(("redis://", "rediss://")):
            return JournalStorage(JournalRedisBackend(url))
        scheme = url.split("://")[0].split("+")[0]
        if scheme not in _DATABASES:
            raise InputError(
                f"unknown storage {where!r}: use a journal file path, redis://..., or a database URL"
                " (sqlite:///file.db, postgresql://..., mysql+pymysql://...)"
            )
        return _database(url)
    except InputError:
        raise
    except ImportError:
        extra = _DATABASES.get(url.split("://")[0].split("+")[0]) if url else None
        hint = f": pip install '{extra}'" if extra else ""
        raise InputError(f"cannot open storage {where}: its database driver is not installed{hint}") from None
    except (OSError, ValueError) as e:
        raise InputError(f"cannot open storage {where}: {redact(str(e), url)}") from None
    except Exception as e:  # a database driver's own connection error
        first = redact(str(e), url).splitlines()[0]  # the driver's words, not SQLAlchemy's footnotes
        raise SweepnnError(f"cannot connect to storage {where}: {type(e).__name__}: {first}") from None


def _database(url: str):
    """Optuna's RDB storage, which creates its tables in a new database on first use.

    Workers started at once on a new database race to create those tables, and all but one fail
    with a duplicate-object error; the tables then exist, so a second try succeeds.
    """
    from optuna.storages import RDBStorage
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    for attempt in range(5):
        try:
            # pool_pre_ping: a connection the server dropped (a restart) is replaced, not used and failed
            return RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
        except (IntegrityError, ProgrammingError, OperationalError) as e:
            creating = isinstance(e, IntegrityError) or "already exists" in str(e)
            if not creating or attempt == 4:
                raise
            time.sleep(0.2 + random.random() * (attempt + 1))
    raise AssertionError("unreachable")


def transient(e: BaseException) -> bool:
    """A lost database connection (a restart, a network blip), not a mistake in what was sent."""
    from optuna.exceptions import StorageInternalError

    try:
        from sqlalchemy.exc import DBAPIError, IntegrityError
    except ImportError:  # no database storage in use
        return False
    cause = e.__cause__ if isinstance(e, StorageInternalError) else e
    return isinstance(cause, DBAPIError) and not isinstance(cause, IntegrityError)


def retrying(fn: Callable[..., T], *args: Any, patience_s: float = 90.0, **kwargs: Any) -> T:
    """fn(*args, **kwargs), tried again with growing pauses while the storage is unreachable.

    A database that restarts takes seconds to come back; without this, the write of a finished
    trial's result would fail with it and the result be lost. Anything else fails at once.
    """
    deadline = time.monotonic() + patience_s
    pause = 0.5
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            if not transient(e) or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(2 * pause, 5.0)
