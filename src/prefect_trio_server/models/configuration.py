"""Server configuration stored in the database: one JSON value per key."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy import delete as sql_delete

from ..database.dialects import insert_for
from ..database.tables import configuration
from ..errors import ObjectNotFoundError

#: The key of the server's default result storage.
RESULT_STORAGE = "server_default_result_storage"


def read(connection: Connection, key: str) -> dict[str, Any] | None:
    value = connection.execute(
        select(configuration.c.value).where(configuration.c.key == key)
    ).scalar()
    return value if isinstance(value, dict) else None


def write(connection: Connection, key: str, value: dict[str, Any], *, now: dt.datetime) -> None:
    insert = insert_for(connection)
    statement = insert(configuration).values(
        id=uuid.uuid4(), created=now, updated=now, key=key, value=value
    )
    statement = statement.on_conflict_do_update(
        index_elements=[configuration.c.key],
        set_={"value": statement.excluded.value, "updated": statement.excluded.updated},
    )
    connection.execute(statement)


def delete(connection: Connection, key: str) -> None:
    connection.execute(sql_delete(configuration).where(configuration.c.key == key))


def set_result_storage(
    connection: Connection, block_id: uuid.UUID | None, value: dict[str, Any], *, now: dt.datetime
) -> None:
    """Record the default result storage block (which must exist)."""
    if block_id is not None:
        # Block documents are not stored by this server yet: no block id can exist.
        raise ObjectNotFoundError(f"Block document {block_id} not found")
    write(connection, RESULT_STORAGE, value, now=now)
