"""Where studies live: the embedded journal file by default, or any Optuna storage URL.

The default is one journal file under results/: no server, several local processes append to it
safely under a file lock, and optuna-dashboard reads it. A URL (PostgreSQL, MySQL/MariaDB, SQLite,
Redis) lets workers on many machines share one study. Passwords in URLs never reach a message.
"""

from __future__ import annotations

import functools
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
_DRIVERS = {**_DATABASES, "redis": "sweepnn[redis]", "rediss": "sweepnn[redis]"}  # what each scheme needs
_SECRET = re.compile(r"(?i)((?:password|passwd|pwd)=)[^&;]*")


def redact(text: str, url: str | None = None) -> str:
    """`text` with the password of `url` (and any `password=...` query value) replaced by ***.

    Applied to every message that may hold a storage URL, including a database driver's own
    error, which can quote the URL or the connection string it was given.
    """
    if url:
        text = text.replace(url, masked(url))
        try:
            parts = urlsplit(url)
        except ValueError:  # a malformed URL (a bad IPv6 host): its whole quotes are masked above
            return _SECRET.sub(r"\1***", text)
        if parts.password:
            for secret in {parts.password, quote(parts.password, safe=""), unquote(parts.password)}:
                text = text.replace(f":{secret}@", ":***@")
    return _SECRET.sub(r"\1***", text)


def open_storage(url: str | None, results_dir: Path):
    """The embedded journal file under results/ by default; any Optuna storage URL or journal path."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalRedisBackend

    from sweepnn.sweep.journal import open_journal

    where = redact(url, url) if url else str(results_dir / DEFAULT_STORAGE)
    try:
        if url is None or "://" not in url:
            if url is not None:
                refuse_url_without_slashes(url)
            path = Path(url) if url else results_dir / DEFAULT_STORAGE
            path.parent.mkdir(parents=True, exist_ok=True)
            return open_journal(path)
        scheme = url.split("://")[0].split("+")[0].lower()
        if scheme in _ALIASES:
            fixed = _ALIASES[scheme] + url[len(scheme) :]
            raise InputError(
                f"unknown storage scheme {scheme}:// in {where!r}: write {redact(fixed, fixed)!r}"
            )
        if scheme in ("redis", "rediss"):
            return JournalStorage(JournalRedisBackend(_with_defaults(url, _REDIS_TIMEOUTS)))
        if scheme not in _DATABASES:
            raise InputError(
                f"unknown storage {where!r}: use a journal file path, redis://..., or a database URL"
                " (sqlite:///file.db, postgresql://..., mysql+pymysql://...)"
            )
        return _database(url, scheme)
    except SweepnnError:
        raise
    except ImportError:
        extra = _DRIVERS.get(url.split("://")[0].split("+")[0].lower()) if url else None
        hint = f": pip install '{extra}'" if extra else ""
        raise InputError(f"cannot open storage {where}: its database driver is not installed{hint}") from None
    except (OSError, ValueError) as e:
        raise InputError(f"cannot open storage {where}: {_words(e, url)}") from None
    except Exception as e:  # a database driver's own connection error
        raise SweepnnError(
            f"cannot connect to storage {where}: {type(e).__name__}: {_words(e, url)}"
        ) from None


def _words(e: BaseException, url: str | None) -> str:
    """The first line of an error's own text (the driver's words, not SQLAlchemy's footnotes), never
    empty: some errors carry no message at all."""
    text = redact(str(e), url).strip()
    return text.splitlines()[0] if text else type(e).__name__


# Schemes users write that SQLAlchemy does not know, and what they mean.
_ALIASES = {"postgres": "postgresql", "pg": "postgresql", "psql": "postgresql"}
_SCHEMES = {*_DATABASES, *_ALIASES, "redis", "rediss"}
# A storage given without "://" that reads as a URL: "postgres:pw@host:5432/db", "redis:host".
_URL_LIKE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):(?!//)(?P<rest>.*)$")


def refuse_url_without_slashes(value: str) -> None:
    """A storage value meant as a URL but missing its '//' would become a journal in a folder of
    that name (password and all): refuse it with the fix."""
    m = _URL_LIKE.match(value)
    if not m:
        return
    first = m["scheme"].split("+")[0].lower()
    known = first in _SCHEMES
    at = value.rfind("@")
    if at < 0:  # "redis:host:6379", "sqlite:file.db": a scheme, then the rest of a URL
        if not known:
            return
        name = _ALIASES.get(first, m["scheme"])
        fixed = f"{name}:///{m['rest']}" if first == "sqlite" else f"{name}://{m['rest'].lstrip('/')}"
    elif known and value[:at].count(":") >= 2:  # "postgresql:user:pw@host/db"
        fixed = f"{_ALIASES.get(first, m['scheme'])}://{m['rest']}"
    else:  # "postgres:pw@host/db", "alice:pw@host/db": user and password, no scheme
        fixed = f"{_ALIASES.get(first, first) if known else 'postgresql'}://{value}"
    raise InputError(
        f"storage {masked(value)!r} looks like a database URL without '://': sweepnn would take it for"
        f" a journal file's path. Write it as {masked(fixed)!r} (or './{masked(value)}' for a file)"
    )


def masked(value: str) -> str:
    """A storage value with its password hidden, whether or not it has its '://': everything between
    the user's ':' and the last '@' (a password may hold ':', '/' and '@'), and `password=` values."""
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    at = rest.rfind("@")
    if at >= 0:
        userinfo = rest[:at]
        word, colon, after = userinfo.partition(":")
        if colon and word.split("+")[0].lower() in _SCHEMES and ":" in after and not sep:
            userinfo = f"{word}:{after.partition(':')[0]}:***"  # scheme:user:password
        elif colon:
            userinfo = f"{word}:***"
        rest = userinfo + rest[at:]
    return _SECRET.sub(r"\1***", scheme + sep + rest)


