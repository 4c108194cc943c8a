"""Which exceptions a client should simply retry."""

from __future__ import annotations

import sqlite3

# The messages SQLite uses for a lock it could not get in time.
_SQLITE_BUSY_CODES = frozenset({5, 517})  # SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT
_SQLITE_BUSY_MESSAGES = ("database is locked", "database table is locked")


def _is_sqlite_busy(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code in _SQLITE_BUSY_CODES:
        return True
    message = str(exc).lower()
    return any(text in message for text in _SQLITE_BUSY_MESSAGES)


def is_client_retryable_exception(exc: Exception) -> bool:
    """True when ``exc`` is transient database trouble a client should retry.

    SQLite busy/locked errors are retryable, other SQLite operational errors are not;
    any other DBAPI error wrapped by SQLAlchemy (a dropped PostgreSQL connection, a
    cancelled query) is retryable, and so is SQLAlchemy's ``InvalidRequestError``.
    """
    # Imported here so that importing the server module stays cheap.
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.DBAPIError):
        original = exc.orig
        if isinstance(original, sqlite3.OperationalError):
            return _is_sqlite_busy(original)
        if isinstance(original, sqlite3.Error):
            return False
        return not isinstance(
            exc, sa_exc.IntegrityError | sa_exc.DataError | sa_exc.ProgrammingError
        )
    if isinstance(exc, sa_exc.InvalidRequestError):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return _is_sqlite_busy(exc)
    return False
