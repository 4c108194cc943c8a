"""The event outbox: server events staged with the change they describe, stored in batches.

A state change's ``prefect.flow-run.<State>`` event is written in the state's own
transaction, so the two land together or not at all, but not where events live: storing an
event proper means an ``events`` row, an ``event_resources`` row per resource and seven
indexes, about as many pages written to the database as the rest of the state change.
:func:`stage_server_event` writes it as one row of ``event_outbox`` (JSON text, no index
but the key) instead, checked as storing it would check it. :func:`move_staged_events`
later stores a batch of staged events, in the order they were staged, with
:func:`.events.record_server_event` (the same rows, ``received`` when they were staged),
and deletes them from the outbox, in one transaction: the hot index pages are written once
a batch instead of once a request.

Who moves them: ``events.persister``, in every server process, shortly after its writes
stage events, every minute in any case (events another process staged and could not move),
and once more on shutdown. Everything that reads events moves what is staged first, so a
client reads its own writes. A crash leaves staged events in the outbox, never loses them.

``Database.write`` learns that a transaction staged events from ``connection.info``
(:data:`..database.engine.STAGED_EVENTS`), and wakes the persister.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pydantic
from sqlalchemy import Connection, Row, delete, select
from sqlalchemy.exc import DBAPIError

from ..database.driver_writes import DriverWrite
from ..database.engine import STAGED_EVENTS
from ..database.json_text import json_text
from ..database.tables.logs_events import event_outbox
from ..errors import InvalidRequestError
from .events import check_server_event, record_server_event

__all__ = ["MOVE_BATCH", "has_staged_events", "move_staged_events", "stage_server_event"]

logger = logging.getLogger("prefect_trio_server.events")

MOVE_BATCH = 500
"""Staged events stored per transaction at most."""

_STAGE = DriverWrite(event_outbox.insert())

_Staged = Row[Any, Any, Any]
"""An outbox row: ``seq``, ``event`` (JSON text), ``received``."""


def stage_server_event(
    connection: Connection, event: Mapping[str, Any], *, now: dt.datetime
) -> None:
    """Stage ``event`` (as :func:`.events.record_server_event` takes it), received ``now``.

    An event that storing would refuse (over :class:`..schemas.events.Event`'s limits: more
    than 100 related resources, say) fails the change it belongs to with
    ``InvalidRequestError`` (422), never the mover.
    """
    try:
        check_server_event(event)
    except pydantic.ValidationError as exc:
        reasons = "; ".join(error["msg"] for error in exc.errors())
        raise InvalidRequestError(
            f"The event of this change cannot be stored ({reasons}): every tag of the run "
            "and of its flow is a related resource of its state-change events"
        ) from exc
    _STAGE.execute(connection, {"event": json_text(event), "received": now})
    connection.info[STAGED_EVENTS] = True


def has_staged_events(connection: Connection) -> bool:
    """Whether any event waits in the outbox."""
    return connection.execute(select(event_outbox.c.seq).limit(1)).first() is not None


def move_staged_events(connection: Connection, *, limit: int = MOVE_BATCH) -> int:
    """Store up to ``limit`` staged events, oldest first, and take them out of the outbox.

    Returns how many rows left the outbox. Storing is idempotent on event id, and on
    PostgreSQL the rows another server's mover holds are skipped, so movers may run at once.

    A row that cannot be stored as an event (not JSON, not the shape of a server event:
    written by another version, say) is taken out with an error that logs its text, so that
    it cannot hold up the events staged after it. A database error fails the whole batch,
    which stays staged for the next move.
    """
    query = (
        select(event_outbox.c.seq, event_outbox.c.event, event_outbox.c.received)
        .order_by(event_outbox.c.seq)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(connection.execute(query).all())
    if not rows:
        return 0
    taken = [row.seq for row in rows]
    while rows:
        unstorable = _store_or_find_unstorable(connection, rows)
        if unstorable is None:
            break
        rows.remove(unstorable)
    connection.execute(delete(event_outbox).where(event_outbox.c.seq.in_(taken)))
    return len(taken)


def _store_or_find_unstorable(connection: Connection, rows: Sequence[_Staged]) -> _Staged | None:
    """Store every row's event (all or none), or return the first row that cannot be."""
    with connection.begin_nested() as savepoint:
        for row in rows:
            try:
                record_server_event(connection, json.loads(row.event), now=row.received)
            except DBAPIError:
                raise
            except Exception:
                logger.error(
                    "dropped staged event %s: it cannot be stored as an event: %.2000s",
                    row.seq,
                    row.event,
                    exc_info=True,
                )
                savepoint.rollback()
                return row
    return None