# Seconds a database may take to connect and to answer: a server that accepts and then says nothing
# (a wedged proxy, a firewall that swallows packets) is an error in seconds, not minutes. MySQL's
# read timeout stays above its own lock wait (innodb_lock_wait_timeout, 50 s) so a query waiting on
# another worker's lock is answered by the server, not abandoned.
CONNECT_TIMEOUT_S = 10
_LIBPQ = {  # libpq's connect timeout covers the whole start-up; keepalives notice a server gone silent
    "connect_timeout": CONNECT_TIMEOUT_S,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
_MYSQL = {"connect_timeout": CONNECT_TIMEOUT_S, "read_timeout": 60, "write_timeout": 60}
# By driver, since the keywords are each driver's own; a URL's own query values win over these.
_DRIVER_TIMEOUTS = {"psycopg": _LIBPQ, "psycopg2": _LIBPQ, "pymysql": _MYSQL, "mysqldb": _MYSQL}
_REDIS_TIMEOUTS = {"socket_connect_timeout": str(CONNECT_TIMEOUT_S), "socket_timeout": "60"}


def _with_defaults(url: str, params: dict[str, str]) -> str:
    """`url` with each query parameter of `params` that it does not set already."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    return urlunsplit(parts._replace(query=urlencode({**params, **query})))


def _database(url: str, scheme: str):
    """Optuna's RDB storage, which creates its tables in a new database on first use.

    Workers started at once on a new database race to create those tables, and all but one fail
    with a duplicate-object error; the tables then exist, so a second try succeeds.
    """
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    for attempt in range(5):
        try:
            # pool_pre_ping: a connection the server dropped (a restart) is replaced, not used and failed
            kwargs = {"pool_pre_ping": True, "connect_args": _timeouts(url)}
            if scheme in ("mysql", "mariadb"):
                _greeting(url)
            return _patient_storage()(url, engine_kwargs=kwargs)
        except (IntegrityError, ProgrammingError, OperationalError) as e:
            creating = isinstance(e, IntegrityError) or "already exists" in str(e)
            if not creating or attempt == 4:
                raise
            time.sleep(0.2 + random.random() * (attempt + 1))
    raise AssertionError("unreachable")


# The reads of Optuna's RDB storage, each safe to repeat. Writes are tried again where sweepnn makes
# them (a trial's result: `retrying` at the call), since only there is it known that a repeat is safe.
_READS = (
    "get_all_studies",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_trial_user_attrs",
    "get_trial_system_attrs",
    "get_trial_param",
    "get_trial_id_from_study_id_trial_number",
    "get_trial",
    "get_all_trials",
    "_get_trials",  # what Optuna's cache in front of the storage reads the trials with
    "get_best_trial",
)


@functools.cache
def _patient_storage() -> type:
    """Optuna's RDBStorage whose every read waits out a database that restarts (`retrying`): any
    read, wherever Optuna or sweepnn makes it, not only those a caller remembered to wrap."""
    from optuna.storages import RDBStorage

    def patient(read):
        def wait_out(self, *args, **kwargs):
            return retrying(read, self, *args, **kwargs)

        return functools.wraps(read)(wait_out)

    return type(
        "PatientRDBStorage", (RDBStorage,), {name: patient(getattr(RDBStorage, name)) for name in _READS}
    )


def _timeouts(url: str) -> dict[str, Any]:
    """The connect arguments that bound the waits of `url`'s driver, less those the URL sets itself."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return {k: v for k, v in _DRIVER_TIMEOUTS.get(u.get_driver_name(), {}).items() if k not in u.query}


def _greeting(url: str) -> None:
    """A MySQL server speaks first; one that accepts and never greets would hang the driver's
    handshake, which no connect_timeout covers (PyMySQL reads it with the query timeout)."""
    import socket

    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.query.get("unix_socket"):
        return
    where = f"cannot connect to storage {redact(url, url)}: the server at {u.host}:{u.port or 3306}"
    try:
        sock = socket.create_connection((u.host or "localhost", u.port or 3306), CONNECT_TIMEOUT_S)
    except OSError:
        return  # refused, unreachable or not answering the connection: the driver says so in its words
    with sock:
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            greeted = sock.recv(1)
        except TimeoutError:
            raise SweepnnError(
                f"{where} accepted the connection but did not answer in {CONNECT_TIMEOUT_S} s"
            ) from None
        except OSError:
            return
    if not greeted:
        raise SweepnnError(f"{where} closed the connection without a greeting")


def transient(e: BaseException) -> bool:
    """A lost database connection (a restart, a network blip), not a mistake in what was sent.

    Optuna wraps the driver's error in StorageInternalError; after a restart, a query that Optuna
    retries on the same session fails instead with SQLAlchemy's PendingRollbackError (the session is
    rolled back on the way out, so trying again works). Either is looked for down the chain of causes."""
    try:
        from sqlalchemy.exc import DBAPIError, IntegrityError, PendingRollbackError
    except ImportError:  # no database storage in use
        return False
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, IntegrityError):
            return False
        if isinstance(e, (DBAPIError, PendingRollbackError)):
            return True
        e = e.__cause__ or e.__context__
    return False


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
