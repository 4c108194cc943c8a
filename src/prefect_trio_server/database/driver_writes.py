"""Prebuilt INSERTs and UPDATEs run straight on SQLite's driver.

A state change writes four rows (the state, the run, its event and the event's resources).
SQLAlchemy's execution of a cached statement costs about 40 us on top of the driver's own
30 us (events, execution context, result set-up): a tenth of a transaction's CPU, spent on
statements whose SQL never changes. :class:`DriverWrite` compiles its statement once per set
of parameter names, with SQLAlchemy, and then only runs the compiled statement's own bind
processors (UUIDs, timestamps, JSON) before handing the values to the sqlite3 cursor of the
connection's open transaction: the same SQL, with the same values, as SQLAlchemy would send.

Only what needs none of SQLAlchemy's execution-time work takes this path: a statement that
returns rows, or leaves a column to a Python-side default (``insert_prefetch``,
``update_prefetch``, ``postfetch``), runs through SQLAlchemy, and so does every statement on
PostgreSQL. Driver errors are wrapped as SQLAlchemy wraps them (an ``IntegrityError`` is
still a 409, a busy database a 503).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase

__all__ = ["DriverWrite"]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] if p is None else p(params[name]) for name, p in self.binds]


class DriverWrite:
    """An INSERT or UPDATE built once, run on the driver of SQLite connections.

    Parameters come by name, as to ``Connection.execute``; a list of them is an
    ``executemany`` (every row with the same names). :meth:`execute` returns the row count.
    """

    def __init__(self, statement: UpdateBase) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, ...], _Compiled | None] = {}

    def _compile(self, connection: Connection, names: tuple[str, ...]) -> _Compiled | None:
        compiled: Any = self.statement.compile(dialect=connection.dialect, column_keys=names)
        try:
            return self._driver_form(compiled, names)
        except AttributeError:
            # The compiled statement's attributes read here are SQLAlchemy's own, not its
            # public API: should a release rename them, writes take SQLAlchemy's path.
            return None

    @staticmethod
    def _driver_form(compiled: Any, names: tuple[str, ...]) -> _Compiled | None:
        positions: Sequence[str] | None = compiled.positiontup
        if positions is None or not set(positions) <= set(names):
            return None
        if (
            compiled.returning
            or compiled.insert_prefetch
            or compiled.update_prefetch
            or compiled.postfetch
        ):
            return None
        processors = compiled._bind_processors
        return _Compiled(compiled.string, tuple((name, processors.get(name)) for name in positions))

    def _execute_with_sqlalchemy(
        self, connection: Connection, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> int:
        # An INSERT's row count is kept only when asked for (psycopg's would read -1).
        result = connection.execute(
            self.statement, params, execution_options={"preserve_rowcount": True}
        )
        return int(result.rowcount)

    def execute(
        self, connection: Connection, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> int:
        rows = [params] if isinstance(params, Mapping) else params
        if connection.dialect.name != "sqlite" or not rows:
            return self._execute_with_sqlalchemy(connection, params)
        # SQLAlchemy compiles for the sorted parameter names: so does this, for the same SQL.
        names = tuple(sorted(rows[0]))
        if names in self._compiled:
            compiled = self._compiled[names]
        else:
            compiled = self._compiled[names] = self._compile(connection, names)
        if compiled is None:
            return self._execute_with_sqlalchemy(connection, params)
        values = [compiled.values(row) for row in rows]
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if len(values) == 1:
                cursor.execute(compiled.sql, values[0])
            else:
                cursor.executemany(compiled.sql, values)
            return int(cursor.rowcount)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(compiled.sql, values, exc, sqlite3.Error) from exc
        finally:
            cursor.close()
