import sqlite3

import pytest
from sqlalchemy import exc as sa_exc

from prefect_trio_server.server import is_client_retryable_exception


def wrap(orig: Exception, cls=sa_exc.OperationalError) -> Exception:
    return cls("SELECT 1", {}, orig)


def busy(code: int, message: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(
    "exc",
    [
        wrap(sqlite3.OperationalError("database is locked")),
        wrap(busy(5, "busy")),  # SQLITE_BUSY
        wrap(busy(517, "snapshot")),  # SQLITE_BUSY_SNAPSHOT
        sqlite3.OperationalError("database is locked"),
        wrap(ConnectionResetError("server closed the connection unexpectedly")),
        wrap(RuntimeError("canceling statement due to user request"), sa_exc.DBAPIError),
        sa_exc.InvalidRequestError("Can't reconnect until invalid transaction is rolled back"),
    ],
)
def test_retryable(exc):
    assert is_client_retryable_exception(exc)


@pytest.mark.parametrize(
    "exc",
    [
        wrap(sqlite3.OperationalError("no such table: flow")),
        wrap(sqlite3.OperationalError("disk I/O error")),
        wrap(sqlite3.IntegrityError("UNIQUE constraint failed"), sa_exc.IntegrityError),
        ValueError("bad"),
        RuntimeError("database is locked, said nobody"),
    ],
)
def test_not_retryable(exc):
    assert not is_client_retryable_exception(exc)
