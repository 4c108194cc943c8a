"""Flow run inputs: keyed values sent to a (paused) flow run."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Connection, delete, select

from ..database.tables import flow_run, flow_run_input
from ..errors import ObjectAlreadyExistsError, ObjectNotFoundError

Row = dict[str, Any]


def _require_run(connection: Connection, run_id: uuid.UUID) -> None:
    if connection.execute(select(flow_run.c.id).where(flow_run.c.id == run_id)).first() is None:
        raise ObjectNotFoundError("Flow run not found")


def create_input(
    connection: Connection,
    run_id: uuid.UUID,
    *,
    key: str,
    value: str,
    sender: str | None,
    now: dt.datetime,
) -> Row:
    _require_run(connection, run_id)
    exists = connection.execute(
        select(flow_run_input.c.id).where(
            flow_run_input.c.flow_run_id == run_id, flow_run_input.c.key == key
        )
    ).first()
    if exists is not None:
        raise ObjectAlreadyExistsError("A flow run input with this key already exists.")
    values = {
        "id": uuid.uuid4(),
        "created": now,
        "updated": now,
        "flow_run_id": run_id,
        "key": key,
        "value": value,
        "sender": sender,
    }
    connection.execute(flow_run_input.insert().values(**values))
    return values


def read_input(connection: Connection, run_id: uuid.UUID, key: str) -> Row:
    row = (
        connection.execute(
            select(flow_run_input).where(
                flow_run_input.c.flow_run_id == run_id, flow_run_input.c.key == key
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise ObjectNotFoundError("Flow run input not found")
    return dict(row)


def filter_inputs(
    connection: Connection,
    run_id: uuid.UUID,
    *,
    prefix: str,
    exclude_keys: list[str],
    limit: int,
) -> list[Row]:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    statement = (
        select(flow_run_input)
        .where(
            flow_run_input.c.flow_run_id == run_id,
            flow_run_input.c.key.like(f"{escaped}%", escape="\\"),
        )
        .order_by(flow_run_input.c.created, flow_run_input.c.id)
        .limit(limit)
    )
    if exclude_keys:
        statement = statement.where(flow_run_input.c.key.not_in(exclude_keys))
    return [dict(row) for row in connection.execute(statement).mappings()]


def delete_input(connection: Connection, run_id: uuid.UUID, key: str) -> None:
    result = connection.execute(
        delete(flow_run_input).where(
            flow_run_input.c.flow_run_id == run_id, flow_run_input.c.key == key
        )
    )
    if result.rowcount == 0:
        raise ObjectNotFoundError("Flow run input not found")
