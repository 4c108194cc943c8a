"""Storing events: the ``events`` and ``event_resources`` tables, and the task-run recorder.

:func:`record_events` is the one way in. It runs inside the caller's write transaction, so an
event is stored and its task run recorded together or not at all. It is idempotent on event
id: an event already stored (a client re-sending what it could not confirm, or a repeated
``POST /events``) is skipped whole, and so is a repeat of an id within one batch.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from ..database.dialects import insert_for
from ..database.tables.logs_events import event_resources, events
from ..schemas.events import Event, RelatedResource, Resource
from .task_run_recorder import record_task_run_events

__all__ = ["event_resource_rows", "event_row", "record_events"]

# Rows per INSERT statement: well below SQLite's limit on bound parameters.
_CHUNK = 200


def event_row(event: Event, *, received: dt.datetime, now: dt.datetime) -> dict[str, Any]:
    """The ``events`` row of ``event``."""
    return {
        "id": event.id,
        "created": now,
        "updated": now,
        "occurred": event.occurred,
        "event": event.event,
        "resource_id": event.resource.id,
        "resource": dict(event.resource.root),
        "related_resource_ids": [related.id for related in event.related],
        "related": [dict(related.root) for related in event.related],
        "payload": event.payload,
        "received": received,
        "recorded": now,
        "follows": event.follows,
    }


def _labels_without_id_and_role(resource: Resource) -> dict[str, str]:
    labels = dict(resource.root)
    labels.pop("prefect.resource.id", None)
    labels.pop("prefect.resource.role", None)
    return labels


def event_resource_rows(event: Event, *, now: dt.datetime) -> list[dict[str, Any]]:
    """The ``event_resources`` rows of ``event``: its resource (role ``""``) and related ones."""
    resources: list[Resource] = [event.resource, *event.related]
    return [
        {
            "id": uuid.uuid4(),
            "created": now,
            "updated": now,
            "occurred": event.occurred,
            "resource_id": resource.id,
            "resource_role": resource.role if isinstance(resource, RelatedResource) else "",
            "resource": _labels_without_id_and_role(resource),
            "event_id": event.id,
        }
        for resource in resources
    ]


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]


def record_events(
    connection: Connection,
    batch: Iterable[Event],
    *,
    now: dt.datetime,
    received: dt.datetime | None = None,
) -> list[Event]:
    """Store ``batch`` and record the task runs its events describe; return the new events.

    ``received`` (default ``now``) is when the server received the batch.
    """
    unique: dict[uuid.UUID, Event] = {}
    for event in batch:
        unique.setdefault(event.id, event)
    if not unique:
        return []
    insert = insert_for(connection)
    received_at = received if received is not None else now
    rows = [event_row(event, received=received_at, now=now) for event in unique.values()]
    inserted: set[uuid.UUID] = set()
    statement = insert(events).on_conflict_do_nothing().returning(events.c.id)
    for chunk in _chunks(rows):
        inserted.update(connection.execute(statement, list(chunk)).scalars())
    new_events = [event for event in unique.values() if event.id in inserted]
    resource_rows = [row for event in new_events for row in event_resource_rows(event, now=now)]
    for chunk in _chunks(resource_rows):
        connection.execute(event_resources.insert(), list(chunk))
    record_task_run_events(connection, new_events, now=now)
    return new_events
