"""Logs: batches written by clients, read back through filters.

Logs name their flow and task runs without foreign keys (they may arrive before the runs do,
or outlive them), so a batch is stored as sent; nothing about it is checked against runs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import Connection, Select, insert, select

from ..database.filters.logs import log_filter_clause, log_order_by
from ..database.json_rows import JsonObject, page_rows
from ..database.page_statements import PageStatements, filter_key, page_key
from ..database.tables import log
from ..schemas.actions import LogCreate
from ..schemas.core import Log
from ..schemas.filters_task_runs import LogFilter
from ..schemas.sorting import LogSort

__all__ = ["INSERT_CHUNK_ROWS", "create_logs", "read_logs"]

INSERT_CHUNK_ROWS = 1000
"""Rows per INSERT statement: 9 columns each stays far below the bound-parameter limits of
SQLite (32,766) and PostgreSQL (65,535), whatever the batch size."""


def _strip_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL characters; drop them rather than the log (as Prefect).
    return value.replace("\x00", "") if "\x00" in value else value


def create_logs(connection: Connection, logs: Sequence[LogCreate], *, now: dt.datetime) -> int:
    """Insert ``logs`` (multi-row INSERTs, in the caller's transaction); returns how many.

    The batch lands whole or not at all: it is one transaction however many statements.
    """
    rows = [
        {
            "id": uuid.uuid4(),
            "created": now,
            "updated": now,
            "name": _strip_nul(item.name),
            "level": item.level,
            "message": _strip_nul(item.message),
            "timestamp": item.timestamp,
            "flow_run_id": item.flow_run_id,
            "task_run_id": item.task_run_id,
        }
        for item in logs
    ]
    for start in range(0, len(rows), INSERT_CHUNK_ROWS):
        connection.execute(insert(log).values(rows[start : start + INSERT_CHUNK_ROWS]))
    return len(rows)


def read_logs(
    connection: Connection,
    *,
    log_filter: LogFilter | None,
    sort: LogSort,
    offset: int,
    limit: int,
) -> list[str]:
    """The page of logs that ``log_filter`` selects, in ``sort`` order, as the API's JSON."""
    dialect = connection.dialect

    def build() -> Select[str]:
        order_by = log_order_by(sort)
        where = log_filter_clause(log_filter, dialect.name)
        page = page_rows(log, log.c.id, where, order_by, offset=offset, limit=limit)
        return select(_LOG_OBJECT.expression(dialect)).select_from(page).order_by(*order_by)

    key = page_key(dialect.name, (filter_key(log_filter), sort), offset=offset, limit=limit)
    return list(connection.execute(_LOG_PAGES.get(key, build)).scalars())


_LOG_OBJECT = JsonObject.of_model(Log, log)
_LOG_PAGES = PageStatements()
