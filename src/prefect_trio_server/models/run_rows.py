"""Run rows and their states, read and written by statements built once.

Flow runs and task runs keep the same shape: a run table whose ``state_id`` points at the
current row of its state table. :class:`RunRows` holds, for one such pair, every statement the
hot paths need, built at import with their values as bound parameters: SQLAlchemy then
compiles each once and reuses it, instead of building, hashing and looking up a new statement
per call (about 45 us against 200 us per statement on SQLite).

The run and its current state come back from one query (an outer join), locked with
``FOR UPDATE OF <run>`` on PostgreSQL when a state change is to follow; SQLite's writer is
alone by construction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Select, Table, bindparam, select

from ..database.driver_writes import DriverWrite
from ..errors import ObjectNotFoundError

Row = dict[str, Any]

_STATE_PREFIX = "current_state__"


class RunRows:
    """Prebuilt statements for one run table and its state table."""

    def __init__(self, runs: Table, states: Table, *, missing: str) -> None:
        self.runs = runs
        self.states = states
        self.missing = missing
        by_id = runs.c.id == bindparam("run_id")
        self._load = select(runs).where(by_id)
        self.runs_with_state = runs.outerjoin(states, states.c.id == runs.c.state_id)
        """Each run with its current state (the state's columns null before the first)."""
        state_columns = [column.label(_STATE_PREFIX + column.name) for column in states.c]
        self._state_labels = state_columns
        self._select_with_state = select(runs, *state_columns).select_from(self.runs_with_state)
        with_state = self._select_with_state.where(by_id)
        self._load_with_state = with_state
        self._lock_with_state = with_state.with_for_update(of=runs)
        self._state_by_id = select(states).where(states.c.id == bindparam("state_id"))
        # The two writes of every state change skip SQLAlchemy's execution on SQLite.
        self._insert_state = DriverWrite(states.insert())
        self._update_run = DriverWrite(runs.update().where(by_id))
        self._run_columns = tuple(runs.c.keys())
        self._state_columns = tuple((_STATE_PREFIX + c.name, c.name) for c in states.c)

    def load(self, connection: Connection, run_id: uuid.UUID) -> Row:
        """The run row; ObjectNotFoundError when there is none."""
        row = connection.execute(self._load, {"run_id": run_id}).mappings().first()
        if row is None:
            raise ObjectNotFoundError(self.missing)
        return dict(row)

    def load_with_state(
        self, connection: Connection, run_id: uuid.UUID, *, for_update: bool = False
    ) -> tuple[Row, Row | None]:
        """The run row and its current state row (None before its first state), one query."""
        statement = self._lock_with_state if for_update else self._load_with_state
        row = connection.execute(statement, {"run_id": run_id}).mappings().first()
        if row is None:
            raise ObjectNotFoundError(self.missing)
        return self._split(row)

    def locked_with_state_and(
        self, table: Table, onclause: ColumnElement[bool], *columns: ColumnElement[Any]
    ) -> Select[Any]:
        """A locking run-and-state query that also reads ``columns`` of ``table``.

        ``table`` is outer-joined on ``onclause`` (give the columns labels of their own);
        only the run is locked. Build it once and run it with :meth:`load_with_state_and`:
        a row the transition needs anyway comes with the run instead of in a query of its own.
        """
        return (
            select(self.runs, *self._state_labels, *columns)
            .select_from(self.runs_with_state.outerjoin(table, onclause))
            .where(self.runs.c.id == bindparam("run_id"))
            .with_for_update(of=self.runs)
        )

    def load_with_state_and(
        self, connection: Connection, statement: Select[Any], run_id: uuid.UUID
    ) -> tuple[Row, Row | None, RowMapping]:
        """Run a :meth:`locked_with_state_and` query: the run, its state and the whole row."""
        row = connection.execute(statement, {"run_id": run_id}).mappings().first()
        if row is None:
            raise ObjectNotFoundError(self.missing)
        run, state = self._split(row)
        return run, state, row

    def _split(self, row: RowMapping) -> tuple[Row, Row | None]:
        run = {name: row[name] for name in self._run_columns}
        if row[_STATE_PREFIX + "id"] is None:
            return run, None
        return run, {name: row[label] for label, name in self._state_columns}

    def read_with_states(
        self,
        connection: Connection,
        where: ColumnElement[bool],
        order_by: Sequence[ColumnElement[Any]],
        *,
        offset: int,
        limit: int,
    ) -> list[tuple[Row, Row | None]]:
        """A page of runs with their current states, in one query."""
        statement = (
            self._select_with_state.where(where).order_by(*order_by).offset(offset).limit(limit)
        )
        return [self._split(row) for row in connection.execute(statement).mappings()]

    def current_state(self, connection: Connection, run: Mapping[str, Any]) -> Row | None:
        """The state row ``run`` points at (None before its first state)."""
        if run["state_id"] is None:
            return None
        row = connection.execute(self._state_by_id, {"state_id": run["state_id"]}).mappings()
        found = row.first()
        return dict(found) if found is not None else None

    def insert_state(self, connection: Connection, values: Mapping[str, Any]) -> None:
        self._insert_state.execute(connection, values)

    def update_run(
        self, connection: Connection, run_id: uuid.UUID, columns: Mapping[str, Any]
    ) -> None:
        """Set ``columns`` on the run (the same column names each call reuse one statement)."""
        self._update_run.execute(connection, {**columns, "run_id": run_id})
