"""CSRF tokens: one per client id, refreshed on every request for one."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

from sqlalchemy import Connection, delete, select

from ..database.dialects import insert_for
from ..database.tables import csrf_token


def issue_token(
    connection: Connection, client: str, *, lifetime: dt.timedelta, now: dt.datetime
) -> dict[str, Any]:
    """Create or replace the token of ``client`` and return its row."""
    values = {
        "id": uuid.uuid4(),
        "created": now,
        "updated": now,
        "token": secrets.token_hex(32),
        "client": client,
        "expiration": now + lifetime,
    }
    insert = insert_for(connection)
    statement = insert(csrf_token).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[csrf_token.c.client],
        set_={
            "updated": statement.excluded.updated,
            "token": statement.excluded.token,
            "expiration": statement.excluded.expiration,
        },
    )
    connection.execute(statement)
    row = connection.execute(select(csrf_token).where(csrf_token.c.client == client)).one()
    return dict(row._mapping)


def is_valid_token(connection: Connection, client: str, token: str, *, now: dt.datetime) -> bool:
    """True when ``token`` is the unexpired token of ``client``."""
    row = connection.execute(
        select(csrf_token.c.token, csrf_token.c.expiration).where(csrf_token.c.client == client)
    ).one_or_none()
    if row is None or row.expiration <= now:
        return False
    return secrets.compare_digest(row.token, token)


def delete_expired_tokens(connection: Connection, *, now: dt.datetime) -> int:
    """Remove expired tokens; returns how many."""
    result = connection.execute(delete(csrf_token).where(csrf_token.c.expiration <= now))
    return result.rowcount


__all__ = ["delete_expired_tokens", "is_valid_token", "issue_token"]
