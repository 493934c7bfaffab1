"""Which storage errors are a lost connection (tried again while the database comes back) and which
are a mistake in what was sent (fail at once). The exceptions are SQLAlchemy's and Optuna's own,
chained as they are when a PostgreSQL restart cuts a query (see test_distributed's restart test)."""

from __future__ import annotations

import pytest
from optuna.exceptions import StorageInternalError
from sqlalchemy.exc import IntegrityError, OperationalError, PendingRollbackError

from sweepnn.sweep.storage import transient


def _chained(outer: BaseException, cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as c:
            raise outer from c
    except BaseException as e:
        return e


def _in_handling(outer: BaseException, context: BaseException) -> BaseException:
    try:
        try:
            raise context
        except BaseException:
            raise outer  # noqa: B904  (an implicit context, as SQLAlchemy chains it)
    except BaseException as e:
        return e


LOST = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
DUPLICATE = IntegrityError("INSERT", {}, Exception("duplicate key"))


@pytest.mark.parametrize(
    "error, expected",
    [
        (LOST, True),
        (_chained(StorageInternalError("commit failed"), LOST), True),
        # Optuna's fallback query on the same session after a restart
        (_chained(StorageInternalError("commit failed"), PendingRollbackError("rolled back")), True),
        (_in_handling(PendingRollbackError("rolled back"), LOST), True),
        (DUPLICATE, False),
        (_chained(StorageInternalError("commit failed"), DUPLICATE), False),
        (StorageInternalError("too long"), False),
        (ValueError("a bug"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_lost_connections_are_tried_again_and_mistakes_are_not(error, expected):
    assert transient(error) is expected
